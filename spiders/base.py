"""What every source kind shares: the job context, conditional list requests, link finding, and
turning a response into text through `crawler.pages`.

A spider never decides politeness (middlewares do) nor storage (pipelines do); it only reads pages
and yields `Post`s and requests.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urljoin

import scrapy
from lxml import etree
from parsel import Selector
from scrapy import signals
from scrapy.http import Response

from crawler.context import JobContext
from crawler.extract_pool import Extractor
from crawler.normalise import canonical_url
from crawler.pages import decode_html
from yuqing.records import Post

# Link texts that mean "the next page of this list / thread" on Chinese and English sites.
NEXT_TEXTS = {"下一页", "下页", "下一頁", "下頁", "后页", "next", "next page", "next »", "›", "»", ">", "下一页>", "下一页 >"}


class YuqingSpider(scrapy.Spider):
    """Base class: configured by one `SourceSettings`, never by per-site code."""

    kind = ""
    # statuses the spider itself looks at, rather than Scrapy's HttpError dropping them
    handle_statuses = [304]
    # whether it reads article pages (`parse_article`): only then may it start extraction workers
    reads_articles = False

    def __init__(self, job: JobContext, **kwargs: Any):
        super().__init__(name=f"{self.kind}:{job.source.id}", **kwargs)
        self.job = job
        self.source = job.source
        # No allowed_domains: the `follow` regex decides which links are read (articles may live on a
        # sibling host), and every request, redirects included, passes the address guard and the
        # robots.txt of its own host.
        self.follow = re.compile(job.source.follow) if job.source.follow else None
        self.budget = job.source.max_pages  # pages this crawl may still request
        self.extractor = Extractor(job.settings.tz, job.settings.crawl.extract_workers if self.reads_articles else 0)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> YuqingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.callback_failed, signal=signals.spider_error)
        return spider

    def callback_failed(self, failure: Any, response: Response, spider: Any) -> None:
        """A page whose reading raised: an error of the run, never a silently missing post."""
        self.job.note_error(f"{response.url}: {failure.type.__name__}: {failure.getErrorMessage()}")
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/errors")

    def closed(self, reason: str) -> None:
        self.extractor.close()

    # -- requests ------------------------------------------------------------------------------

    def take(self) -> bool:
        """Spend one page of the source's max_pages budget; False once spent."""
        if self.budget <= 0:
            return False
        self.budget -= 1
        return True

    def list_request(self, url: str, callback: Any, *, conditional: bool = True, **meta: Any) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.failed,
            meta={"conditional": conditional, "handle_httpstatus_list": self.handle_statuses, **meta},
            dont_filter=False,
        )

    def page_request(self, url: str, callback: Any, **meta: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta)

    def failed(self, failure: Any) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        value = failure.value
        from scrapy.spidermiddlewares.httperror import HttpError

        from crawler.middlewares import Refused

        if isinstance(value, Refused):
            return  # private address, robots.txt: counted where it was decided
        if isinstance(value, HttpError):
            message = f"{url}: HTTP {value.response.status}"
        else:
            message = f"{url}: {type(value).__name__}: {value}"
        self.job.note_error(message)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/errors")

    # -- reading pages -------------------------------------------------------------------------

    def text_of(self, response: Response) -> str:
        ctype = response.headers.get(b"Content-Type")
        text, _encoding = decode_html(
            response.body, ctype.decode("latin-1") if ctype else None, forced=self.source.encoding
        )
        return text

    def selector(self, response: Response) -> Selector:
        return Selector(text=self.text_of(response), type="html", base_url=response.url)

    def known(self, url: str) -> bool:
        return url in self.job.known_urls

    @staticmethod
    def unchanged(response: Response) -> bool:
        return response.status == 304 or bool(response.meta.get("unchanged"))

    def links(self, sel: Selector, base: str, area: str | None = None) -> Iterable[tuple[str, str]]:
        """(absolute canonical URL, link text) of every http(s) link, in page order, once each."""
        scope = sel.css(area) if area else [sel]
        seen: set[str] = set()
        for node in scope:
            for a in _anchors(node):
                href = (a.get("href") or "").strip()
                if not href or href.startswith(("javascript:", "mailto:", "#")):
                    continue
                url = canonical_url(urljoin(base, href))
                if not url.startswith(("http://", "https://")) or url in seen:
                    continue
                seen.add(url)
                yield url, _label(a)

    def next_page(self, sel: Selector, base: str) -> str | None:
        """The list's or thread's next page: a configured selector, rel=next, or a 下一页 link."""
        configured = self.source.selectors.get("next")
        if configured:
            href = _first(sel, configured)
            return canonical_url(urljoin(base, href)) if href else None
        for a in sel.css("a[rel~=next][href], link[rel~=next][href]"):
            return canonical_url(urljoin(base, a.attrib["href"]))
        for a in _anchors(sel):
            if _label(a).lower() in NEXT_TEXTS or a.get("class", "") in ("nxt", "next", "pn-next"):
                href = a.get("href").strip()
                if href and not href.startswith(("javascript:", "#")):
                    return canonical_url(urljoin(base, href))
        return None

    async def parse_article(self, response: Response) -> AsyncIterator[Post]:
        now = self.fetch_time()
        ctype = response.headers.get(b"Content-Type")
        # Decoded where it is read (in an extraction worker when there are any), as `text_of` would.
        article = await self.extractor(response.body, ctype.decode("latin-1") if ctype else None, response.url,
                                       forced=self.source.encoding, now=now, selectors=self.source.selectors or None)
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

    def fetch_time(self) -> datetime:
        return datetime.now(UTC)


# A list page has a hundred links or more: read through lxml itself, with compiled XPaths, rather
# than a parsel Selector (and a CSS-to-XPath lookup) per link and per link text (measured: a list
# page of 50 links read in 3.6 ms, most of it there). The same paths as `css("a[href]")` and
# `css("::text")`.
_ANCHORS = etree.XPath("descendant-or-self::a[@href]")
_TEXTS = etree.XPath("descendant-or-self::text()", smart_strings=False)


def _anchors(node: Selector) -> list[Any]:
    """The <a href> elements in a node (none in a text or attribute node, as with parsel)."""
    root = node.root
    return [] if isinstance(root, str) else cast(list[Any], _ANCHORS(root))


def _label(a: Any) -> str:
    return " ".join(cast(list[str], _TEXTS(a))).strip()


def _first(sel: Selector, query: str) -> str | None:
    """The first value of a CSS (or, when it starts with / or (, XPath) selector."""
    nodes = sel.xpath(query) if query.startswith(("/", "(", "./")) else sel.css(query)
    if not nodes:
        return None
    node = nodes[0]
    if isinstance(node.root, str):
        return node.root.strip()
    href = node.attrib.get("href")
    return href.strip() if href else " ".join(node.css("::text").getall()).strip()
