"""The typed values that flow between stages: page -> Post -> Match -> Event -> Delivery / Case.

Frozen dataclasses, never loose dicts. Storage rows (`yuqing.storage`) are built from and read back
into these; Scrapy items are `Post`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Post:
    """One piece of public text: a news article, a feed item or one forum reply."""

    source_id: str
    url: str  # canonical URL (forum replies carry a #anchor)
    title: str
    text: str  # as written (Traditional stays Traditional); matching folds it
    fetched_at: datetime  # aware, UTC
    published_at: datetime | None = None  # aware, UTC; None when the page gives no date
    author: str | None = None
    kind: str = "article"  # article | feed_item | reply
    thread_url: str | None = None  # forum: the thread's first page
    thread_title: str | None = None
    floor: int | None = None  # forum: 1 is the opening post
    content_hash: str = ""  # of the normalised body, to recognise exact copies under other URLs
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Hit:
    """A rule word found in a post: what was found and where, in the original text."""

    word: str  # the rule's word
    found: str  # the text as it stands in the post
    field: str  # "title" or "text"
    start: int
    end: int


@dataclass(frozen=True)
class Match:
    """A post that meets a topic's rule, for one unit watching its source."""

    post_id: int
    unit_id: str
    topic: str
    rule_id: str
    severity: str  # low | medium | high
    score: float
    negative: bool
    negativity: float
    hits: tuple[Hit, ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class CrawlSummary:
    """What one crawl of one source did, as the crawl process reports it."""

    source_id: str
    status: str  # ok | failed | timeout | skipped
    requests: int = 0
    pages: int = 0
    new_posts: int = 0
    new_matches: int = 0
    errors: int = 0
    error: str | None = None
    duration: float = 0.0
