"""`kind: forum`: board pages -> threads -> every reply as its own post.

Start URLs are boards (fetched conditionally). Each thread a board lists is read page by page; each
reply becomes a `reply` post with its author, time, floor, the thread's title and the page URL with
the reply's anchor. Board paging stops at a page whose threads are all known; a known thread is
re-read from the last page stored, where its new replies appear. Layout comes from the source's
selectors or the generic reader in `crawler.threads`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.normalise import canonical_url
from crawler.threads import ThreadPage, board_threads, parse_time, thread_page
from yuqing.records import Post

from .base import YuqingSpider


class ForumSpider(YuqingSpider):
    kind = "forum"

    async def start(self) -> Any:
        for url in self.source.start_urls:
            if self.take():
                yield self.list_request(canonical_url(url), self.parse_board, board_page=1)

    def thread_request(self, url: str, *, thread_url: str, page: int, floor_base: int, title: str = "") -> scrapy.Request:
        # Conditional like a list page: its validators let the next crawl ask "changed?" when the
        # thread is known and this is its last page.
        return self.list_request(url, self.parse_thread, thread_url=thread_url, page=page, floor_base=floor_base, thread_title=title)

    def parse_board(self, response: Response) -> Iterator[scrapy.Request | Post]:
        if self.unchanged(response):
            return
        sel = self.selector(response)
        threads = board_threads(sel, response.url, self.source.selectors, self.follow)
        if not threads:
            # A start URL that is itself a thread (no board around it) is read as one.
            yield from self.parse_thread(response, sel=sel)
            return
        fresh = 0
        for url in threads:
            if url == response.url:
                continue
            last = self.job.thread_last_page.get(url)
            if last is not None:
                # Known thread: new replies land on its last page (and the pages after it).
                page, page_url = last
                if self.take():
                    # fetched conditionally: an unchanged last page costs a 304, not a parse
                    yield self.thread_request(page_url, thread_url=url, page=page, floor_base=-1).replace(dont_filter=True)
                continue
            if self.known(url):
                continue
            fresh += 1
            if self.take():
                self.job.known_urls.add(url)
                yield self.thread_request(url, thread_url=url, page=1, floor_base=0)
        nxt = self.next_page(sel, response.url) if fresh else None
        if nxt and nxt != response.url and self.take():
            yield self.list_request(nxt, self.parse_board, conditional=False, board_page=response.meta.get("board_page", 1) + 1)

    def parse_thread(self, response: Response, sel: Any = None) -> Iterator[scrapy.Request | Post]:
        if self.unchanged(response):
            return  # a known thread's last page, as it was: no new reply, no page after it
        sel = sel if sel is not None else self.selector(response)
        page_url = canonical_url(response.request.url if response.request is not None else response.url)
        thread_url = response.meta.get("thread_url") or page_url
        page = int(response.meta.get("page", 1))
        found: ThreadPage = thread_page(sel, self.source.selectors)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/articles")
        if not found.replies:
            self.crawler.stats.inc_value("yuqing/empty_extractions")
        title = found.title or response.meta.get("thread_title", "")
        yield from self.replies(found, title=title, thread_url=thread_url, page_url=page_url, page=page, floor_base=response.meta.get("floor_base", 0))
        nxt = self.next_page(sel, response.url)
        if nxt and nxt != page_url and nxt not in self.job.known_urls and self.take():
            self.job.known_urls.add(nxt)
            last_floor = max((r.floor or 0 for r in found.replies), default=0)
            base = max(last_floor, max(0, response.meta.get("floor_base", 0)) + len(found.replies))
            yield self.thread_request(nxt, thread_url=thread_url, page=page + 1, floor_base=base, title=title)

    def replies(self, found: ThreadPage, *, title: str, thread_url: str, page_url: str, page: int, floor_base: int) -> Iterator[Post]:
        now = self.fetch_time()
        tz = self.job.settings.tz
        for index, reply in enumerate(found.replies, start=1):
            url = f"{page_url}#{reply.anchor}"
            if self.known(url):
                continue
            self.job.known_urls.add(url)
            # floor_base -1: a known thread re-read from its last page, where sequence numbers are unknown
            floor = reply.floor if reply.floor is not None else (floor_base + index if floor_base >= 0 else None)
            when = parse_time(reply.time_text, now=now, tz=tz)
            self.on_reply(thread_url)
            yield Post(
                source_id=self.source.id,
                url=url,
                title=title,
                text=reply.text,
                fetched_at=now,
                published_at=when.astimezone(UTC) if when else None,
                author=reply.author,
                kind="reply",
                thread_url=thread_url,
                thread_title=title,
                floor=floor,
                extra={"page_url": page_url, "page": str(page), "layout": found.style},
            )

    def on_reply(self, thread_url: str) -> None:
        """A new reply of this thread is being yielded (the recheck spider counts them)."""
