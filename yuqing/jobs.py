"""The units of scheduled work: a crawl job, the due work of one cron run, the daily checks.

`yuqing crawl`, `yuqing run-once` and the daemon (`scheduler.py`) all call these, so a crawl from
cron and a crawl from the daemon do exactly the same thing:

    crawl_job:   crawler.run.crawl -> yuqing.events.cluster_posts -> alerts.outbox.plan_urgent -> send_pending
    run_once:    due crawls -> due digests (plan_digests) -> send_pending -> daily checks when due
    daily_check: source problems told to the operator once, ledger overdue work, retention pruning

The other areas are imported inside the functions that use them, so that the daemon process, which
only plans work, never loads Scrapy or jieba's dictionary: the crawl and the matching run in child
processes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update

from .config import Settings
from .marks import get_mark, set_mark
from .records import CrawlSummary
from .storage import Base, CrawlRun, Database, DeliveryRow, MatchRow, PostRow, SourceState, utcnow

log = logging.getLogger("yuqing.jobs")

DAILY_MARK = "daily"
_PRUNE_BATCH = 500
# Planning and sending run one at a time in a process (the daemon runs crawls in parallel threads);
# between processes the run lock (yuqing.runlock) keeps one scheduler.
_deliver_lock = threading.RLock()


def digest_mark(unit_id: str) -> str:
    return f"digest:{unit_id}"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


@dataclass(frozen=True)
class SendResult:
    """What `alerts.outbox.send_pending` reported (or that it could not run)."""

    sent: int = 0
    failed: int = 0
    parked: int = 0
    errors: tuple[str, ...] = ()

    @classmethod
    def of(cls, report: Any) -> SendResult:
        return cls(report.sent, report.failed, report.parked, tuple(report.errors))


@dataclass(frozen=True)
class CrawlJobResult:
    """One crawl job: per-source summaries, then what followed from the new posts."""

    summaries: tuple[CrawlSummary, ...]
    clustered: int = 0
    urgent_planned: int = 0
    send: SendResult = SendResult()
    cases_opened: int = 0
    early_warnings: int = 0

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(s.source_id for s in self.summaries if s.status not in ("ok", "skipped"))


@dataclass(frozen=True)
class CheckResult:
    """The daily checks: problems told to the operator, ledger work, rows pruned."""

    source_problems_reported: int = 0
    ledger: str | None = None
    pruned_posts: int = 0
    pruned_runs: int = 0


@dataclass(frozen=True)
class RunOnceResult:
    """Everything one `run-once` did."""

    crawl: CrawlJobResult | None
    digests_due: tuple[str, ...] = ()
    digests_planned: int = 0
    send: SendResult = SendResult()
    checks: CheckResult | None = None


# --------------------------------------------------------------------------------------------
# Crawling


def crawl_job(
    settings: Settings, db: Database, source_ids: list[str] | None = None, now: datetime | None = None
) -> CrawlJobResult:
    """Crawl (each source in its own process), gather the new posts into events, open the cases
    they call for, warn of spikes, plan the urgent alerts and send."""
    from alerts.outbox import plan_urgent
    from crawler.run import crawl

    from .events import cluster_posts
    from .ledger_checks import auto_open
    from .trends import check_spikes

    summaries = tuple(crawl(settings, source_ids, db=db))
    clustered = opened = warned = 0
    at = _now(now)
    with _deliver_lock:
        if any(s.new_posts for s in summaries):
            clustered = int(cluster_posts(db, settings, None) or 0)
            opened = len(auto_open(db, settings, at))
            warned = len(check_spikes(db, settings, at))
        urgent = len(plan_urgent(db, settings, at))
        result = send(settings, db, now)
    return CrawlJobResult(summaries, clustered, urgent, result, opened, warned)


def send(settings: Settings, db: Database, now: datetime | None = None) -> SendResult:
    """Send what the outbox holds (digests, alerts, notices); delivery errors are logged, not raised."""
    from alerts.outbox import send_pending

    with _deliver_lock:
        result = SendResult.of(send_pending(db, settings, _now(now)))
    for err in result.errors:
        log.warning("delivery: %s", err)
    return result


# --------------------------------------------------------------------------------------------
# Digests


def last_digest_at(db: Database, unit_id: str) -> datetime | None:
    """When the unit's digest last ran: its newest digest delivery, or the mark left by a run that
    found nothing to send."""
    with db.session() as s:
        sent = s.scalar(
            select(func.max(DeliveryRow.created_at)).where(
                DeliveryRow.kind == "digest", DeliveryRow.unit_id == unit_id
            )
        )
    if sent is not None and sent.tzinfo is None:  # max() bypasses the column type on some backends
        from datetime import UTC

        sent = sent.replace(tzinfo=UTC)
    mark = get_mark(db, digest_mark(unit_id))
    known = [t for t in (sent, mark) if t is not None]
    return max(known) if known else None


def due_digests(settings: Settings, db: Database, now: datetime) -> list[str]:
    """The units whose digest schedule has passed since their last digest."""
    from scheduler import digest_due

    return [u.id for u in settings.units if digest_due(u, last_digest_at(db, u.id), now, settings.tz)]


def digest_job(settings: Settings, db: Database, unit_ids: list[str], now: datetime | None = None) -> int:
    """Plan the digests of these units (only new matches go in one) and mark them as run."""
    from alerts.outbox import plan_digests

    if not unit_ids:
        return 0
    at = _now(now)
    with _deliver_lock:
        planned = len(plan_digests(db, settings, at, unit_ids=unit_ids))
        for unit_id in unit_ids:
            set_mark(db, digest_mark(unit_id), at)
    return planned


# --------------------------------------------------------------------------------------------
# Daily checks


def daily_check(settings: Settings, db: Database, now: datetime | None = None) -> CheckResult:
    """Source problems told once, the ledger's overdue work, retention; marks the day as checked."""
    from .ledger import daily_check as ledger_daily_check

    at = _now(now)
    reported = report_source_problems(settings, db, at)
    outcome = ledger_daily_check(db, settings, at)
    ledger_note = None if outcome is None else str(outcome)
    abandon_stale_runs(settings, db, at)
    posts, runs = prune(settings, db, at)
    set_mark(db, DAILY_MARK, at)
    return CheckResult(reported, ledger_note, posts, runs)


