"""Spiders: one per source *kind*, configured by settings.yaml, never one per website.

`SPIDER_KINDS` is the registry settings are validated against: alias -> dotted path of the spider
class (imported lazily so that reading settings does not import Scrapy). `SELECTOR_KEYS` says which
per-site `selectors` each kind reads, so that a misspelt key is an error, not silently ignored.
"""

from __future__ import annotations

from yuqing.errors import did_you_mean

SPIDER_KINDS: dict[str, str] = {
    "news": "spiders.news.NewsSpider",
    "rss": "spiders.rss.RssSpider",
    "forum": "spiders.forum.ForumSpider",
}

_ARTICLE = ("title", "body", "time", "author")  # read by crawler.extract on article pages
SELECTOR_KEYS: dict[str, tuple[str, ...]] = {
    "news": (*_ARTICLE, "links", "next"),
    "rss": _ARTICLE,  # for entries whose page is fetched (`follow`)
    "forum": ("threads", "next", "reply", "reply_body", "reply_author", "reply_time", "reply_floor", "thread_title"),
}


def selector_problems(kind: str, selectors: dict[str, str]) -> list[str]:
    """One message per selector key the kind does not read (with the closest known key)."""
    known = SELECTOR_KEYS.get(kind, ())
    return [f"selectors: '{key}' is not read by {kind} sources{did_you_mean(key, known)}" for key in selectors if key not in known]
