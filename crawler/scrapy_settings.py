"""Scrapy settings for one crawl job, built from settings.yaml's `crawl:` section and the source.

Every politeness and limit knob lives here, so that what a crawl may do is readable in one place.
Scrapy's own RobotsTxtMiddleware and RetryMiddleware are replaced by ours (`crawler.middlewares`):
Scrapy's treats an erroring robots.txt as "allow everything" and retries without backoff or
Retry-After, and both are wrong for sites we must not flood.
"""

from __future__ import annotations

from typing import Any

import yuqing
from yuqing.config import Settings, SourceSettings

# Downloader middlewares, by Scrapy's priorities: ours sit next to the built-ins they replace.
# Built-ins that could never act in our crawls are left out, since each one enabled is called for
# every request or response: offsite (our spiders set no `allowed_domains`: the `follow` regex and
# the address guard decide), HTTP auth (no credentials, ever) and cookies (off: public pages only,
# no sessions). They leave Scrapy's base list (`_without`) rather than being set to None: Scrapy
# 2.19 imports every name of both lists, a None one too, and the cookies module imports
# tldextract and requests (0.08 s of every crawl's CPU, before the first request).
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {
    "crawler.middlewares.AddressGuardMiddleware": 40,  # first (before offsite): nothing private is ever fetched
    "crawler.middlewares.RobotsMiddleware": 100,
    "crawler.middlewares.ConditionalGetMiddleware": 560,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
}
# The built-ins ours replace (robots.txt, retries) or that never act (above).
LEFT_OUT_DOWNLOADER_MIDDLEWARES = frozenset({
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
    "scrapy.downloadermiddlewares.retry.RetryMiddleware",
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
})
# Extensions never loaded: the remote control (below) and the telnet console (off; its module
# imports twisted.conch).
LEFT_OUT_EXTENSIONS = frozenset({
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
})

# Spider middlewares left out, each of which saw every request and item a callback yields:
# referer (a Referer header is no part of crawling politely), depth (no depth limit: `max_pages`
# and the lists' paging bound a crawl) and the meta-copy warning (a developer's aid; our spiders
# build each request's meta themselves). The URL length cap stays: it stops link traps.
SPIDER_MIDDLEWARES: dict[str, int | None] = {
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}

ITEM_PIPELINES: dict[str, int] = {
    "crawler.pipelines.NormalisePipeline": 100,
    "crawler.pipelines.DedupePipeline": 200,
    "crawler.pipelines.MatchPipeline": 300,
    "crawler.pipelines.StorePipeline": 400,
}


def user_agent(settings: Settings) -> str:
    return f"yuqing/{yuqing.__version__} (+{settings.crawl.contact})"


def scrapy_settings(settings: Settings, source: SourceSettings) -> dict[str, Any]:
    """The Scrapy settings dict for crawling `source`."""
    crawl = settings.crawl
    delay = crawl.delay.total_seconds()
    return {
        "BOT_NAME": "yuqing",
        "USER_AGENT": user_agent(settings),
        "ROBOTSTXT_OBEY": True,  # read by our RobotsMiddleware
        "YUQING_MAX_CRAWL_DELAY": crawl.max_crawl_delay.total_seconds(),
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        # Scrapy starts this many asyncio tasks for every response's output (default 100); our
        # pipelines are synchronous, so they bought nothing and cost ~2 ms of CPU per page at 100
        # (and 40 us a response more at 8 than at 1).
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": delay,
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": crawl.max_crawl_delay.total_seconds(),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        "DOWNLOAD_TIMEOUT": crawl.timeout.total_seconds(),
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retries,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 408, 429],
        "YUQING_RETRY_BASE_DELAY": delay,
        "REDIRECT_ENABLED": True,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "METAREFRESH_ENABLED": False,
        "COOKIES_ENABLED": False,  # public pages only: no sessions, no logins
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.19 starts, in every crawl, an HTTP server on localhost that runs the Python code
        # it is sent (for its MCP tools); a crawler of public sites has no use for it, and it cost
        # its imports (aiohttp) and a server per job. Off, and not even loaded: the extension's
        # module imports aiohttp (0.1 s of CPU per crawl) before it finds itself disabled, and
        # Scrapy loads every name in EXTENSIONS, a None one too, so it leaves the base list.
        "REMOTE_CONTROL_ENABLED": False,
        "EXTENSIONS_BASE": _without("EXTENSIONS_BASE", LEFT_OUT_EXTENSIONS),
        "DOWNLOADER_MIDDLEWARES_BASE": _without("DOWNLOADER_MIDDLEWARES_BASE", LEFT_OUT_DOWNLOADER_MIDDLEWARES),
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "SPIDER_MIDDLEWARES": SPIDER_MIDDLEWARES,
        # Scrapy reads a generator callback's source (and parses it) to warn about a `return value`
        # in it, again for every response: its cache is keyed by the bound method, which each
        # `self.parse_list` makes anew (1.3 ms a list page). A developer's warning, off.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "ITEM_PIPELINES": ITEM_PIPELINES,
        "LOG_LEVEL": "INFO",
        "LOG_STDOUT": False,
        "DNS_TIMEOUT": crawl.timeout.total_seconds(),
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "YUQING_ALLOW_NETWORKS": list(settings.allow_networks),
    }


def _without(base: str, left_out: frozenset[str]) -> dict[str, int | None]:
    """Scrapy's default `base` list of components without those `left_out`."""
    from scrapy.settings import default_settings

    return {name: order for name, order in getattr(default_settings, base).items() if name not in left_out}
