"""The daemon: APScheduler jobs for crawls, digests and daily checks (the only module importing APScheduler).

    settings.yaml ──> Daemon ──(per source, `every` + jitter)──> yuqing.jobs.crawl_job ──> crawl process
                        │  ──(per unit, `digest` cron)──────────> yuqing.jobs.digest_job + send
                        │  ──(`daemon.daily` cron)──────────────> yuqing.jobs.daily_check (own process)
                        └─ SIGHUP: reload (validate first)   SIGTERM/SIGINT: stop within daemon.stop_timeout

Jobs are rebuilt from the settings at start and on every good reload (no pickled job store); each
has max_instances=1, coalescing and an explicit misfire grace time, in the configured timezone.
The cron helpers here (`cron_due`, `digest_due`) also serve `run-once`, so cron and the daemon agree
on when a digest is due. Settings validation (yuqing.config) checks cron expressions through this
module, so it stays light to import: the rest of yuqing is imported where it is used.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from yuqing.errors import YuqingError

log = logging.getLogger("yuqing.scheduler")

HEARTBEAT_SECONDS = 5.0
# Diagnosis of the daemon's own memory: with YUQING_TRACEMALLOC=<folder> the daemon traces Python
# allocations and writes a tracemalloc snapshot there every TRACE_EVERY finished crawls (compare two
# with `python -m bench.soak --diff A B`). Off by default: tracing costs time and memory.
TRACEMALLOC_ENV = "YUQING_TRACEMALLOC"
TRACE_EVERY = 50
# SQLite's page cache for each of the daemon's pooled connections, in KiB. SQLite's default (2 MB a
# connection) fills as the database grows, so with the pool's 5 connections the daemon's memory
# crept up by up to 10 MB over days: the growth the soak measured (sqlite3_memory_used on the soak's
# database, 6 threads reading: 5.9 MB by default, 1.7 MB with 256 KiB). The daemon's own queries are
# small (crawls write in their own processes), and what it reads again comes from the OS's cache.
DAEMON_SQLITE_CACHE_KIB = 512
# The daily checks (ledger reminders, reports, retention) get this long in their process.
DAILY_TIME_LIMIT = 3600.0

# --------------------------------------------------------------------------------------------
# Cron helpers (shared with run-once)


def cron_trigger(expr: str, tz: ZoneInfo | str) -> CronTrigger:
    """A five-field crontab expression as an APScheduler trigger in `tz`."""
    return CronTrigger.from_crontab(expr, timezone=tz)


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a usable five-field cron expression, or None."""
    if len(expr.split()) != 5:
        return f"'{expr}' is not a cron expression of five fields (minute hour day month weekday)"
    try:
        cron_trigger(expr, "UTC")
    except ValueError as exc:
        return f"'{expr}' is not a valid cron expression: {exc}"
    return None


