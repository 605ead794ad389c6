"""One crawl of one source, in its own process: `python -m crawler.job --config FILE --source ID`.

This is what `crawler.run` starts (as Scrapyd runs jobs): a broken or leaking spider dies with its
process, never with the daemon. The job builds the Scrapy settings, loads what the source already
knows from the database, runs the spider with the pipelines, and prints ONE JSON line on stdout, the
summary the parent records. Scrapy's log goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from typing import Any

from yuqing.config import Settings, load_settings
from yuqing.errors import ConfigError, Problem, YuqingError
from yuqing.storage import Database, open_database, utcnow

from .context import JobContext, load_context, save_validators
from .scrapy_settings import scrapy_settings

# How the parent hands the child its database (the same one, even when the settings file's differs).
DATABASE_ENV = "YUQING_JOB_DATABASE"


def spider_class(kind: str, recheck: bool = False) -> Any:
    from spiders import SPIDER_KINDS

    path = "spiders.recheck.RecheckSpider" if recheck else SPIDER_KINDS[kind]
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_job(settings: Settings, source_id: str, db: Database, recheck: list[int] | None = None) -> dict[str, Any]:
    """Crawl one source in this process; the summary dict the parent expects."""
    from scrapy.crawler import CrawlerProcess

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


def _good(stats: dict[str, Any], prefix: str) -> int:
    total = 0
    for key, value in stats.items():
        if key.startswith(prefix):
            code = int(key[len(prefix) :])
            total += int(value) if 200 <= code < 300 or code == 304 else 0
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.job", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--database", help=f"database URL (default: ${DATABASE_ENV}, else the settings file's)")
    parser.add_argument("--recheck", help="comma-separated post ids to fetch again (follow-up)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config, check_topics=False)
    db = open_database(args.database or os.environ.get(DATABASE_ENV) or settings.database_url())
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


if __name__ == "__main__":
    sys.exit(main())
