"""Article extraction off the crawl's event loop, in worker processes.

Extraction is most of a crawl's CPU (about three quarters of it on the bench's corpus pages), and
run inline it stalls the downloads of the whole job while each page is read. With
`crawl.extract_workers` > 0 the news and rss spiders hand the page's bytes to a pool of that many
processes (which decode them too) (`spawn`ed: forking a process that runs a Twisted reactor is unsafe) and await the
result, so fetching, matching and storing go on meanwhile and a machine's other cores do the
reading. 0 reads inline, in the crawl process.

The first `INLINE_FIRST` articles of a job are read inline all the same: most scheduled crawls find
a handful of new articles, and a spawned worker costs a second of CPU to start (its imports) against
some 20 ms an article inline. The pool starts its workers only when the job goes on past those.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from zoneinfo import ZoneInfo

from .pages import Article, read_article

log = logging.getLogger(__name__)

INLINE_FIRST = 16


def default_workers() -> int:
    """One per core, at most 4; 0 (inline) on a single core.

    Not "all cores but one for the crawl": the crawl process itself (fetching, matching, storing)
    spends about a fifth of the CPU a page costs (5.4 of 23 ms on the bench site) and waits on the
    network the rest of the time, so a core left to it alone idles. Measured with
    `python -m bench.crawl --workers N` on 2 cores busy with other work (load 5-6): 1 worker
    38.3 pages/s at 25.4 ms/page, 2 workers 35.4 pages/s at 22.9 ms/page; under such load the
    count hardly matters, and on an idle machine one worker (about 17 ms/page) would cap the
    crawl near 60 pages/s while two can share both cores.
    """
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, cores)


def _read(body: bytes, content_type: str | None, forced: str | None, url: str, now: datetime, tz_name: str,
          selectors: dict[str, str] | None) -> Article:
    return read_article(body, content_type, url, forced=forced, now=now, tz=ZoneInfo(tz_name), selectors=selectors)


def _warm() -> None:
    import crawler.extract  # noqa: F401  # the first page should not pay for the imports


class Extractor:
    """`await extractor(body, content_type, url, forced=..., now=..., selectors=...)` -> Article."""

    def __init__(self, tz: ZoneInfo, workers: int | str, *, inline_first: int = INLINE_FIRST):
        self.tz = tz
        self.inline_left = inline_first
        workers = default_workers() if workers == "auto" else int(workers)
        self.pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm)
            if workers > 0
            else None
        )

    async def __call__(self, body: bytes, content_type: str | None, url: str, *, forced: str | None, now: datetime,
                       selectors: Mapping[str, str] | None) -> Article:
        """The article of a page's bytes (`crawler.pages.read_article`), read inline or in the pool."""
        chosen = dict(selectors) if selectors else None
        if self.pool is None or self.inline_left > 0:
            # ProcessPoolExecutor starts a worker at a submit, not before: a job that stays here
            # starts none.
            self.inline_left -= 1
            return read_article(body, content_type, url, forced=forced, now=now, tz=self.tz, selectors=chosen)
        try:
            future = self.pool.submit(_read, body, content_type, forced, url, now, str(self.tz), chosen)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            # A worker died (out of memory, killed): read inline for the rest of the job rather
            # than lose every page after it.
            log.warning("extraction workers failed (%s); reading pages inline from now on", exc)
            self.close()
            self.pool = None
            return read_article(body, content_type, url, forced=forced, now=now, tz=self.tz, selectors=chosen)

    def close(self) -> None:
        if self.pool is not None:
            # Joined, not left behind: the job's process accounts for (and reaps) its workers.
            self.pool.shutdown(wait=True, cancel_futures=True)