def cron_due(expr: str, last: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Whether the schedule `expr` has a fire time after `last` and at or before `now`.

    Never run before (`last` None): due, so that a fresh install's first run sends what is waiting
    (an empty digest sends nothing).
    """
    if last is None:
        return True
    nxt = cron_trigger(expr, tz).get_next_fire_time(None, last.astimezone(tz) + timedelta(microseconds=1))
    return nxt is not None and nxt <= now


def digest_due(unit: Any, last_digest_at: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Whether `unit`'s digest schedule (`unit.digest`, cron in `tz`) has passed since its last digest."""
    return cron_due(unit.digest, last_digest_at, now, tz)


# --------------------------------------------------------------------------------------------
# Crawl processes


def crawl_children() -> list[int]:
    """Pids of this process's work children (`python -m crawler.job`, the daily checks), from /proc.

    Hand-written because the crawl processes are started inside `crawler.run` and the stdlib has
    no process-tree query; psutil would be a dependency for these few lines (Linux only: elsewhere
    nothing is found and stop waits for the crawl's own time limit).
    """
    me = os.getpid()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            cmdline = (entry / "cmdline").read_bytes()
            if b"--serve" in cmdline:  # the job server: its crawls end with their client processes
                continue
            if b"crawler.job" in cmdline or b"daily-check" in cmdline:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class JobServer:
    """The job server the daemon's crawl processes hand their work to (`crawler.job --serve`).

    It imports Scrapy, trafilatura, SQLAlchemy and jieba's dictionary once and forks each crawl from
    there, instead of every crawl process importing them again (see crawler/job.py). The crawls
    find it by `$YUQING_JOB_SERVER`, set here before any job runs; when it is not (yet) listening
    they crawl the old way. It ends with the daemon; one that died is started again by the heartbeat.
    `YUQING_JOB_SERVER=off` in the daemon's environment goes without it.
    """

    def __init__(self) -> None:
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="yuqing-jobs-"))  # private (0700), short enough for a socket
        self.path = str(self.dir / "jobs.sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> JobServer:
        from crawler.job import SERVER_ENV

        os.environ[SERVER_ENV] = self.path  # before the scheduler runs: no thread reads it yet
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.job", "--serve", self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # its messages go to stderr, where the daemon logs
            cwd=Path(__file__).resolve().parent,
        )
        return self

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            log.warning("the crawl job server exited (code %s); starting it again", self.proc.returncode)
            self.start()

    def stop(self) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bound_sqlite_cache(db: Any) -> None:
    """Give the daemon's SQLite connections a small page cache (DAEMON_SQLITE_CACHE_KIB)."""
    if db.dialect != "sqlite":
        return
    from sqlalchemy import event

    def small_cache(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA cache_size = -{DAEMON_SQLITE_CACHE_KIB}")
        cur.close()

    event.listen(db.engine, "connect", small_cache)
    # Connections opened before (loading the settings, the schema upgrade) are replaced by bounded
    # ones as they are next needed. (The SQLite scheduler lock is a file lock, not a connection.)
    db.engine.dispose()


def _kill(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    """Runs the scheduler until SIGTERM/SIGINT; SIGHUP reloads. Build with a validated configuration."""

    def __init__(
        self, config_path: str, settings: Any, db: Any, lock: Any, *, verbose: int = 0, redactor: Any = None
    ):
        from yuqing.metrics import DaemonMetrics

        self.config_path = config_path
        self.live_settings = settings  # as the operator's files say, validated
        self.settings = settings  # the frozen copy crawls are given (see yuqing.runconfig)
        self.db = db
        self.lock = lock
        self.verbose = verbose
        self.redactor = redactor  # the log filter masking the settings' secrets; updated on reload
        self.metrics = DaemonMetrics()
        self.generation = 0
        self.started_at = datetime.now(UTC)
        self.last_heartbeat = time.time()
        self.last_reload: dict[str, Any] | None = None
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._running: dict[str, float] = {}
        self._running_lock = threading.Lock()
        self._http: Any = None
        self._scheduler: BackgroundScheduler | None = None
        self._crawls_done = 0
        self._job_server: JobServer | None = None
        self._trace_dir = os.environ.get(TRACEMALLOC_ENV) or None

    # ---- configuration ------------------------------------------------------------------

    def _accept(self, live: Any, ruleset: RulesCheck | None) -> None:
        """Freeze a validated configuration for the crawls and make it the running one."""
        from yuqing.runconfig import freeze
        from yuqing.runlock import run_dir

        generation = self.generation + 1
        try:
            frozen = freeze(live, run_dir(live) / "config", generation)
        except Exception as exc:  # the copy is a safeguard; without it crawls read the live files
            log.warning("could not freeze the configuration for crawls (%s); crawls read the live files", exc)
            frozen = live
        self.live_settings, self.settings, self.generation = live, frozen, generation
        self.metrics.generation.set(generation)
        self.metrics.loaded_at.set(time.time())
        if ruleset is not None:
            self.metrics.rule_topics.set(ruleset.topics)

    def reload(self) -> bool:
        """Re-read settings and rules; on any problem keep the running configuration."""
        from yuqing.errors import YuqingError

        problems: list[str] = []
        try:
            live, ruleset = load_validated(self.config_path)
            if live.database_url() != self.live_settings.database_url():
                raise ChangeNeedsRestart("the database changed: restart the daemon to use the new one")
            if live.daemon.listen != self.live_settings.daemon.listen:
                log.warning("daemon.listen changed: it takes effect at the next restart")
        except YuqingError as exc:
            problems = exc.show().splitlines()
        except Exception as exc:  # keep running whatever a broken file does to a loader
            log.exception("reload failed unexpectedly")
            problems = [f"{type(exc).__name__}: {exc}"]
        now = datetime.now(UTC).isoformat()
        if problems:
            for line in problems:
                log.error("reload refused: %s", line)
            log.error("reload refused: keeping the running configuration (generation %d)", self.generation)
            self.metrics.reloads.labels("invalid").inc()
            self.last_reload = {"at": now, "ok": False, "generation": self.generation, "problems": problems}
            self._write_state()
            return False
        self._accept(live, ruleset)
        if self.redactor is not None:
            from yuqing.logs import settings_secrets

            self.redactor.secrets = settings_secrets(live)  # a new password or robot key is masked too
        self._build_jobs()
        log.info(
            "reloaded: configuration generation %d, %d sources, %d units",
            self.generation,
            len(live.sources),
            len(live.units),
        )
        self.metrics.reloads.labels("ok").inc()
        self.last_reload = {"at": now, "ok": True, "generation": self.generation, "problems": []}
        self._write_state()
        return True

    def _write_state(self) -> None:
        from yuqing.runlock import state_path, write_json

        write_json(
            state_path(self.live_settings),
            {
                "pid": os.getpid(),
                "started_at": self.started_at.isoformat(),
                "generation": self.generation,
                "config": str(self.settings.path),
                "listen": self._http.address if self._http else None,
                "last_reload": self.last_reload,
                "stopping": self.stopping.is_set(),
            },
        )

    # ---- jobs ---------------------------------------------------------------------------

    def _build_jobs(self) -> None:
        """(Re)create every job from the running settings; first runs follow what the database says."""
        sched = self._scheduler
        assert sched is not None
        s = self.settings
        tz = s.tz
        grace = max(1, int(s.daemon.misfire_grace.total_seconds()))
        jitter = int(s.daemon.jitter.total_seconds())
        sched.remove_all_jobs()
        now = datetime.now(UTC)
        starts = self._first_crawls(now)
        common: dict[str, Any] = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": grace,
            "replace_existing": True,
        }
        for src in s.sources:
            if not src.enabled:
                continue
            sched.add_job(
                self._guard(f"crawl:{src.id}", self._crawl, src.id),
                IntervalTrigger(seconds=src.every.total_seconds(), jitter=jitter or None, timezone=tz),
                id=f"crawl:{src.id}",
                name=f"crawl {src.id}",
                next_run_time=starts[src.id],
                executor="crawl",
                **common,
            )
        for unit in s.units:
            sched.add_job(
                self._guard(f"digest:{unit.id}", self._digest, unit.id),
                cron_trigger(unit.digest, tz),
                id=f"digest:{unit.id}",
                name=f"digest {unit.id}",
                **common,
            )
        sched.add_job(
            self._guard("daily", self._daily),
            cron_trigger(s.daemon.daily, tz),
            id="daily",
            name="daily checks",
            **common,
        )
        sched.add_job(
            self._heartbeat,
            IntervalTrigger(seconds=HEARTBEAT_SECONDS, timezone=tz),
            id="heartbeat",
            name="heartbeat",
            **common,
        )
        # Work whose time passed while the daemon was not running: digests and daily checks now.
        sched.add_job(self._guard("catch-up", self._catch_up), id="catch-up", name="catch-up", **common)
        log.info(
            "jobs: %d crawl, %d digest, daily at '%s' (%s); first crawls: %s",
            sum(1 for x in s.sources if x.enabled),
            len(s.units),
            s.daemon.daily,
            s.timezone,
            ", ".join(f"{k} {v.astimezone(tz):%H:%M:%S}" for k, v in starts.items()) or "none",
        )

    def _first_crawls(self, now: datetime) -> dict[str, datetime]:
        """When each source is next due: its last crawl plus `every`, at once when never crawled or
        when its last run was abandoned (redone, never half-recorded). Spread by the jitter."""
        from sqlalchemy import select

        from yuqing.storage import CrawlRun, SourceState

        with self.db.session() as sess:
            last = {r.source_id: r.last_crawl_at for r in sess.scalars(select(SourceState))}
            abandoned = set(
                sess.scalars(
                    select(CrawlRun.source_id).where(
                        CrawlRun.status == "abandoned", CrawlRun.started_at >= now - timedelta(days=1)
                    )
                )
            )
        jitter = self.settings.daemon.jitter.total_seconds()
        out = {}
        for src in self.settings.sources:
            if not src.enabled:
                continue
            at = last.get(src.id)
            due = now if at is None or src.id in abandoned else max(now, at + src.every)
            out[src.id] = due + timedelta(seconds=random.uniform(0, min(jitter, 2.0)))
        return out

    def _guard(self, name: str, fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
        """Run a job unless stopping; count it as running (stop waits for it); log its failure."""

        def run() -> None:
            if self.stopping.is_set():
                return
            with self._running_lock:
                self._running[name] = time.time()
            try:
                fn(*args)
            except Exception:
                self.metrics.job_errors.labels(name.split(":")[0]).inc()
                log.exception("job %s failed", name)
            finally:
                with self._running_lock:
                    self._running.pop(name, None)

        return run

    def _crawl(self, source_id: str) -> None:
        import yuqing.jobs as jobs

        result = jobs.crawl_job(self.settings, self.db, [source_id])
        self.metrics.record_crawl(result)
        self._after_crawl(len(result.summaries))
        for s in result.summaries:
            log.info(
                "crawl %s: %s, %d pages, %d new posts, %d new matches%s",
                s.source_id,
                s.status,
                s.pages,
                s.new_posts,
                s.new_matches,
                f" ({s.error})" if s.error else "",
            )

    def _after_crawl(self, crawls: int) -> None:
        """Count finished crawls; when tracing memory, write a snapshot every TRACE_EVERY of them."""
        with self._running_lock:
            before = self._crawls_done
            self._crawls_done += crawls
            after = self._crawls_done
        if self._trace_dir is None or before // TRACE_EVERY == after // TRACE_EVERY:
            return
        import gc
        import tracemalloc

        if not tracemalloc.is_tracing():
            return
        gc.collect()
        path = Path(self._trace_dir) / f"crawls-{after:05d}.tracemalloc"
        tracemalloc.take_snapshot().dump(str(path))
        log.info("memory trace: %d crawls, snapshot in %s", after, path)

    def _digest(self, unit_id: str) -> None:
        import yuqing.jobs as jobs

        planned = jobs.digest_job(self.settings, self.db, [unit_id])
        send = jobs.send(self.settings, self.db)
        self.metrics.record_send(send)
        log.info("digest %s: %d planned, %d sent, %d failed", unit_id, planned, send.sent, send.failed)

    def _daily(self) -> None:
        """The daily checks, in a child process: the ledger's checks (trends, events) load libraries
        the daemon would otherwise carry for the rest of its life, for a job that runs once a day."""
        import yuqing.jobs as jobs

        cmd = [sys.executable, "-m", "scheduler", "daily-check", str(Path(self.settings.path).resolve())]
        limit = DAILY_TIME_LIMIT
        try:
            # Its log goes where the daemon's goes (inherited stderr or the same log file).
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            log.error("daily checks: stopped after %.0fs; they run again at the next daily time", limit)
            return
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            log.error("daily checks failed (exit %s); the lines above say why", done.returncode)
            self.metrics.job_errors.labels("daily").inc()
            return
        result = json.loads(lines[-1])
        send = jobs.send(self.settings, self.db)
        self.metrics.record_send(send)
        log.info(
            "daily checks: %d source problems told, pruned %d posts and %d crawl records%s",
            result["source_problems_reported"],
            result["pruned_posts"],
            result["pruned_runs"],
            f"; ledger: {result['ledger']}" if result.get("ledger") else "",
        )

    def _catch_up(self) -> None:
        import yuqing.jobs as jobs

        now = datetime.now(UTC)
        units = jobs.due_digests(self.settings, self.db, now)
        if units:
            log.info("catch-up: digests due since the last run: %s", ", ".join(units))
            jobs.digest_job(self.settings, self.db, units, now)
        abandoned = jobs.abandon_stale_runs(self.settings, self.db, now)
        if abandoned:
            log.info(
                "catch-up: %d crawl runs left running by a dead process recorded as abandoned", abandoned
            )
        if jobs.daily_due(self.settings, self.db, now):
            self._daily()
        else:
            self.metrics.record_send(jobs.send(self.settings, self.db))

    def _heartbeat(self) -> None:
        self.last_heartbeat = time.time()
        self.metrics.heartbeat.set(self.last_heartbeat)
        if self._job_server is not None and not self.stopping.is_set():
            self._job_server.check()
        if not self.lock.alive():
            log.error("lost the scheduler lock (database session gone): stopping so that one scheduler runs")
            self.request_stop()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, JobSubmissionEvent) and event.job_id != "catch-up":
            planned = max(event.scheduled_run_times)
            self.metrics.record_lag((datetime.now(UTC) - planned).total_seconds())
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.metrics.jobs_skipped.labels(event.job_id, "still_running").inc()
            log.info("job %s skipped: its previous run is still going", event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            self.metrics.jobs_skipped.labels(event.job_id, "misfired").inc()
            log.warning("job %s missed its time by more than the misfire grace time", event.job_id)
        elif isinstance(event, JobExecutionEvent) and event.exception is not None:
            self.metrics.job_errors.labels(event.job_id.split(":")[0]).inc()

    # ---- health -------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        from sqlalchemy import text

        db_ok = True
        try:
            with self.db.session() as s:
                s.execute(text("SELECT 1"))
        except Exception:
            db_ok = False
        beat_age = time.time() - self.last_heartbeat
        running = bool(self._scheduler and self._scheduler.running) and not self.stopping.is_set()
        ok = db_ok and running and beat_age < 3 * HEARTBEAT_SECONDS + 5
        with self._running_lock:
            busy = sorted(self._running)
        return ok, {
            "status": "ok" if ok else "unhealthy",
            "database": "ok" if db_ok else "unreachable",
            "scheduler": "running" if running else "stopped",
            "heartbeat_age_seconds": round(beat_age, 1),
            "generation": self.generation,
            "last_reload": self.last_reload,
            "running_jobs": busy,
        }

    # ---- lifecycle ----------------------------------------------------------------------

    def request_stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload_requested = True
        self._wake.set()

    def run(self, ruleset: RulesCheck | None = None) -> int:
        """Start everything, serve until asked to stop, then stop within `daemon.stop_timeout`."""
        from yuqing.metrics import DatabaseCollector, HttpEndpoint

        if self._trace_dir is not None:
            import tracemalloc

            Path(self._trace_dir).mkdir(parents=True, exist_ok=True)
            tracemalloc.start(int(os.environ.get(TRACEMALLOC_ENV + "_FRAMES", "10")))
            log.info("memory trace: tracing allocations, snapshots in %s", self._trace_dir)
        bound_sqlite_cache(self.db)
        self._accept(self.live_settings, ruleset)
        s = self.settings
        self._scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(2),
                # Crawl jobs mostly wait on their crawl process; this bounds how many run at once.
                "crawl": ThreadPoolExecutor(s.crawl.parallel_sources),
            },
            timezone=s.tz,
        )
        self._scheduler.add_listener(
            self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR
        )
        self.metrics.registry.register(DatabaseCollector(lambda: (self.db, self.settings)))
        self.metrics.started.set(time.time())
        self._http = HttpEndpoint(s.daemon.listen, self.metrics, self.health).start()
        if os.environ.get("YUQING_JOB_SERVER") != "off":
            self._job_server = JobServer().start()
        previous = {
            sig: signal.signal(sig, handler)
            for sig, handler in (
                (signal.SIGTERM, lambda *_: self.request_stop()),
                (signal.SIGINT, lambda *_: self.request_stop()),
                (signal.SIGHUP, lambda *_: self.request_reload()),
            )
        }
        try:
            self._scheduler.start(paused=True)
            self._build_jobs()
            self._scheduler.resume()
            self._write_state()
            log.info(
                "yuqing daemon started (pid %d): /metrics and /healthz on http://%s, configuration generation %d",
                os.getpid(),
                self._http.address,
                self.generation,
            )
            while not self.stopping.is_set():
                self._wake.wait(1.0)
                self._wake.clear()
                if self._reload_requested and not self.stopping.is_set():
                    self._reload_requested = False
                    log.info("SIGHUP: reloading %s", self.config_path)
                    self.reload()
            return self._stop()
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _stop(self) -> int:
        """Stop taking work; let running jobs finish for half the stop timeout, then kill crawl
        processes (their runs are recorded as abandoned and redone later) and leave in time."""
        import yuqing.jobs as jobs

        limit = self.settings.daemon.stop_timeout.total_seconds()
        deadline = time.monotonic() + limit
        stop_at = datetime.now(UTC)
        log.info("stopping: no new work; waiting up to %.0fs for running jobs", limit)
        assert self._scheduler is not None
        self._scheduler.pause()
        self._write_state()
        flights = jobs.in_flight(self.db, self.started_at)
        if not self._wait_idle(time.monotonic() + limit / 2):
            children = crawl_children()
            if children:
                log.warning("stopping: ending %d crawl processes that did not finish in time", len(children))
                _kill(children, signal.SIGTERM)
                if not self._wait_idle(min(deadline - 1.0, time.monotonic() + 3.0)):
                    _kill(crawl_children(), signal.SIGKILL)
            self._wait_idle(deadline - 1.0)
        abandoned = jobs.abandon(self.db, flights, stop_at, datetime.now(UTC))
        if abandoned:
            log.warning(
                "stopping: %d crawl runs recorded as abandoned; they are redone at the next start", abandoned
            )
        self._scheduler.shutdown(wait=False)
        if self._job_server is not None:
            self._job_server.stop()
        if self._http:
            self._http.stop()
        if self.busy():
            log.warning(
                "stopped with jobs still running (%s): their work is redone at the next start",
                ", ".join(self.busy()),
            )
        log.info("yuqing daemon stopped")
        return 0

    def busy(self) -> list[str]:
        with self._running_lock:
            return sorted(self._running)

    def _wait_idle(self, until: float) -> bool:
        while time.monotonic() < until:
            with self._running_lock:
                if not self._running:
                    return True
            time.sleep(0.1)
        with self._running_lock:
            return not self._running


