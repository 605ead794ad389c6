"""The follow-up re-read of stored posts (`crawler.run.recheck`), for the ledger's open cases.

Fetches each post's page again: a 404/410 marks the post gone; an article whose extracted text
changed is updated (text, updated_at) and reported edited; a forum reply is looked up by its anchor
on its page, and the thread's pages from there on are read for replies not stored yet, which go
through the normal pipelines as new posts. One verdict per post id lands in `self.results`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response
from sqlalchemy import select

from crawler.normalise import clean_text
from crawler.pages import extract_article
from crawler.threads import thread_page
from yuqing.records import Post
from yuqing.storage import PostRow

from .forum import ForumSpider

GONE = (404, 410)


class RecheckSpider(ForumSpider):
    kind = "recheck"
    handle_statuses = [304, 404, 410]

    def __init__(self, job: Any, post_ids: list[int], **kwargs: Any):
        super().__init__(job, **kwargs)
        self.post_ids = post_ids
        self.results: dict[str, str] = {}
        self.new_replies: Counter[str] = Counter()
        self.updates: dict[int, str] = {}  # post id -> new text
        self.gone: set[int] = set()
        self.anchors: dict[int, str] = {}  # reply post id -> its anchor on the page

    async def start(self) -> Any:
        with self.job.db.session() as s:
            rows = list(s.execute(select(PostRow.id, PostRow.url, PostRow.kind, PostRow.text, PostRow.thread_url, PostRow.extra).where(PostRow.id.in_(self.post_ids))))
        pages: dict[str, list[tuple[int, str, str, str | None]]] = {}
        for pid, url, kind, text, thread_url, extra in rows:
            page_url = (extra or {}).get("page_url") or url.split("#", 1)[0]
            anchor = url.split("#", 1)[1] if "#" in url and kind == "reply" else ""
            pages.setdefault(page_url, []).append((pid, kind, text, thread_url))
            self.results[str(pid)] = "error"  # until a page answers
            self.anchors[pid] = anchor
        for page_url, posts in pages.items():
            meta = {"posts": posts, "handle_httpstatus_list": self.handle_statuses}
            if posts[0][1] == "reply":
                meta.update(thread_url=posts[0][3] or page_url, page=1, floor_base=-1)
            yield scrapy.Request(page_url, callback=self.parse_again, errback=self.failed, meta=meta, dont_filter=True)

    def on_reply(self, thread_url: str) -> None:
        self.new_replies[thread_url] += 1

    def parse_again(self, response: Response) -> Iterator[Post | scrapy.Request]:
        posts = response.meta["posts"]
        if response.status in GONE:
            for pid, *_ in posts:
                self.results[str(pid)] = "gone"
                self.gone.add(pid)
            return
        if posts[0][1] == "reply":
            yield from self._thread_again(response, posts)
            return
        now = datetime.now(UTC)
        html = self.text_of(response)
        article = extract_article(html, response.url, now=now, tz=self.job.settings.tz, selectors=self.source.selectors or None)
        for pid, kind, old_text, _thread in posts:
            new_text = clean_text(article.text)
            if kind == "article" and new_text and new_text != old_text:
                self.results[str(pid)] = "edited"
                self.updates[pid] = new_text
            else:
                # a feed item's stored text is the feed's, not the page's: only "gone" can be told
                self.results[str(pid)] = "unchanged"

    def _thread_again(self, response: Response, posts: list[Any]) -> Iterator[Post | scrapy.Request]:
        sel = self.selector(response)
        found = thread_page(sel, self.source.selectors)
        by_anchor = {r.anchor: r for r in found.replies}
        thread_url = response.meta["thread_url"]
        for pid, _kind, old_text, _thread in posts:
            reply = by_anchor.get(self.anchors.get(pid, ""))
            if reply is None:
                self.results[str(pid)] = "gone"  # the page is there, the reply is not: deleted
                self.gone.add(pid)
            elif clean_text(reply.text) != old_text:
                self.results[str(pid)] = "edited"
                self.updates[pid] = clean_text(reply.text)
            else:
                self.results[str(pid)] = f"thread:{thread_url}"  # settled once new replies are counted
        # New replies on this page and the pages after it go through the pipelines as posts.
        yield from self.parse_thread(response, sel=sel)

    def closed(self, reason: str) -> None:
        super().closed(reason)
        now = datetime.now(UTC)
        for key, value in list(self.results.items()):
            if value.startswith("thread:"):
                n = self.new_replies.get(value[len("thread:"):], 0)
                self.results[key] = f"new_replies:{n}" if n else "unchanged"
        with self.job.db.session() as s:
            for pid in self.gone:
                row = s.get(PostRow, pid)
                if row is not None and row.gone_at is None:
                    row.gone_at = now
            for pid, text in self.updates.items():
                row = s.get(PostRow, pid)
                if row is not None:
                    row.text, row.updated_at = text, now

