"""Reading RSS 0.9x/1.0/2.0 and Atom feeds: bytes -> entries, for the `rss` spider.

feedparser parses; the bytes are decoded first by `crawler.pages.decode_html` (the same "bytes
decide" decoder the pages use), because feedparser alone falls back to windows-1252 on GB2312 or
Big5 feeds that do not declare their encoding, and stores mojibake. The decoded text is handed to
feedparser as UTF-8 with the XML declaration corrected to say so.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
from parsel import Selector

from .pages import decode_html, parse_date

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


@dataclass(frozen=True)
class FeedEntry:
    link: str  # as the feed gives it ('' when it gives none)
    key: str  # the entry's id, or its title: what names it when it has no link
    title: str
    text: str
    published_at: datetime | None  # aware UTC; None when the entry carries no date
    author: str | None


@dataclass(frozen=True)
class Feed:
    title: str
    entries: tuple[FeedEntry, ...]
    encoding: str
    problem: str | None  # set when the body is not a feed at all


def read_feed(body: bytes, content_type: str | None, *, now: datetime, tz: ZoneInfo, forced: str | None = None) -> Feed:
    text, encoding = decode_html(body, content_type, forced=forced)
    text = text.lstrip("\ufeff")
    utf8 = _XML_DECL.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1).encode("utf-8")
    parsed = feedparser.parse(utf8, response_headers={"content-type": "application/xml; charset=utf-8"})
    if not parsed.entries and parsed.get("bozo"):
        return Feed("", (), encoding, f"not a feed ({parsed.get('bozo_exception')})")
    entries = tuple(
        FeedEntry(
            link=(e.get("link") or "").strip(),
            key=e.get("id") or e.get("title") or "",
            title=e.get("title", "") or "",
            text=_entry_text(e),
            published_at=_published(e, now, tz),
            author=e.get("author") or None,
        )
        for e in parsed.entries
    )
    return Feed(parsed.feed.get("title", "") or "", entries, encoding, None)


def _published(entry: Any, now: datetime, tz: ZoneInfo) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own get() maps updated -> published with a DeprecationWarning
        parsed = dict.get(entry, key)
        if parsed:
            when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            return when if when <= now else None
    raw = entry.get("published") or entry.get("updated")
    if raw:
        found = parse_date(raw, now=now, tz=tz)
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