class ChangeNeedsRestart(YuqingError):
    """A reload changed something only a restart can apply (the database)."""


@dataclass(frozen=True)
class RulesCheck:
    """The outcome of compiling the configured rules: how many topics they define."""

    topics: int


def validate_rules(settings: Any) -> RulesCheck:
    """Compile the configured rules completely; raises RuleError with file:line problems.

    In a child process: a compiled rule set carries jieba's dictionary (about 80 MB) that the
    daemon itself never uses (crawls match in their own processes), and memory a Python process
    once took is not given back.
    """
    from yuqing.errors import Problem, RuleError

    cmd = [sys.executable, "-m", "scheduler", "check-rules", str(Path(settings.path).resolve())]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuleError([Problem(str(settings.path), None, None, f"the rules could not be loaded: {tail}")])
    answer = json.loads(lines[-1])
    if answer["problems"]:
        raise RuleError([Problem(**p) for p in answer["problems"]])
    return RulesCheck(int(answer["topics"]))


def _check_rules(path: str) -> dict[str, Any]:
    """In the child: load settings and rules, and say what came of it."""
    from dataclasses import asdict

    from rules import load_ruleset
    from yuqing.config import load_settings
    from yuqing.errors import ProblemsError

    try:
        ruleset = load_ruleset(load_settings(path, check_topics=False))
    except ProblemsError as exc:
        return {"topics": 0, "problems": [asdict(p) for p in exc.problems]}
    return {"topics": len(ruleset.topics), "problems": []}


