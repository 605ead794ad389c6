"""Spiders: one per source *kind*, configured by settings.yaml, never one per website.

`SPIDER_KINDS` is the registry settings are validated against: alias -> dotted path of the spider
class (imported lazily so that reading settings does not import Scrapy).
"""

from __future__ import annotations

SPIDER_KINDS: dict[str, str] = {
    "news": "spiders.news.NewsSpider",
    "rss": "spiders.rss.RssSpider",
    "forum": "spiders.forum.ForumSpider",
}
