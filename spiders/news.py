"""`kind: news`: list pages -> article pages.

Reads each start URL (a list page, fetched conditionally), follows the links that match the
source's `follow` regex (or, without one, links that look like articles), extracts each article
with the generic extractor (per-site `selectors` when given), and pages through the list while a
page still holds an article it has not stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.normalise import canonical_url

from .base import YuqingSpider

# Without `follow`: an article URL usually ends in a numbered page or carries a long number.
_ARTICLE_LIKE = re.compile(r"(\d{5,}|/\d+\.s?html?$|/t\d{8}_\d+|/content_\d+|/\d{4}[-/]?\d{2}[-/]?\d{2}/)")


class NewsSpider(YuqingSpider):
    kind = "news"
    reads_articles = True

    async def start(self) -> Any:
        for url in self.source.start_urls:
            if self.take():
                yield self.list_request(canonical_url(url), self.parse_list, list_page=1)

    def is_article(self, url: str) -> bool:
        if self.follow is not None:
            return bool(self.follow.search(url))
        return bool(_ARTICLE_LIKE.search(url))

    def parse_list(self, response: Response) -> Iterator[scrapy.Request]:
        if self.unchanged(response):
            return
        sel = self.selector(response)
        fresh = 0
        wanted: list[tuple[str, str]] = []
        for url, label in self.links(sel, response.url, self.source.selectors.get("links")):
            if not self.is_article(url) or self.known(url):
                continue
            fresh += 1
            if self.take():
                self.job.known_urls.add(url)  # never requested twice in one crawl
                wanted.append((url, label))
        self.extractor.expect(len(wanted))  # before any of them is read: inline, or by the workers
        for url, label in wanted:
            yield self.page_request(url, self.parse_article, link_text=label)
        # A page of only known articles means everything older is stored too: stop paging.
        page = response.meta.get("list_page", 1)
        nxt = self.next_page(sel, response.url) if fresh else None
        if nxt and nxt != response.url and self.take():
            yield self.list_request(nxt, self.parse_list, conditional=False, list_page=page + 1)