def load_validated(config_path: str) -> tuple[Any, RulesCheck]:
    """Settings and rules, both validated; raises ConfigError (exit 2) or RuleError (exit 1).

    A broken rule file first shows up as settings naming a topic that "does not exist" (its file
    could not be read); the rule file's own located problem is then reported with it, so the
    operator sees the cause and not only the symptom.
    """
    from yuqing.config import load_settings
    from yuqing.errors import ConfigError, RuleError

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        try:
            validate_rules(load_settings(config_path, check_topics=False))
        except (ConfigError, RuleError) as rules_exc:
            extra = [p for p in rules_exc.problems if p not in exc.problems]
            raise ConfigError(extra + exc.problems) from None
        raise
    return settings, validate_rules(settings)


if __name__ == "__main__":
    # `python -m scheduler check-rules SETTINGS`: the child validate_rules() starts.
    # `python -m scheduler daily-check SETTINGS`: the child Daemon._daily() starts.
    if len(sys.argv) == 3 and sys.argv[1] == "check-rules":
        print(json.dumps(_check_rules(sys.argv[2]), ensure_ascii=False))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "daily-check":
        from dataclasses import asdict

        import yuqing.jobs as jobs
        from yuqing.config import load_settings
        from yuqing.logs import setup_logging
        from yuqing.storage import open_database

        settings = load_settings(sys.argv[2], check_topics=False)
        setup_logging(settings)
        database = open_database(settings.database_url())
        print(json.dumps(asdict(jobs.daily_check(settings, database)), ensure_ascii=False, default=str))
        sys.exit(0)
    sys.exit("usage: python -m scheduler check-rules|daily-check SETTINGS")
