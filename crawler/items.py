"""The item a post becomes inside the pipelines: the spider's `Post` plus what each stage learnt.

Spiders yield `yuqing.records.Post`; `NormalisePipeline` wraps it in a `Candidate`; match fills
`analysis`, store writes the post and its matches (and finds, per batch, the earlier post a body
copies). Frozen: each stage returns a new value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yuqing.records import Post


@dataclass(frozen=True)
class Candidate:
    post: Post
    analysis: Any = None  # rules.Analysis once matched (typed loosely: rules is imported lazily)
