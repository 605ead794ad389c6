"""`kind: rss`: RSS 0.9x/1.0/2.0 and Atom feeds, read by `crawler.feeds` (feedparser).

Each entry becomes a `feed_item` post with the feed's own text. When the source sets `follow` and an
entry's link matches it, the linked page is fetched and extracted as an article instead (for feeds
that carry only a teaser). Feeds are fetched conditionally; a 304 means nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response

from crawler.feeds import read_feed
from crawler.normalise import canonical_url
from yuqing.records import Post

from .base import YuqingSpider


class RssSpider(YuqingSpider):
    kind = "rss"
    reads_articles = True

    async def start(self) -> Any:
        for url in self.source.start_urls:
            if self.take():
                yield self.list_request(canonical_url(url), self.parse_feed)

    def parse_feed(self, response: Response) -> Iterator[Post | scrapy.Request]:
        if self.unchanged(response):
            return
        ctype = response.headers.get(b"Content-Type")
        now = self.fetch_time()
        feed = read_feed(
            response.body, ctype.decode("latin-1") if ctype else None, now=now, tz=self.job.settings.tz, forced=self.source.encoding
        )
        if feed.problem:
            self.job.note_error(f"{response.url}: {feed.problem}")
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("yuqing/errors")
            return
        found: list[Post | scrapy.Request] = []
        for entry in feed.entries:
            link = urljoin(response.url, entry.link) if entry.link else ""  # relative links are common
            if link.startswith(("http://", "https://")):
                url = canonical_url(link)
            else:
                url = f"{response.url}#item-{hashlib.sha1(entry.key.encode('utf-8')).hexdigest()[:16]}"
            if self.known(url):
                continue
            self.job.known_urls.add(url)
            if self.follow is not None and self.follow.search(url):
                if self.take():
                    found.append(self.page_request(url, self.parse_article, link_text=entry.title))
                continue
            found.append(
                Post(
                    source_id=self.source.id,
                    url=url,
                    title=entry.title,
                    text=entry.text,
                    fetched_at=now,
                    published_at=entry.published_at,
                    author=entry.author,
                    kind="feed_item",
                )
            )
        # Counted before any is read: many followed entries go to the extraction workers at once.
        self.extractor.expect(sum(isinstance(x, scrapy.Request) for x in found))
        yield from found
