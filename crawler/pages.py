"""The crawler's one door to page understanding: bytes -> text, text -> article, text -> date.

Spiders and the feed reader call these and never reach past them; the work is done by the
extraction modules beside this one (`crawler.encoding`, `crawler.extract`, `crawler.dates`). What
this adds is the source's own say: a configured `encoding` overrides detection for a site known to
lie about it.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from .article import Article
from .dates import parse_date as _parse_date
from .encoding import decode_html as _decode_html

# `.extract` (and with it trafilatura, its requests and tldextract: some 0.27 s of CPU in a fresh
# process) is imported at the first article read, not with this module: a crawl process that
# hands its articles to extraction workers, or finds nothing new, only decodes list pages.

__all__ = ["Article", "decode_html", "extract_article", "parse_date", "read_article"]


def decode_html(body: bytes, content_type: str | None, forced: str | None = None) -> tuple[str, str]:
    """The page's text and the encoding used; `forced` is the source's configured encoding."""
    if forced:
        return body.decode(forced, errors="replace"), forced
    return _decode_html(body, content_type)


def parse_date(text: str, *, now: datetime, tz: ZoneInfo) -> datetime | None:
    """An aware datetime found in `text`, or None (never invented)."""
    return _parse_date(text, now=now, tz=tz)


def extract_article(
    html: str, url: str, *, now: datetime, tz: ZoneInfo, selectors: Mapping[str, str] | None = None
) -> Article:
    """Title, body, time and author of an article page (per-site selectors first when given)."""
    from .extract import extract_article as _extract_article

    return _extract_article(html, url, now=now, tz=tz, selectors=selectors or None)


def read_article(
    body: bytes,
    content_type: str | None,
    url: str,
    *,
    forced: str | None,
    now: datetime,
    tz: ZoneInfo,
    selectors: Mapping[str, str] | None = None,
) -> Article:
    """An article page's bytes to its article: `decode_html`, then `extract_article`.

    One call, so that an extraction worker (`crawler.extract_pool`) is handed the bytes and does
    the decoding too: the crawl process is single-threaded and every millisecond it spends per
    page caps the crawl's rate, and bytes cross the process boundary cheaper than the decoded text.
    """
    from .extract import extract_article as _extract_article

    html, encoding = decode_html(body, content_type, forced)
    # Most pages are UTF-8 read without a replacement (no U+FFFD at all, so the text is exactly
    # the bytes' decoding): lxml parses such bytes about 0.1 ms a page faster than the text.
    lossless = encoding == "utf-8" and not body.startswith(codecs.BOM_UTF8) and "\ufffd" not in html
    return _extract_article(html, url, now=now, tz=tz, selectors=selectors or None, utf8=body if lossless else None)
