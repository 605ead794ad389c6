"""What one crawl job knows before it fetches anything, shared by its spider, middlewares and pipelines.

Built once by `crawler.job` from the database: the URLs this source already stored (never fetched
again), the validators of its list pages and feeds (conditional GET), and where the forum threads it
knows stopped. Components reach it as `crawler.spider.job`. Errors worth showing the operator are
collected here too, so the job's summary can name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from yuqing.config import Settings, SourceSettings
from yuqing.storage import Database, HttpCache, PostRow


@dataclass(frozen=True)
class Validators:
    """A list page's or feed's cache validators from the last finished crawl."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass
class JobContext:
    settings: Settings
    source: SourceSettings
    db: Database
    now: datetime  # the job's fetch time (UTC), also the reference for relative dates
    known_urls: set[str] = field(default_factory=set)
    validators: dict[str, Validators] = field(default_factory=dict)
    # forum: thread URL -> (page number, URL) of the last page stored, where new replies appear
    thread_last_page: dict[str, tuple[int, str]] = field(default_factory=dict)
    new_validators: dict[str, Validators] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    robots_unavailable: str | None = None
    recheck: bool = False

    def note_error(self, message: str) -> None:
        if len(self.errors) < 50:  # a summary, not a log
            self.errors.append(message)


def load_context(settings: Settings, source: SourceSettings, db: Database, now: datetime) -> JobContext:
    ctx = JobContext(settings=settings, source=source, db=db, now=now)
    with db.session() as s:
        rows = s.execute(
            select(PostRow.url, PostRow.thread_url, PostRow.extra).where(PostRow.source_id == source.id)
        )
        for url, thread_url, extra in rows:
            ctx.known_urls.add(url)
            if thread_url:
                ctx.known_urls.add(thread_url)
                page_url = (extra or {}).get("page_url")
                if page_url:
                    ctx.known_urls.add(page_url)
                    page = (int((extra or {}).get("page") or 1), page_url)
                    ctx.thread_last_page[thread_url] = max(ctx.thread_last_page.get(thread_url, page), page)
        for c in s.scalars(select(HttpCache).where(HttpCache.source_id == source.id)):
            ctx.validators[c.url] = Validators(c.etag, c.last_modified, c.body_hash)
    return ctx


def save_validators(ctx: JobContext) -> None:
    """Keep the validators seen in this (finished) crawl for the next one's conditional GETs."""
    if not ctx.new_validators:
        return
    with ctx.db.session() as s:
        for url, v in ctx.new_validators.items():
            row = s.get(HttpCache, url)
            if row is None:
                row = HttpCache(url=url, source_id=ctx.source.id)
                s.add(row)
            row.etag, row.last_modified, row.body_hash = v.etag, v.last_modified, v.body_hash
            row.checked_at = ctx.now
