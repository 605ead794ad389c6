"""Article extraction off the crawl's event loop, in worker processes.

Extraction is most of a crawl's CPU (about three quarters of it on the bench's corpus pages), and
run inline it stalls the downloads of the whole job while each page is read. With
`crawl.extract_workers` > 0 the news and rss spiders hand the page's bytes to that many worker
processes (which decode them too) and await the result, so fetching, matching and storing go on
meanwhile and a machine's other cores do the reading. 0 reads inline, in the crawl process.

The workers are forked by a starter process (`_Starter`), itself forked from the crawl process when
the spider is built: before the crawl's reactor runs, so it carries no reactor, loop or thread of
it (forking a process that runs a Twisted reactor is unsafe), and it closes every file it inherited
(database, sockets) but its standard streams. Asked for workers, it imports the extractor once and
forks them from that state. Each `spawn`ed worker started a new interpreter and imported all of it
again: some 0.3 s of CPU a worker, every crawl. The starter reaps the workers and the crawl reaps the
starter, so their CPU is the crawl's; both end when the crawl closes its sockets, or dies.

The workers are fed and read by the crawl's event loop itself, each through a socket pair, with no
thread in the crawl process. A `ProcessPoolExecutor` moves each page and each answer through two
threads of its own (a queue feeder and a result reader), and a thread waits up to the interpreter's
switch interval (5 ms) for the crawl's busy main thread to let it run: the workers sat idle or
blocked on a full pipe meanwhile. Each worker has at most `IN_FLIGHT` pages at once (the next ones
wait in its socket while it reads one); the rest wait here and go to whichever worker answers first.
With two cores and three busy processes, the crawl process often waits a few milliseconds for a
core before it reads an answer and sends the next page: with 2 pages a worker, the workers of a
2,000-page bench crawl sat idle 0.7 to 2.3 s each for want of a page, with 4 about 0.1 to 0.2 s.

The first `INLINE_FIRST` articles of a job are read inline all the same: most scheduled crawls find
a handful of new articles, and starting the workers costs the starter the extractor's imports (some
0.2 s of CPU, none when the job server preloaded them) against some 20 ms an article inline. The
workers start only when the job goes on past those, or as soon as the spider has asked for more
articles than that (`expect`): a crawl of hundreds of new articles would otherwise read its first
ones in the crawl process, the downloads stalled meanwhile. Asked for by `expect`, they start then,
before the first of those pages has come, and the crawl process runs what it registered with
`while_workers_start` (the rule set's jieba dictionary, `MatchPipeline`) while the starter imports:
built at the first post instead, it stalled the crawl's downloads and left the new workers idle.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import pickle
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .pages import read_article

if TYPE_CHECKING:
    from .pages import Article

log = logging.getLogger(__name__)

INLINE_FIRST = 16
IN_FLIGHT = 4  # pages handed to one worker at once
_HEADER = struct.Struct("!Q")  # an answer: its length, then a pickle
# A page: the lengths of its details' pickle and of its bytes, then both. The bytes go as they are:
# pickled with the rest, they cost the crawl process a copy (33 of 40 us a corpus page).
_TASK = struct.Struct("!QQ")
_PICKLE = pickle.HIGHEST_PROTOCOL


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


class WorkerDied(RuntimeError):
    """An extraction worker ended (killed, out of memory) or its socket broke."""


# -- in the worker process ------------------------------------------------------------------------


def _serve(sock: socket.socket) -> None:
    """A worker: read each page sent, answer ("ok", Article) or ("error", exception), until the
    crawl closes its end."""
    zones: dict[str, ZoneInfo] = {}
    while True:
        header = _recv_exactly(sock, _TASK.size)
        if header is None:
            return
        details_size, body_size = _TASK.unpack(header)
        details, body = _recv_exactly(sock, details_size), _recv_exactly(sock, body_size)
        if details is None or body is None:
            return
        content_type, forced, url, now, tz_name, selectors = pickle.loads(details)
        tz = zones.get(tz_name) or zones.setdefault(tz_name, ZoneInfo(tz_name))
        try:
            article = read_article(bytes(body), content_type, url, forced=forced, now=now, tz=tz, selectors=selectors)
            answer = pickle.dumps(("ok", article), _PICKLE)
        except Exception as exc:
            try:
                answer = pickle.dumps(("error", exc), _PICKLE)
            except Exception:  # an exception that cannot be pickled: its words still can
                answer = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")), _PICKLE)
        sock.sendall(_HEADER.pack(len(answer)) + answer)


def _recv_exactly(sock: socket.socket, size: int) -> bytearray | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return buf


# -- in the starter process -----------------------------------------------------------------------


def _start_workers(control: socket.socket) -> None:
    """The starter: for each socket the crawl sends, fork a worker that reads the pages sent on it;
    when the crawl closes `control` (it ended, or died), wait for the workers to end, then return."""
    workers: list[int] = []

    def stop(_signum: int, _frame: Any) -> None:  # the crawl gave up waiting: a worker is stuck
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    imported = False
    while True:
        try:
            _data, fds, _flags, _addr = socket.recv_fds(control, 16, 16)
        except OSError:
            fds = []
        if not fds:
            break
        if not imported:
            import crawler.extract  # noqa: F401  # once, for every worker: the first page should not pay for it

            gc.freeze()  # nor should the workers copy the pages of what it built, as the collector walks them
            # A page's reading allocates thousands of short-lived containers (lxml's element
            # proxies, blocks, lists): the young generation collected as rarely as in the crawl
            # process saves about 1% of a worker's CPU (100 collections in 304 pages, none).
            from crawler.job import YOUNG_COLLECTION

            gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
            imported = True
        for n, fd in enumerate(fds):
            pid = os.fork()
            if pid == 0:  # a worker: it keeps its own socket only
                code = 1
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    control.close()
                    for other in fds[n + 1 :]:
                        os.close(other)
                    _serve(socket.socket(fileno=fd))
                    code = 0
                finally:
                    os._exit(code)
            os.close(fd)
            workers.append(pid)
    control.close()
    for pid in workers:
        os.waitpid(pid, 0)


class _Starter:
    """The crawl's handle on the starter process (see the module docstring)."""

    def __init__(self) -> None:
        self.control, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                # Nothing of the crawl's: no file but the standard streams and this socket (a
                # database connection, a worker's socket: each would stay open while this runs),
                # no signal handler of its, and the collector on (the crawl starts with it off).
                keep = theirs.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C stops the crawl, which closes the sockets
                try:
                    signal.set_wakeup_fd(-1)
                except ValueError:  # not forked from the main thread: none was set from here
                    pass
                gc.enable()
                _start_workers(theirs)
                code = 0
            finally:
                os._exit(code)
        theirs.close()

    def start(self, count: int) -> list[socket.socket]:
        """`count` new workers; the crawl's ends of their sockets (the pages sent wait in them
        while the worker starts)."""
        ours, theirs = zip(*(socket.socketpair() for _ in range(count)), strict=True)
        try:
            socket.send_fds(self.control, [b"w"], [s.fileno() for s in theirs])
        except OSError:
            for sock in ours:
                sock.close()
            raise
        finally:
            for sock in theirs:
                sock.close()
        return list(ours)

    def close(self, timeout: float = 30.0) -> None:
        """End the starter once its workers have ended (their sockets closed by the caller), and reap
        it; a worker stuck on one page that long is killed."""
        self.control.close()
        deadline = time.monotonic() + timeout
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGTERM)  # it kills its workers and goes on to reap them
                os.waitpid(self.pid, 0)
                return
            time.sleep(0.01)


