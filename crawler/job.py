"""One crawl of one source, in its own process: `python -m crawler.job --config FILE --source ID`.

This is what `crawler.run` starts (as Scrapyd runs jobs): a broken or leaking spider dies with its
process, never with the daemon. The job builds the Scrapy settings, loads what the source already
knows from the database, runs the spider with the pipelines, and prints ONE JSON line on stdout, the
summary the parent records. Scrapy's log goes to stderr.

The job server (`python -m crawler.job --serve SOCKET`, started by the daemon): importing Scrapy,
trafilatura, SQLAlchemy and reading jieba's dictionary is most of a small crawl's CPU, paid again by
every crawl process. The server does it once, then forks one process per crawl from that state. When
`$YUQING_JOB_SERVER` names its socket, `python -m crawler.job` (still the process `crawler.run`
starts, times and kills) hands its arguments, environment and standard streams to the server and
waits for the forked crawl's exit code: the crawl runs in its own process as before, writes to the
same pipes, gets the same SIGTERM, and kills itself when that process dies (killed at its time
limit, or by the daemon stopping). No server, or one that does not answer: the crawl runs here.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the hand-over to the job server must start fast
    from yuqing.config import Settings
    from yuqing.storage import Database

# How the parent hands the child its database (the same one, even when the settings file's differs).
DATABASE_ENV = "YUQING_JOB_DATABASE"
# The job server's socket (see the module docstring); the daemon sets it for its crawls.
SERVER_ENV = "YUQING_JOB_SERVER"
# What the job server imports once. Not crawler.middlewares: it imports `twisted.internet.reactor`,
# which installs a reactor, and each crawl must install its own (Scrapy's asyncio reactor).
PRELOAD = (
    "sqlalchemy.orm",
    "yuqing.config",
    "yuqing.storage",
    "scrapy.crawler",
    "scrapy.core.engine",
    "scrapy.core.scraper",
    "scrapy.http",
    "scrapy.spiders",
    "protego",
    "spiders",
    "spiders.news",
    "spiders.rss",
    "spiders.forum",
    "spiders.recheck",
    "crawler.context",
    "crawler.scrapy_settings",
    "crawler.pipelines",
    "crawler.extract",
    "rules",
)


def spider_class(kind: str, recheck: bool = False) -> Any:
    from spiders import SPIDER_KINDS

    path = "spiders.recheck.RecheckSpider" if recheck else SPIDER_KINDS[kind]
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_job(settings: Settings, source_id: str, db: Database, recheck: list[int] | None = None) -> dict[str, Any]:
    """Crawl one source in this process; the summary dict the parent expects."""
    from scrapy.crawler import CrawlerProcess

    from yuqing.errors import ConfigError, Problem
    from yuqing.storage import utcnow

    from .context import JobContext, load_context, save_validators
    from .scrapy_settings import scrapy_settings

    started = time.monotonic()
    source = settings.source(source_id)
    from spiders import selector_problems

    wrong = selector_problems(source.kind, dict(source.selectors))
    if wrong:
        # A misspelt selector would silently fall back to the generic reader: refuse instead.
        raise ConfigError([Problem(settings.path, None, None, f"sources.{source.id}.{w}") for w in wrong])
    ctx: JobContext = load_context(settings, source, db, utcnow())
    ctx.recheck = recheck is not None
    process = CrawlerProcess(settings=scrapy_settings(settings, source), install_root_handler=True)
    crawler = process.create_crawler(spider_class(source.kind, recheck is not None))
    failures: list[str] = []
    kwargs: dict[str, Any] = {"job": ctx}
    if recheck is not None:
        kwargs["post_ids"] = recheck
    deferred = process.crawl(crawler, **kwargs)
    deferred.addErrback(lambda f: failures.append(f"{f.type.__name__}: {f.getErrorMessage()}"))
    with _lean_run(process.settings.get("LOG_LEVEL")):
        process.start()

    stats: dict[str, Any] = crawler.stats.get_stats() if crawler.stats else {}
    reason = str(stats.get("finish_reason", "") or "")
    errors = int(stats.get("yuqing/errors", 0)) + int(stats.get("yuqing/refused", 0)) + int(stats.get("yuqing/robots_unavailable", 0))
    # pages: answers that carried a page (2xx, or 304 for "unchanged"), robots.txt not counted
    pages = _good(stats, "downloader/response_status_count/") - _good(stats, "robotstxt/response_status_count/")
    error: str | None = None
    if failures:
        error = failures[0]
    elif ctx.robots_unavailable:
        error = ctx.robots_unavailable
    elif reason and reason != "finished":
        error = f"crawl stopped: {reason}"
    elif errors and pages <= 0:
        error = ctx.errors[0] if ctx.errors else "nothing could be fetched"
    status = "failed" if error else "ok"
    if status == "ok" and not errors and recheck is None:
        # Only a crawl that got everything may say "unchanged since" next time: after a failed
        # article the list must be read again, or that article would never be retried.
        save_validators(ctx)
    return {
        "source_id": source.id,
        "status": status,
        "requests": int(stats.get("downloader/request_count", 0)),
        "pages": pages,
        "new_posts": int(stats.get("yuqing/new_posts", 0)),
        "new_matches": int(stats.get("yuqing/new_matches", 0)),
        "errors": errors + (1 if error and not errors else 0),
        "error": error,
        "error_list": ctx.errors[:20],
        "articles": int(stats.get("yuqing/articles", 0)),
        "empty_extractions": int(stats.get("yuqing/empty_extractions", 0)),
        "not_modified": int(stats.get("yuqing/not_modified", 0)) + int(stats.get("yuqing/unchanged_body", 0)),
        "robots_unavailable": bool(ctx.robots_unavailable),
        "recheck": getattr(crawler.spider, "results", None) if recheck is not None else None,
        "duration": round(time.monotonic() - started, 3),
    }


# Objects allocated between two collections of the youngest generation during a crawl (see _lean_run).
YOUNG_COLLECTION = 10_000


@contextmanager
def _lean_run(log_level: str | int) -> Iterator[None]:
    """Around the crawl, once its long-lived state is built: no log records below `log_level`,
    and that state left out of the garbage collector's full passes.

    Scrapy sets its own logger to DEBUG (and the root logger to NOTSET) and filters at its
    handler, so each debug line ("Crawled (200)", "Scraped from": two a page) built a record only
    to drop it. What exists
    before the first request (Scrapy, the rule set, jieba's dictionary: some 190,000 objects that
    live as long as the job) was walked by every full collection, about ten in a 2,000-page crawl.
    It is frozen as it is, without a collection first: that found some 2,000 unreachable objects
    among 224,000 and cost 0.12 s of CPU, every crawl, to free them a few seconds early.
    The youngest generation is collected every `YOUNG_COLLECTION` new objects rather than
    Python's 700: the requests and pages in flight survive each young collection, and every tenth
    one walks all that survived again. A 2,000-page crawl made about 400 collections, 0.6-0.7 s
    of the crawl process's CPU (measured with gc.callbacks, 4 crawls); with 10,000, 16 collections,
    under 0.1 s. Garbage in cycles waits a little longer.
    Both are undone after, for a caller that goes on (tests run jobs in their own process).
    """
    loggers = [logging.root, logging.getLogger("scrapy")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(log_level)
    frozen_before = gc.get_freeze_count()  # a crawl forked by the job server starts frozen: kept so
    collecting = gc.isenabled()
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, *thresholds[1:])
    gc.enable()  # off while the crawl started (`run_main`)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not collecting:
            gc.disable()
        if not frozen_before:
            gc.unfreeze()
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _good(stats: dict[str, Any], prefix: str) -> int:
    total = 0
    for key, value in stats.items():
        if key.startswith(prefix):
            code = int(key[len(prefix) :])
            total += int(value) if 200 <= code < 300 or code == 304 else 0
    return total


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if len(args_list) == 2 and args_list[0] == "--serve":
        return serve(args_list[1])
    if argv is None and os.environ.get(SERVER_ENV):
        code = _via_server(os.environ[SERVER_ENV], args_list)
        if code is not None:
            return code
    return run_main(args_list)


def run_main(argv: list[str]) -> int:
    """The crawl itself, in this process."""
    # Starting a crawl (imports, the rule set, jieba's dictionary) allocates some 150,000 objects
    # that live as long as the job: collections meanwhile only walked them again and again (about
    # 0.2 s of CPU a crawl). `_lean_run` collects once and turns the collector back on.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_main(argv)
    finally:
        if collecting:
            gc.enable()


def _run_main(argv: list[str]) -> int:
    from yuqing.config import load_settings
    from yuqing.errors import YuqingError
    from yuqing.storage import open_database

    parser = argparse.ArgumentParser(prog="python -m crawler.job", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--database", help=f"database URL (default: ${DATABASE_ENV}, else the settings file's)")
    parser.add_argument("--recheck", help="comma-separated post ids to fetch again (follow-up)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config, check_topics=False)
    # A database handed over by the parent was opened (and its schema upgraded) by `open_database`
    # there: checking the migrations again imported alembic into every crawl process.
    handed = os.environ.get(DATABASE_ENV) if not args.database else None
    db = open_database(args.database or handed or settings.database_url(), upgrade=not handed)
    recheck = [int(x) for x in args.recheck.split(",") if x] if args.recheck is not None else None
    try:
        summary = run_job(settings, args.source, db, recheck)
    except YuqingError as exc:
        summary = {"source_id": args.source, "status": "failed", "requests": 0, "pages": 0, "new_posts": 0,
                   "new_matches": 0, "errors": 1, "error": exc.show(), "error_list": [exc.show()]}  # fmt: skip
    finally:
        db.dispose()
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# The job server


def _via_server(path: str, argv: list[str]) -> int | None:
    """Have the job server run this crawl in a process of its own; its exit code, or None when the
    server is not there or refused (the caller then crawls here)."""
    import signal
    import socket

    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
        request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(conn, [len(request).to_bytes(4, "big") + request], [0, 1, 2])
        replies = conn.makefile("rb")
        started = replies.readline()
    except OSError:
        return None
    if not started:
        return None  # the server could not fork: nothing ran, so crawl here
    pid = int(json.loads(started)["pid"])

    def forward(signum: int, _frame: Any) -> None:
        # What is sent to this process (the daemon stopping) goes to the crawl, which ends cleanly.
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        ended = replies.readline()
    except OSError:
        ended = b""
    if not ended:
        sys.stderr.write(f"the crawl process {pid} ended without a result (killed or crashed)\n")
        return 1
    return int(json.loads(ended)["exit"])


def _recv_request(conn: Any) -> tuple[dict[str, Any], list[int]]:
    import socket

    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    if len(data) < 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a crawl request")
    size = int.from_bytes(data[:4], "big")
    body = bytearray(data[4:])
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            break
        body += more
    return json.loads(bytes(body)), fds


def _die_with_client(conn: Any) -> None:
    """In a forked crawl: end when the process that asked for it is gone (killed at its time limit,
    or by the daemon). The client sends nothing after its request, so recv returns only then."""
    import signal

    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _run_forked(conn: Any, request: dict[str, Any], fds: list[int]) -> int:
    """In the forked process: become the client's crawl process (streams, environment, directory,
    default signals) and run the crawl."""
    import signal
    import threading

    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [sys.argv[0], *request["argv"]]
    conn.settimeout(None)
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    threading.Thread(target=_die_with_client, args=(conn,), name="client-watch", daemon=True).start()
    try:
        code = run_main(list(request["argv"]))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    return code


def serve(path: str) -> int:
    """The job server: preload, then fork one crawl process per request until the parent (the
    daemon) is gone or SIGTERM comes. Single-threaded, so forking it is safe."""
    import signal
    import socket
    import threading

    started = time.process_time()
    for name in PRELOAD:
        importlib.import_module(name)
    from rules.segment import _base_dictionary

    _base_dictionary()  # jieba's parsed dictionary: each rule set's tokenizer starts from a copy
    if "twisted.internet.reactor" in sys.modules or threading.active_count() != 1:
        sys.stderr.write("yuqing job server: a preloaded module started a reactor or a thread; not serving\n")
        return 1
    parent = os.getppid()
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    listener.settimeout(1.0)
    # Objects that exist now are never collected: the gc does not touch (and so copy) their pages
    # in every forked crawl.
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    took = time.process_time() - started
    sys.stderr.write(f"yuqing job server: ready on {path} (preloaded in {took:.1f}s CPU)\n")
    sys.stderr.flush()
    sys.stdout.flush()
    try:
        while os.getppid() == parent:
            _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(10.0)
                request, fds = _recv_request(conn)
                pid = os.fork()
                if pid == 0:  # the crawl process
                    code = 1
                    try:
                        listener.close()
                        code = _run_forked(conn, request, fds)
                    finally:
                        os._exit(code)
                for fd in fds:
                    os.close(fd)
            except Exception as exc:  # one bad request must not end the server
                sys.stderr.write(f"yuqing job server: request refused: {type(exc).__name__}: {exc}\n")
            finally:
                conn.close()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass
    return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def exit_now(code: int) -> None:
    """End the crawl process with `code` once its summary and log lines are out, without freeing
    its state object by object: jieba's dictionary, Scrapy and the rule set (some 200,000 objects)
    took about 0.35 s at interpreter exit, a few per cent of a 2,000-page crawl's time, all of it
    after the summary was written and while the parent waited. Nothing else is left to do by then:
    the database was disposed, the extraction workers reaped, and the parent reads only the pipes.
    """
    logging.shutdown()  # flushes and closes every handler, as the normal exit would
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
