"""The crawler's one door to page understanding: bytes -> text, text -> article, text -> date.

Spiders call these three functions and never reach past them. They delegate to the extraction
modules (`crawler.encoding`, `crawler.dates`, `crawler.extract`, written beside this one) and fall
back to w3lib/trafilatura only while one of those modules is absent, so that a checkout missing
them still crawls rather than crashing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Article:
    """What a page says: the fallback's shape, identical to `crawler.extract.Article`."""

    title: str
    text: str
    published_at: datetime | None
    author: str | None


def decode_html(body: bytes, content_type: str | None, forced: str | None = None) -> tuple[str, str]:
    """The page's text and the encoding used; `forced` is the source's configured encoding."""
    if forced:
        return body.decode(forced, errors="replace"), forced
    try:
        from crawler.encoding import decode_html as decode
    except ImportError:
        from w3lib.encoding import html_to_unicode

        encoding, text = html_to_unicode(content_type, body)
        return text, encoding
    return decode(body, content_type)


def parse_date(text: str, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """An aware datetime found in `text`, or None (never invented)."""
    try:
        from crawler.dates import parse_date as parse
    except ImportError:
        return _absolute_date(text, now=now, tz=tz)
    return parse(text, now=now, tz=tz)


def extract_article(
    html: str, url: str, *, now: datetime, tz: ZoneInfo, selectors: Mapping[str, str] | None = None
) -> Article:
    """Title, body, time and author of an article page."""
    try:
        from crawler.extract import extract_article as extract
    except ImportError:
        return _trafilatura_article(html, url, now=now, tz=tz)
    found = extract(html, url, now=now, tz=tz, selectors=selectors or None)
    return Article(found.title, found.text, found.published_at, found.author)


def _trafilatura_article(html: str, url: str, *, now: datetime, tz: ZoneInfo) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, favor_recall=True)
    if doc is None:
        return Article("", "", None, None)
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    published = None
    if data.get("date"):
        published = datetime.fromisoformat(str(data["date"])).replace(tzinfo=tz)
        published = published if published <= now else None
    return Article(data.get("title") or "", data.get("text") or "", published, data.get("author"))


_ABSOLUTE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s*(\d{1,2})[:：](\d{2}))?")


def _absolute_date(text: str, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    # Only while crawler.dates is absent: absolute dates, no relative forms.
    m = _ABSOLUTE.search(text)
    if not m:
        return None
    y, mo, d, h, mi = (int(g) if g else 0 for g in m.groups())
    try:
        found = datetime(y, mo, d, h, mi, tzinfo=tz)
    except ValueError:
        return None
    return found if found <= now else None
