"""`kind: rss`: RSS 0.9x/1.0/2.0 and Atom feeds, parsed by feedparser.

Each entry becomes a `feed_item` post with the feed's own text. When the source sets `follow` and an
entry's link matches it, the linked page is fetched and extracted as an article instead (for feeds
that carry only a teaser). Feeds are fetched conditionally; a 304 means nothing new.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser
import scrapy
from parsel import Selector
from scrapy.http import Response

from crawler.normalise import canonical_url
from crawler.pages import parse_date
from yuqing.records import Post

from .base import YuqingSpider
from .news import NewsSpider


class RssSpider(YuqingSpider):
    kind = "rss"

    async def start(self) -> Any:
        for url in self.source.start_urls:
            if self.take():
                yield self.list_request(canonical_url(url), self.parse_feed)

    def parse_feed(self, response: Response) -> Iterator[Post | scrapy.Request]:
        if self.unchanged(response):
            return
        ctype = response.headers.get(b"Content-Type")
        headers = {"content-type": ctype.decode("latin-1")} if ctype else {}
        # feedparser weighs the HTTP charset, the XML declaration and the bytes itself (GB2312, Big5).
        feed = feedparser.parse(response.body, response_headers=headers)
        if not feed.entries and feed.get("bozo"):
            self.job.note_error(f"{response.url}: not a feed ({feed.get('bozo_exception')})")
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("yuqing/errors")
            return
        now = self.fetch_time()
        for entry in feed.entries:
            link = (entry.get("link") or "").strip()
            if link.startswith(("http://", "https://")):
                url = canonical_url(link)
            else:
                key = entry.get("id") or entry.get("title") or ""
                url = f"{response.url}#item-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"
            if self.known(url):
                continue
            self.job.known_urls.add(url)
            if self.follow is not None and self.follow.search(url):
                if self.take():
                    yield self.page_request(url, self.parse_article, link_text=entry.get("title", ""))
                continue
            text = _entry_text(entry)
            yield Post(
                source_id=self.source.id,
                url=url,
                title=entry.get("title", "") or "",
                text=text,
                fetched_at=now,
                published_at=self._published(entry, now),
                author=entry.get("author") or None,
                kind="feed_item",
            )

    def parse_article(self, response: Response) -> Iterator[Post]:
        yield from NewsSpider.parse_article(self, response)  # type: ignore[arg-type]

    def _published(self, entry: Any, now: datetime) -> datetime | None:
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            parsed = entry.get(key)
            if parsed:
                when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
                return when if when <= now else None
        raw = entry.get("published") or entry.get("updated")
        if raw:
            found = parse_date(raw, now=now, tz=self.job.settings.tz)
            return found.astimezone(UTC) if found else None
        return None


def _entry_text(entry: Any) -> str:
    """The longest of the entry's content blocks and summary, as plain text with paragraphs."""
    blocks = [c.get("value", "") for c in entry.get("content", [])] + [entry.get("summary", "") or ""]
    best = max(blocks, key=len, default="")
    if "<" not in best:
        return best
    sel = Selector(text=f"<div>{best}</div>", type="html")
    parts = [t.strip() for t in sel.xpath("//text()[not(ancestor::script) and not(ancestor::style)]").getall()]
    return "\n".join(p for p in parts if p)
