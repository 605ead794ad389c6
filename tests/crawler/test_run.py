"""`crawler.run` as the parent of crawl processes: a child that runs past its time limit is killed
and the run recorded as a timeout; a child that dies is recorded as failed with its last words;
disabled and unknown sources; which sources are due."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.run import crawl, due_sources
from tests.crawler.crawl_world import write_settings
from tests.support.site import LocalSite, Page
from yuqing.errors import UsageError
from yuqing.storage import CrawlRun, SourceState, open_database, utcnow

ROOT = Path(__file__).resolve().parents[2]


def _sources(site: LocalSite) -> str:
    return (
        f"  - {{id: slow, kind: news, start_urls: ['{site.url('/slow.html')}']}}\n"
        f"  - {{id: off, kind: news, start_urls: ['{site.url('/off.html')}'], enabled: false}}\n"
    )


@pytest.mark.slow
def test_a_crawl_past_its_time_limit_is_killed_and_recorded(site: LocalSite, tmp_path: Path):
    site.add("/slow.html", Page(b"<html><body>late</body></html>", headers={"Content-Type": "text/html"}, delay=30))
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", _sources(site), crawl="job_time_limit: 4s")
    db = open_database(settings.database_url())
    [summary] = crawl(settings, ["slow"], db=db)
    assert summary.status == "timeout" and "ran longer than 0:00:04" in (summary.error or "")
    with db.session() as s:
        run = s.scalars(select(CrawlRun)).one()
        state = s.get(SourceState, "slow")
    assert run.status == "timeout" and run.finished_at is not None and run.error == summary.error
    assert state is not None and state.consecutive_failures == 1 and state.last_error == summary.error
    db.dispose()


@pytest.mark.slow
def test_a_child_that_dies_is_recorded_with_its_last_words(site: LocalSite, tmp_path: Path):
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", _sources(site))
    Path(settings.path).write_text("sources: [oops\n", encoding="utf-8")  # the child cannot even read its settings
    db = open_database(settings.database_url())
    [summary] = crawl(settings, ["slow"], db=db)
    assert summary.status == "failed" and "crawl process exited with code" in (summary.error or "")
    with db.session() as s:
        assert s.scalars(select(CrawlRun.status)).all() == ["failed"]
    db.dispose()


def test_disabled_unknown_and_due_sources(site: LocalSite, tmp_path: Path):
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", _sources(site))
    db = open_database(settings.database_url())
    assert crawl(settings, ["off"], db=db)[0].status == "skipped"  # named but disabled: no process started
    with pytest.raises(UsageError, match='no source \'slwo\' \\(did you mean "slow"\\?\\)'):
        crawl(settings, ["slwo"], db=db)
    now = utcnow()
    assert due_sources(settings, db, now) == ["slow"]  # never crawled; 'off' is disabled
    with db.session() as s:
        s.add(SourceState(source_id="slow", kind="news", last_crawl_at=now - timedelta(minutes=10), consecutive_failures=0))
    assert due_sources(settings, db, now) == []  # every: 30m
    assert due_sources(settings, db, now + timedelta(minutes=21)) == ["slow"]
    with db.session() as s:
        st = s.get(SourceState, "slow")
        assert st is not None
        st.retry_after = now + timedelta(hours=1)
    assert due_sources(settings, db, now + timedelta(minutes=40)) == []  # robots.txt said wait
    db.dispose()


def test_sources_lists_health_status_last_success_error_and_problem(site: LocalSite, tmp_path: Path, capsys):
    from datetime import UTC, datetime

    from yuqing.cli import main as cli

    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", _sources(site))
    db = open_database(settings.database_url())
    with db.session() as s:
        s.add(SourceState(source_id="slow", kind="news", status="problem", consecutive_failures=3,
                          last_success_at=datetime(2024, 5, 6, 1, 0, tzinfo=UTC), last_error="HTTP 500",
                          problem="failed 3 crawls in a row; last error: HTTP 500"))  # fmt: skip
    db.dispose()
    assert cli(["--config", settings.path, "sources"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "slow [news] problem: last success 2024-05-06T09:00:00+08:00"
    assert "  last error: HTTP 500" in out and "  PROBLEM: failed 3 crawls in a row; last error: HTTP 500" in out
    assert "off [news] disabled: last success never" in out



def test_the_crawl_builds_no_records_below_its_log_level_and_collects_garbage_but_not_its_startup_state():
    import gc
    import logging

    from crawler.job import YOUNG_COLLECTION, _lean_run

    logger = logging.getLogger("scrapy.core.engine")
    before = logging.root.level, logging.getLogger("scrapy").level
    logging.root.setLevel(logging.NOTSET)  # as Scrapy leaves them: every debug line builds a record
    logging.getLogger("scrapy").setLevel(logging.DEBUG)
    full_passes: list[int] = []
    young: list[int] = []

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full_passes.append(1)
        if phase == "start" and info["generation"] == 0:
            young.append(1)

    def allocate(n: int) -> list[list[int]]:
        gc.collect(0)  # the young generation's count starts from nothing
        young.clear()
        return [[] for _ in range(n)]

    gc.disable()  # as `run_main` leaves it while the crawl starts
    gc.callbacks.append(collected)
    try:
        with _lean_run("INFO"):
            assert not logger.isEnabledFor(logging.DEBUG) and logger.isEnabledFor(logging.INFO)
            assert gc.get_freeze_count() > 0 and gc.isenabled()
            assert full_passes == []  # frozen as it is: no pass over the whole startup state
            thresholds = gc.get_threshold()
            kept = allocate(5_000)
            assert young == [], "the young generation is collected every YOUNG_COLLECTION objects, not 700"
            assert thresholds[0] == YOUNG_COLLECTION > 5_000
        assert logger.isEnabledFor(logging.DEBUG)
        assert gc.get_freeze_count() == 0 and not gc.isenabled()
        gc.enable()
        kept = allocate(5_000)
        assert young, "Python's own thresholds are back after the crawl"
        del kept
    finally:
        gc.callbacks.remove(collected)
        gc.enable()
        logging.root.setLevel(before[0])
        logging.getLogger("scrapy").setLevel(before[1])


def test_a_job_upgrades_the_schema_only_of_a_database_its_parent_did_not_hand_over(monkeypatch, tmp_path: Path):
    import gc

    import crawler.job
    import yuqing.storage

    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/']}\n")
    opened: list[tuple[str, bool]] = []

    class _Db:
        def dispose(self) -> None:
            pass

    def fake_open(url: str, *, upgrade: bool = True) -> _Db:
        opened.append((url, upgrade))
        return _Db()

    monkeypatch.setattr(yuqing.storage, "open_database", fake_open)
    monkeypatch.setattr(crawler.job, "run_job", lambda *args: {"status": "ok"})
    monkeypatch.setenv(crawler.job.DATABASE_ENV, "sqlite:///handed.db")
    crawler.job.run_main(["--config", settings.path, "--source", "n"])
    monkeypatch.delenv(crawler.job.DATABASE_ENV)
    crawler.job.run_main(["--config", settings.path, "--source", "n"])
    crawler.job.run_main(["--config", settings.path, "--source", "n", "--database", "sqlite:///given.db"])
    assert opened == [("sqlite:///handed.db", False), (settings.database_url(), True), ("sqlite:///given.db", True)]
    assert gc.isenabled()  # off only while a crawl starts


def test_a_crawl_process_ends_with_its_summary_and_its_last_log_lines(site: LocalSite, tmp_path: Path):
    # The process ends without freeing its state (`crawler.job.exit_now`): what it wrote last must
    # still reach the parent's pipes.
    site.add("/list.html", '<html><body><a href="/a/1.html">一</a></body></html>')
    site.add("/a/1.html", "<html><head><title>村务公开</title></head><body><h1>村务公开</h1><p>"
             + "本村今年的村务公开栏按季度更新，财务收支逐项列明，村民可以随时查看。" * 4 + "</p></body></html>")
    sources = f"  - {{id: n, kind: news, start_urls: ['{site.url('/list.html')}'], follow: '/a/'}}\n"
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", sources)
    open_database(settings.database_url()).dispose()  # the schema, as the parent would have made it
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as under cron
    done = subprocess.run([sys.executable, "-m", "crawler.job", "--config", str(settings.path), "--source", "n"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False, env=buffered)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "ok" and summary["new_posts"] == 1
    assert "Spider closed (finished)" in done.stderr.strip().splitlines()[-1]


def test_exit_now_flushes_the_streams_and_keeps_the_exit_code():
    program = ("import logging, sys\n"
               "from crawler.job import exit_now\n"
               "logging.basicConfig(stream=sys.stderr, format='%(message)s')\n"
               "print('summary', end='')\n"  # a pipe is block-buffered: still in the buffer here
               "logging.getLogger('x').warning('last words')\n"
               "exit_now(3)\n")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as under cron
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False, env=buffered)
    assert (done.returncode, done.stdout, done.stderr) == (3, "summary", "last words\n")
