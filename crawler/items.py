"""The item a post becomes inside the pipelines: the spider's `Post` plus what each stage learnt.

Spiders yield `yuqing.records.Post`; `NormalisePipeline` wraps it in a `Candidate`; dedupe fills
`duplicate_of`, match fills `analysis`, store writes both. Frozen: each stage returns a new value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yuqing.records import Post


@dataclass(frozen=True)
class Candidate:
    post: Post
    duplicate_of: int | None = None  # an earlier post with exactly this body, under another URL
    analysis: Any = None  # rules.Analysis once matched (typed loosely: rules is imported lazily)
