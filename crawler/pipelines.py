"""Item pipelines, in order (`crawler.scrapy_settings.ITEM_PIPELINES`):
normalise (100) -> dedupe (200) -> match (300) -> store (400).

They transform, drop or store; none sends anything (delivery is `alerts/`' job, later, from the
stored rows). Each is built through `from_crawler` and reads the job's context from the spider.
The store writes in batches and does the database side of deduplication there, one query per
batch (see `StorePipeline`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

from scrapy.exceptions import DropItem
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
    """Drop a post already seen in this crawl. Against the database (a URL already stored, an exact
    copy of a stored body under another URL) the store stage checks each batch with one query
    each, rather than two queries per post here."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.seen: set[str] = set()

    def process_item(self, item: Candidate) -> Candidate:
        url = item.post.url
        if url in self.seen:
            raise DropItem(f"already seen in this crawl: {url}")
        self.seen.add(url)
        return item


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

    def open_spider(self) -> None:
        # The rule set's jieba dictionary is built for the first post that needs word boundaries:
        # in a crawl with extraction workers, while they start instead (`while_workers_start`).
        extractor = getattr(self.crawler.spider, "extractor", None)
        if extractor is not None:
            extractor.while_workers_start(self.ruleset.prepare)

    def process_item(self, item: Candidate) -> Candidate:
        analysis = self.ruleset.analyse(item.post.title, item.post.text)
        for w in analysis.withdrawn:
            # (rare: a post a rule matched that the topic confirmation model found unlikely to be on
            # the topic; `yuqing rules test` explains it, `rules.topic_model: false` turns it off)
            log.info("topic model withdrew %s (rule %s, probability %.3f) from %s", w.topic, w.rule_id, w.probability, item.post.url)
        return Candidate(item.post, analysis)


class StorePipeline(_Stage):
    """Write the post (unique by canonical URL) and one `matches` row per topic and watching unit.

    Posts are written in batches, one transaction per `BATCH_POSTS` posts or `BATCH_SECONDS`
    seconds (whichever comes first, checked as posts arrive) and at the end of the crawl: a
    transaction per post was a large part of the crawl process's time per page. Nothing is lost
    on a crash: a post not yet written has no row, so its URL is not known and the next crawl
    fetches it again. Counts (`yuqing/new_posts`, `yuqing/new_matches`) are of written posts only.
    """

    BATCH_POSTS = 50
    BATCH_SECONDS = 2.0

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.pending: list[Candidate] = []
        self.since = 0.0  # monotonic time of the oldest pending post

    def process_item(self, item: Candidate) -> Candidate:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(item)
        if len(self.pending) >= self.BATCH_POSTS or time.monotonic() - self.since >= self.BATCH_SECONDS:
            self.flush()
        return item

    def close_spider(self) -> None:
        self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            with self.job.db.session() as s:
                written = self._write(s, batch)
        except IntegrityError:
            # Another crawl stored one of these URLs meanwhile: write them one by one, skipping it.
            written = []
            for item in batch:
                try:
                    with self.job.db.session() as s:
                        one = self._write(s, [item])
                    written += one
                except IntegrityError:
                    log.info("stored meanwhile by another crawl: %s", item.post.url)
                    self.stats.inc_value("yuqing/stored_meanwhile")
        if not written:
            return
        for item, _matches, _copy in written:
            self.job.known_urls.add(item.post.url)
        # Counted once per batch: Scrapy's stats collector costs a few microseconds a call.
        self.stats.inc_value("yuqing/new_posts", len(written))
        self.stats.inc_value("yuqing/new_matches", sum(matches for _item, matches, _copy in written))
        copies = sum(1 for _item, _matches, copy in written if copy)
        if copies:
            self.stats.inc_value("yuqing/duplicates", copies)

    def _write(self, s: Session, batch: list[Candidate]) -> list[tuple[Candidate, int, bool]]:
        """Insert the batch's new posts and their matches; (item, matches written, is a copy) each.

        Plain INSERTs of the tables (one for the posts, their ids returned in order, one for the
        matches) rather than ORM objects flushed by the unit of work: the same rows for half the
        CPU."""
        now = utcnow()
        stored = set(s.scalars(select(PostRow.url).where(PostRow.url.in_([i.post.url for i in batch]))))
        for item in batch:
            if item.post.url in stored:
                log.info("already stored: %s", item.post.url)
                self.stats.inc_value("yuqing/already_stored")
        batch = [item for item in batch if item.post.url not in stored]
        if not batch:
            return []
        hashes = {item.post.content_hash for item in batch if item.post.content_hash}
        # The earliest stored original of each body (a post whose body is not itself a copy).
        originals: dict[str, int] = {}
        if hashes:
            query = (
                select(PostRow.content_hash, func.min(PostRow.id))
                .where(PostRow.content_hash.in_(hashes), PostRow.duplicate_of.is_(None))
                .group_by(PostRow.content_hash)
            )
            originals = {h: i for h, i in s.execute(query)}
        duplicate_of: list[int | None] = [originals.get(item.post.content_hash) for item in batch]
        insert_posts = insert(_POSTS).returning(_POSTS.c.id, sort_by_parameter_order=True)
        rows = [_row(item.post, dup) for item, dup in zip(batch, duplicate_of, strict=True)]
        ids: list[int] = list(s.execute(insert_posts, rows).scalars())
        # Earlier batches are committed, so the query above found their originals; within this
        # batch, the first of several copies is the original of the others.
        later_copies: list[dict[str, int]] = []
        for n, (item, post_id) in enumerate(zip(batch, ids, strict=True)):
            content = item.post.content_hash
            if not content or duplicate_of[n] is not None:
                continue
            original = originals.setdefault(content, post_id)
            if original != post_id:
                duplicate_of[n] = original
                later_copies.append({"row_id": post_id, "original": original})
        if later_copies:
            s.execute(
                update(_POSTS).where(_POSTS.c.id == bindparam("row_id")).values(duplicate_of=bindparam("original")),
                later_copies,
            )
        written = []
        match_rows: list[dict[str, Any]] = []
        for item, post_id, dup in zip(batch, ids, duplicate_of, strict=True):
            matches = 0
            analysis = item.analysis
            for tm in getattr(analysis, "topics", ()):
                for unit in units_for(self.job.settings, item.post.source_id, tm.topic):
                    match_rows.append(
                        {
                            "post_id": post_id,
                            "unit_id": unit,
                            "topic": tm.topic,
                            "rule_id": tm.rule_id,
                            "severity": tm.severity,
                            "score": float(tm.score),
                            "negative": bool(analysis.negative),
                            "negativity": float(analysis.negativity),
                            "hits": [asdict(h) for h in tm.hits],
                            "created_at": now,
                        }
                    )
                    matches += 1
            written.append((item, matches, dup is not None))
        if match_rows:
            s.execute(insert(_MATCHES), match_rows)
        return written


_POSTS = cast(Table, PostRow.__table__)
_MATCHES = cast(Table, MatchRow.__table__)


def _row(post: Post, duplicate_of: int | None) -> dict[str, Any]:
    return {
        "source_id": post.source_id,
        "url": post.url,
        "title": post.title,
        "text": post.text,
        "published_at": post.published_at,
        "author": post.author,
        "fetched_at": post.fetched_at,
        "kind": post.kind,
        "thread_url": post.thread_url,
        "thread_title": post.thread_title,
        "floor": post.floor,
        "content_hash": post.content_hash,
        "duplicate_of": duplicate_of,
        "extra": dict(post.extra),
    }
