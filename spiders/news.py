"""`kind: news`: list pages -> article pages.

Reads each start URL (a list page, fetched conditionally), follows the links that match the
source's `follow` regex (or, without one, links that look like articles), extracts each article
with the generic extractor (per-site `selectors` when given), and pages through the list while a
page still holds an article it has not stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import scrapy
from scrapy.http import Response

from crawler.normalise import canonical_url
from crawler.pages import extract_article
from yuqing.records import Post

from .base import YuqingSpider

# Without `follow`: an article URL usually ends in a numbered page or carries a long number.
_ARTICLE_LIKE = re.compile(r"(\d{5,}|/\d+\.s?html?$|/t\d{8}_\d+|/content_\d+|/\d{4}[-/]?\d{2}[-/]?\d{2}/)")


class NewsSpider(YuqingSpider):
    kind = "news"

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
        for url, label in self.links(sel, response.url, self.source.selectors.get("links")):
            if not self.is_article(url) or self.known(url):
                continue
            fresh += 1
            if self.take():
                self.job.known_urls.add(url)  # never requested twice in one crawl
                yield self.page_request(url, self.parse_article, link_text=label)
        # A page of only known articles means everything older is stored too: stop paging.
        page = response.meta.get("list_page", 1)
        nxt = self.next_page(sel, response.url) if fresh else None
        if nxt and nxt != response.url and self.take():
            yield self.list_request(nxt, self.parse_list, conditional=False, list_page=page + 1)

    def parse_article(self, response: Response) -> Iterator[Post]:
        html = self.text_of(response)
        now = self.fetch_time()
        article = extract_article(
            html, response.url, now=now, tz=self.job.settings.tz, selectors=self.source.selectors or None
        )
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/articles")
        if not article.text.strip():
            # Counted, not stored: a run where every page comes back empty flags a redesign.
            self.crawler.stats.inc_value("yuqing/empty_extractions")
            return
        url = response.request.url if response.request is not None else response.url
        yield Post(
            source_id=self.source.id,
            url=url,
            title=article.title or response.meta.get("link_text", ""),
            text=article.text,
            fetched_at=now,
            published_at=article.published_at.astimezone(UTC) if article.published_at else None,
            author=article.author,
            kind="article",
        )
