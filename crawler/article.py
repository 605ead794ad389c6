"""`Article`: what an article page says, as the extractor reads it.

Its own module, apart from `crawler.extract`: extraction workers send Articles back to the crawl
process pickled, and unpickling imports the class's module. Here that costs nothing; from
`crawler.extract` it would import the extractor and trafilatura (some 0.2 s of CPU) into a crawl
process that never extracts a page itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Article:
    """What a page says: its headline, its story as lines of text, when and by whom."""

    title: str
    text: str
    published_at: datetime | None
    author: str | None