def report_source_problems(settings: Settings, db: Database, now: datetime) -> int:
    """Tell the operator, once, of each source problem the crawl recorded but did not report
    (no operator address was configured then, or the crawl process died first)."""
    from crawler.health import tell_problem

    with db.session() as s:
        untold = list(
            s.scalars(
                select(SourceState.source_id).where(
                    SourceState.status == "problem", SourceState.problem_reported_at.is_(None)
                )
            )
        )
    return sum(tell_problem(db, settings, source_id, now) for source_id in untold)


def _post_references() -> list[Any]:
    """Columns of other tables (cases, ...) that point at posts.id and so keep a post alive."""
    from . import ledger_models  # noqa: F401  (its tables register on Base when imported)

    refs = []
    for table in Base.metadata.tables.values():
        for fk in table.foreign_keys:
            # A row that goes with the post (ON DELETE CASCADE / SET NULL, e.g. its sketch) does not
            # keep it; one that would block or lose meaning without it (a case's evidence) does.
            dependent = (fk.ondelete or "").upper() in ("CASCADE", "SET NULL")
            if fk.column.table.name == "posts" and table.name not in ("posts", "matches") and not dependent:
                refs.append(fk.parent)
    return refs


def prune(settings: Settings, db: Database, now: datetime) -> tuple[int, int]:
    """Delete posts older than `daemon.retention_days` that matched nothing (and nothing refers to),
    and finished crawl records older than that. Matched posts are the ledger's and stay."""
    cutoff = now - timedelta(days=settings.daemon.retention_days)
    keep = [select(col).where(col.is_not(None)) for col in _post_references()]
    posts = 0
    while True:
        with db.session() as s:
            q = (
                select(PostRow.id)
                .where(PostRow.fetched_at < cutoff)
                .where(~select(MatchRow.id).where(MatchRow.post_id == PostRow.id).exists())
                .limit(_PRUNE_BATCH)
            )
            for sub in keep:
                q = q.where(PostRow.id.not_in(sub))
            ids = list(s.scalars(q))
            if not ids:
                break
            # duplicate_of is ON DELETE SET NULL in the schema; do it explicitly for SQLite files
            # opened without foreign keys.
            s.execute(
                update(PostRow).where(PostRow.duplicate_of.in_(ids)).values(duplicate_of=None)
            )
            s.execute(delete(PostRow).where(PostRow.id.in_(ids)))
            posts += len(ids)
    with db.session() as s:
        done = s.execute(delete(CrawlRun).where(CrawlRun.started_at < cutoff, CrawlRun.status != "running"))
        runs = cast("CursorResult[Any]", done).rowcount
    if posts or runs:
        log.info(
            "retention: pruned %d unmatched posts and %d crawl records older than %s",
            posts,
            runs,
            cutoff.date(),
        )
    return posts, int(runs or 0)


