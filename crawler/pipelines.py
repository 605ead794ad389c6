"""Item pipelines, in order (`crawler.scrapy_settings.ITEM_PIPELINES`):
normalise (100) -> dedupe (200) -> match (300) -> store (400).

They transform, drop or store; none sends anything (delivery is `alerts/`' job, later, from the
stored rows). Each is built through `from_crawler` and reads the job's context from the spider.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yuqing.matching import units_for
from yuqing.records import Post
from yuqing.storage import MatchRow, PostRow, utcnow

from .context import JobContext
from .items import Candidate
from .normalise import canonical_url, clean_text, clean_title, content_hash

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)


def _job(crawler: Crawler) -> JobContext:
    job = getattr(crawler.spider, "job", None)
    if job is None:
        raise RuntimeError("yuqing pipelines run only inside a crawl job (python -m crawler.job)")
    return job


class _Stage:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.job = _job(crawler)
        assert crawler.stats is not None
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)


class NormalisePipeline(_Stage):
    """Post -> Candidate: clean text and title, canonical URL, content hash."""

    def process_item(self, item: Any) -> Candidate:
        if not isinstance(item, Post):
            raise DropItem(f"not a Post: {type(item).__name__}")
        text = clean_text(item.text)
        post = dataclasses.replace(
            item,
            # a reply's anchor, or a link-less feed item's id, is what tells it apart
            url=canonical_url(item.url, keep_fragment=item.kind in ("reply", "feed_item")),
            title=clean_title(item.title),
            text=text,
            author=clean_title(item.author) if item.author else None,
            content_hash=content_hash(text),
        )
        return Candidate(post)


class DedupePipeline(_Stage):
    """Drop a post whose URL is stored; point an exact copy of a stored body at its original."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.seen: set[str] = set()

    def process_item(self, item: Candidate) -> Candidate:
        url = item.post.url
        if url in self.seen:
            raise DropItem(f"already seen in this crawl: {url}")
        self.seen.add(url)
        with self.job.db.session() as s:
            if s.scalar(select(PostRow.id).where(PostRow.url == url)) is not None:
                raise DropItem(f"already stored: {url}")
            original = None
            if item.post.content_hash:
                original = s.scalar(
                    select(PostRow.id)
                    .where(PostRow.content_hash == item.post.content_hash, PostRow.duplicate_of.is_(None))
                    .order_by(PostRow.id)
                    .limit(1)
                )
        if original is not None:
            self.stats.inc_value("yuqing/duplicates")
        return dataclasses.replace(item, duplicate_of=original)


class MatchPipeline(_Stage):
    """Run the rules on title and text; the verdict travels with the item to the store."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        try:
            from rules import load_ruleset  # type: ignore[attr-defined]
        except ImportError as exc:
            # Storing posts unmatched would silently lose alerts: refuse to crawl instead.
            raise RuntimeError("the rules engine is not available (rules.load_ruleset): cannot match posts") from exc
        self.ruleset = load_ruleset(self.job.settings)

    def process_item(self, item: Candidate) -> Candidate:
        analysis = self.ruleset.analyse(item.post.title, item.post.text)
        return dataclasses.replace(item, analysis=analysis)


class StorePipeline(_Stage):
    """Write the post (unique by canonical URL) and one `matches` row per topic and watching unit."""

    def process_item(self, item: Candidate) -> Candidate:
        post = item.post
        now = utcnow()
        extra = dict(post.extra)
        try:
            with self.job.db.session() as s:
                row = PostRow(
                    source_id=post.source_id,
                    url=post.url,
                    title=post.title,
                    text=post.text,
                    published_at=post.published_at,
                    author=post.author,
                    fetched_at=post.fetched_at,
                    kind=post.kind,
                    thread_url=post.thread_url,
                    thread_title=post.thread_title,
                    floor=post.floor,
                    content_hash=post.content_hash,
                    duplicate_of=item.duplicate_of,
                    extra=extra,
                )
                s.add(row)
                s.flush()
                matches = 0
                analysis = item.analysis
                for tm in getattr(analysis, "topics", ()):
                    for unit in units_for(self.job.settings, post.source_id, tm.topic):
                        s.add(
                            MatchRow(
                                post_id=row.id,
                                unit_id=unit,
                                topic=tm.topic,
                                rule_id=tm.rule_id,
                                severity=tm.severity,
                                score=float(tm.score),
                                negative=bool(analysis.negative),
                                negativity=float(analysis.negativity),
                                hits=[asdict(h) for h in tm.hits],
                                created_at=now,
                            )
                        )
                        matches += 1
        except IntegrityError:
            raise DropItem(f"stored meanwhile by another crawl: {post.url}") from None
        self.job.known_urls.add(post.url)
        self.stats.inc_value("yuqing/new_posts")
        self.stats.inc_value("yuqing/new_matches", matches)
        return item
