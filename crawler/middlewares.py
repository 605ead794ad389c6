"""Downloader middlewares: what may be fetched, when, and how failures are retried.

- `AddressGuardMiddleware`: only http(s), and no private/loopback/link-local host unless its network
  is in `allow_networks`; every request passes here, redirects included (Scrapy re-schedules a
  redirect as a new request), so a public page cannot bounce the crawler onto the intranet.
- `RobotsMiddleware`: robots.txt obeyed, Crawl-delay honoured up to a cap. Unlike Scrapy's own, a
  robots.txt that errors (5xx, timeout, refused) stops the crawl of that host and asks to retry later.
- `ConditionalGetMiddleware`: ETag / Last-Modified on list pages and feeds.
- `BackoffRetryMiddleware`: retries with exponential backoff, honouring Retry-After on 429/503.
"""

from __future__ import annotations

import hashlib
import logging
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from protego import Protego
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from yuqing.config import refused_address

from .context import JobContext, Validators

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)


class Refused(IgnoreRequest):
    """Not fetched on purpose (private address, robots.txt): counted where decided, not an error again."""


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))  # type: ignore[arg-type]


def _job(crawler: Crawler) -> JobContext:
    job = getattr(crawler.spider, "job", None)
    if job is None:
        raise NotConfigured("yuqing middlewares run only inside a crawl job (crawler.job)")
    return job


class AddressGuardMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.allow = list(crawler.settings.getlist("YUQING_ALLOW_NETWORKS"))
        self._verdicts: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            self._refuse(request, f"{request.url}: only http(s) URLs are fetched")
        host = parts.hostname or ""
        if host not in self._verdicts:
            # resolved once per host and job: the address decides, not the name
            self._verdicts[host] = refused_address(request.url, self.allow, resolve=True)
        reason = self._verdicts[host]
        if reason:
            self._refuse(request, reason)

    def _refuse(self, request: Request, reason: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/refused")
        _job(self.crawler).note_error(f"refused {request.url}: {reason}")
        raise Refused(reason)


class RobotsMiddleware:
    """robots.txt per host: allowed paths, Crawl-delay, and "unavailable means wait"."""

    PRIORITY = 1000

    def __init__(self, crawler: Crawler):
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.agent = "yuqing"
        self.max_delay = crawler.settings.getfloat("YUQING_MAX_CRAWL_DELAY", 30.0)
        self._parsers: dict[str, Protego | None | Deferred[None]] = {}
        self._next_slot: dict[str, float] = {}
        self._last_go: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        netloc = urlsplit(request.url).netloc
        parser = await self._parser(request, netloc)
        if parser is None:
            raise Refused(f"{netloc} is refused or its robots.txt is unavailable")
        if not parser.can_fetch(request.url, self.agent):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("robotstxt/forbidden")
            raise Refused("Forbidden by robots.txt")
        delay = parser.crawl_delay(self.agent)
        if delay:
            await self._wait_turn(netloc, min(float(delay), self.max_delay))

    async def _wait_turn(self, netloc: str, delay: float) -> None:
        # Each request books the next free slot of its host, so concurrency cannot beat Crawl-delay.
        now = time.monotonic()
        turn = max(now, self._next_slot.get(netloc, now))
        self._next_slot[netloc] = turn + delay
        await _pause(turn - now)
        # The booked slots are spaced by `delay`, but on a loaded machine the request before may
        # have woken late: the gap counts from when it really went.
        while (left := self._last_go.get(netloc, -delay) + delay - time.monotonic()) > 0:
            self._next_slot[netloc] = max(self._next_slot[netloc], time.monotonic() + left + delay)
            await _pause(left)
        self._last_go[netloc] = time.monotonic()

    async def _parser(self, request: Request, netloc: str) -> Protego | None:
        known = self._parsers.get(netloc, False)
        if isinstance(known, Deferred):
            await maybe_deferred_to_future(known)
            known = self._parsers[netloc]
        if known is not False:
            return known  # type: ignore[return-value]
        waiting: Deferred[None] = Deferred()
        self._parsers[netloc] = waiting
        parts = urlsplit(request.url)
        robots = Request(
            f"{parts.scheme}://{netloc}/robots.txt",
            priority=self.PRIORITY,
            meta={"dont_obey_robotstxt": True, "dont_retry": True, "handle_httpstatus_all": True},
            callback=NO_CALLBACK,
        )
        parser: Protego | None
        assert self.crawler.engine is not None and self.crawler.stats is not None
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest:  # the address guard refused the host: nothing of it is fetched
            parser = None
        except Exception as exc:  # timeout, refused, DNS: the site's rules are unknown
            self._unavailable(netloc, f"{type(exc).__name__}: {exc}")
            parser = None
        else:
            self.crawler.stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            if response.status >= 500:
                self._unavailable(netloc, f"HTTP {response.status}")
                parser = None
            elif response.status >= 400:
                parser = Protego.parse("")  # no robots.txt: nothing is disallowed
            else:
                parser = Protego.parse(response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace"))
        self._parsers[netloc] = parser
        waiting.callback(None)
        return parser

    def _unavailable(self, netloc: str, why: str) -> None:
        job = _job(self.crawler)
        job.robots_unavailable = f"robots.txt of {netloc} could not be read ({why}); will retry later"
        job.note_error(job.robots_unavailable)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("yuqing/robots_unavailable")
        return None


class ConditionalGetMiddleware:
    """Requests marked `meta["conditional"]` carry the last crawl's validators; a 304 (or a body
    whose hash is unchanged) comes back marked `meta["unchanged"]` so the spider follows nothing."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("conditional"):
            return
        known = _job(self.crawler).validators.get(request.url)
        if known is None:
            return
        if known.etag:
            request.headers.setdefault(b"If-None-Match", known.etag.encode("latin-1"))
        if known.last_modified:
            request.headers.setdefault(b"If-Modified-Since", known.last_modified.encode("latin-1"))

    def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("conditional"):
            return response
        job = _job(self.crawler)
        assert self.crawler.stats is not None
        if response.status == 304:
            self.crawler.stats.inc_value("yuqing/not_modified")
            request.meta["unchanged"] = True
            return response
        if response.status != 200:
            return response
        digest = hashlib.sha256(response.body).hexdigest()
        previous = job.validators.get(request.url)
        if previous is not None and previous.body_hash == digest:
            self.crawler.stats.inc_value("yuqing/unchanged_body")
            request.meta["unchanged"] = True
        etag = response.headers.get(b"ETag")
        modified = response.headers.get(b"Last-Modified")
        job.new_validators[request.url] = Validators(
            etag.decode("latin-1") if etag else None,
            modified.decode("latin-1") if modified else None,
            digest,
        )
        return response


class BackoffRetryMiddleware:
    """Retry transient failures after base * 2**n seconds; a 429/503 Retry-After is obeyed when it
    is within the crawl-delay cap, and gives up otherwise (waiting longer belongs to the next run)."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.max_retries = s.getint("RETRY_TIMES")
        self.codes = {int(c) for c in s.getlist("RETRY_HTTP_CODES")}
        self.base = max(s.getfloat("YUQING_RETRY_BASE_DELAY", 1.0), 0.05)
        self.cap = s.getfloat("YUQING_MAX_CRAWL_DELAY", 30.0)
        from scrapy.settings.default_settings import RETRY_EXCEPTIONS
        from scrapy.utils.misc import load_object

        self.exceptions: tuple[type[BaseException], ...] = tuple(
            cast(type[BaseException], load_object(e) if isinstance(e, str) else e) for e in RETRY_EXCEPTIONS
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.codes:
            return response
        wait = self._backoff(request)
        if response.status in (429, 503):
            asked = _retry_after(response.headers.get(b"Retry-After"))
            if asked is not None:
                if asked > self.cap:
                    _job(self.crawler).note_error(
                        f"{request.url}: HTTP {response.status} asks to wait {asked:.0f}s (more than the {self.cap:.0f}s cap)"
                    )
                    return response
                wait = max(wait, asked)
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        await _pause(wait)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await _pause(self._backoff(request))
        return retry

    def _backoff(self, request: Request) -> float:
        return min(self.base * 2 ** request.meta.get("retry_times", 0), self.cap)

    def _retry(self, request: Request, reason: Any) -> Request | None:
        assert self.crawler.spider is not None
        return get_retry_request(request, spider=self.crawler.spider, reason=reason, max_retry_times=self.max_retries)


def _retry_after(value: bytes | None) -> float | None:
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