# -- in the crawl process -------------------------------------------------------------------------


class _Worker:
    """The crawl's end of one worker's socket (non-blocking, watched by the loop)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sock.setblocking(False)
        self.waiting: deque[asyncio.Future[Article]] = deque()  # answers due, in the order sent
        self.inbox = bytearray()
        self.outbox = bytearray()  # what a full socket did not take yet


class Extractor:
    """`await extractor(body, content_type, url, forced=..., now=..., selectors=...)` -> Article."""

    def __init__(self, tz: ZoneInfo, workers: int | str, *, inline_first: int = INLINE_FIRST):
        self.tz = tz
        self.inline_left = inline_first
        self.coming = 0  # articles requested by the spider and not yet read
        self.size = default_workers() if workers == "auto" else int(workers)
        # Forked now, while the crawl's reactor does not run yet (see the module docstring).
        self.starter = _Starter() if self.size > 0 else None
        self.workers: list[_Worker] = []  # started by the first page sent to them
        self.queued: deque[tuple[tuple[bytes, bytes, bytes], asyncio.Future[Article]]] = deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.meanwhile: list[Callable[[], object]] = []  # run once, right after the workers are asked for

    async def __call__(self, body: bytes, content_type: str | None, url: str, *, forced: str | None, now: datetime,
                       selectors: Mapping[str, str] | None) -> Article:
        """The article of a page's bytes (`crawler.pages.read_article`), read inline or by a worker."""
        chosen = dict(selectors) if selectors else None
        self.coming -= 1
        if self.size <= 0 or self.inline_left > 0:
            # A job that stays here starts no worker.
            self.inline_left -= 1
            return read_article(body, content_type, url, forced=forced, now=now, tz=self.tz, selectors=chosen)
        details = pickle.dumps((content_type, forced, url, now, str(self.tz), chosen), _PICKLE)
        task = (_TASK.pack(len(details), len(body)), details, body)
        try:
            return await self._submit(task)
        except WorkerDied:
            # The workers are gone (see `_broken`): this page and the rest of the job inline.
            return read_article(body, content_type, url, forced=forced, now=now, tz=self.tz, selectors=chosen)

    def expect(self, articles: int) -> None:
        """The spider asked for this many more article pages: when the articles to come are more
        than the inline reads left, the workers take them all from now on."""
        self.coming += articles
        if self.coming > self.inline_left:
            self.inline_left = 0
            if self.size > 0 and not self.workers:
                try:
                    self.loop = asyncio.get_running_loop()
                except RuntimeError:  # not called from the crawl's loop: they start with the first page
                    return
                try:
                    self._start()
                except WorkerDied:
                    pass  # logged; the pages are read inline

    def while_workers_start(self, task: Callable[[], object]) -> None:
        """Run `task` in this process once the workers are asked for, while the starter imports the
        extractor: work the crawl would otherwise do at its first article, with the downloads stalled
        and the new workers idle. An error of it is only logged: the same work is done again where
        it is needed, and fails there."""
        self.meanwhile.append(task)

    def _submit(self, task: tuple[bytes, bytes, bytes]) -> asyncio.Future[Article]:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if not self.workers:
            self._start()
        future: asyncio.Future[Article] = self.loop.create_future()
        worker = min(self.workers, key=lambda w: len(w.waiting))
        if len(worker.waiting) < IN_FLIGHT:
            self._send(worker, task, future)
        else:
            self.queued.append((task, future))
        return future

    def _start(self) -> None:
        assert self.loop is not None
        try:
            if self.starter is None:
                raise OSError("no process to start them from")
            for sock in self.starter.start(self.size):
                self.workers.append(_Worker(sock))
                self.loop.add_reader(sock.fileno(), self._readable, self.workers[-1])
        except OSError as exc:  # no process or socket to be had (limits, memory)
            self._broken(f"could not start one: {exc}")
            raise WorkerDied(str(exc)) from exc
        tasks, self.meanwhile = self.meanwhile, []
        for task in tasks:
            try:
                task()
            except Exception:
                log.debug("preparing while the extraction workers start failed", exc_info=True)

    def _send(self, worker: _Worker, task: tuple[bytes, bytes, bytes], future: asyncio.Future[Article]) -> None:
        worker.waiting.append(future)
        if worker.outbox:
            worker.outbox += b"".join(task)
            return
        try:
            sent = worker.sock.sendmsg(task)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._broken(f"sending to a worker: {exc}")
            return
        if sent < sum(map(len, task)):
            worker.outbox = bytearray(b"".join(task)[sent:])
            assert self.loop is not None
            self.loop.add_writer(worker.sock.fileno(), self._writable, worker)

    def _writable(self, worker: _Worker) -> None:
        try:
            sent = worker.sock.send(worker.outbox)
        except BlockingIOError:
            return
        except OSError as exc:
            self._broken(f"sending to a worker: {exc}")
            return
        del worker.outbox[:sent]
        if not worker.outbox:
            assert self.loop is not None
            self.loop.remove_writer(worker.sock.fileno())

    def _readable(self, worker: _Worker) -> None:
        try:
            data = worker.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._broken("one ended")
            return
        worker.inbox += data
        while len(worker.inbox) >= _HEADER.size:
            end = _HEADER.size + _HEADER.unpack_from(worker.inbox)[0]
            if len(worker.inbox) < end:
                break
            try:
                with memoryview(worker.inbox) as view:
                    status, value = pickle.loads(view[_HEADER.size : end])
            except Exception as exc:  # an exception of the worker that does not unpickle here
                status, value = "error", RuntimeError(f"unreadable answer from an extraction worker: {exc!r}")
            del worker.inbox[:end]
            future = worker.waiting.popleft()
            if not future.done():  # done: cancelled (the crawl stopped)
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(value)
            if self.queued:
                self._send(worker, *self.queued.popleft())
                if not self.workers:  # that send found the workers broken
                    return

    def _broken(self, why: str) -> None:
        """A worker died (out of memory, killed) or its socket broke: read inline for the rest of
        the job rather than lose every page after it. Each page not yet answered raises WorkerDied
        to its caller, which reads it inline."""
        log.warning("extraction workers failed (%s); reading pages inline from now on", why)
        failed = [f for w in self.workers for f in w.waiting] + [f for _task, f in self.queued]
        for worker in self.workers:
            worker.waiting.clear()
        self.queued.clear()
        self.size = 0
        for future in failed:
            if not future.done():
                future.set_exception(WorkerDied(why))
        self.close()

    def close(self) -> None:
        """Stop the workers: each sees its socket closed and ends, and the starter is reaped once
        they have (the job's process accounts for them). A page still out (the crawl was stopped) is
        cancelled. Closing again does nothing."""
        workers, self.workers = self.workers, []
        for future in [f for w in workers for f in w.waiting] + [f for _task, f in self.queued]:
            future.cancel()
        self.queued.clear()
        for worker in workers:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.remove_reader(worker.sock.fileno())
                self.loop.remove_writer(worker.sock.fileno())
            worker.sock.close()
        starter, self.starter = self.starter, None
        if starter is not None:
            starter.close()