@dataclass(frozen=True)
class InFlight:
    """A crawl run in progress when the daemon began to stop, and its source's health before it."""

    run_id: int
    source_id: str
    health: tuple[tuple[str, Any], ...]


_HEALTH_FIELDS = ("last_crawl_at", "consecutive_failures", "last_error", "status", "problem", "problem_since")


def in_flight(db: Database, since: datetime) -> list[InFlight]:
    """The crawl runs started since `since` that are still running."""
    with db.session() as s:
        runs = list(
            s.scalars(select(CrawlRun).where(CrawlRun.status == "running", CrawlRun.started_at >= since))
        )
        out = []
        for run in runs:
            state = s.get(SourceState, run.source_id)
            health = tuple((f, getattr(state, f)) for f in _HEALTH_FIELDS) if state is not None else ()
            out.append(InFlight(run.id, run.source_id, health))
    return out


def abandon(db: Database, flights: list[InFlight], since: datetime, now: datetime) -> int:
    """Record the runs the daemon ended at stop as abandoned, not as failures of their source.

    Their crawl process was killed, so `crawler.run` recorded a failure; that is the daemon's doing,
    not the site's, so the source's health goes back to what it was before the run (its failure
    count, its last crawl time, so that the source is due again and the work is redone). Posts the
    run stored are whole rows, each stored with its matches, and stay.
    """
    n = 0
    with db.session() as s:
        for flight in flights:
            run = s.get(CrawlRun, flight.run_id)
            if run is None or run.status == "ok" or (run.finished_at is not None and run.finished_at < since):
                continue
            run.status = "abandoned"
            run.finished_at = run.finished_at or now
            run.error = "abandoned: the daemon stopped while it ran; redone at the next start"
            state = s.get(SourceState, flight.source_id)
            if state is not None and flight.health:
                for name, value in flight.health:
                    setattr(state, name, value)
            n += 1
    return n


def abandon_stale_runs(settings: Settings, db: Database, now: datetime) -> int:
    """Runs still 'running' long after any crawl's time limit: their process died with its parent."""
    cutoff = now - settings.crawl.job_time_limit - timedelta(minutes=1)
    with db.session() as s:
        done = s.execute(
            update(CrawlRun)
            .where(CrawlRun.status == "running", CrawlRun.started_at < cutoff)
            .values(
                status="abandoned",
                finished_at=now,
                error="abandoned: its process died without recording an end",
            )
        )
        n = cast("CursorResult[Any]", done).rowcount
    return int(n or 0)


def daily_due(settings: Settings, db: Database, now: datetime) -> bool:
    from scheduler import cron_due

    return cron_due(settings.daemon.daily, get_mark(db, DAILY_MARK), now, settings.tz)


# --------------------------------------------------------------------------------------------
# One cron run


def run_once(settings: Settings, db: Database, now: datetime | None = None) -> RunOnceResult:
    """The due work, once: crawls whose interval has passed, digests whose schedule has passed since
    the last one, sending, and the daily checks when a day has turned."""
    from crawler.run import due_sources

    crawl: CrawlJobResult | None = None
    due = list(due_sources(settings, db, _now(now)))
    if due:
        crawl = crawl_job(settings, db, due, now)
    at = _now(now)
    units = due_digests(settings, db, at)
    planned = digest_job(settings, db, units, at)
    sent = send(settings, db, now)
    checks = daily_check(settings, db, now) if daily_due(settings, db, _now(now)) else None
    return RunOnceResult(crawl, tuple(units), planned, sent, checks)
