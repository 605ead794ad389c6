"""Source health: each finished crawl run updates the source's state; problems are reported once.

A source becomes a *problem* when it fails `failures_before_problem` runs in a row, when it has
yielded no new post for much longer than expected, or when its extraction suddenly comes back empty
(every article page fetched, nothing extracted: usually a site redesign). The problem is set in
`source_state` (the digest's operator section and `yuqing sources` read it) and enqueued once to the
operator through the outbox (`alerts.outbox.enqueue_message` with a dedupe key), never every run.
A healthy run clears it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.config import Settings, SourceSettings
from yuqing.records import CrawlSummary
from yuqing.storage import CrawlRun, Database, SourceState

log = logging.getLogger(__name__)

# "Much longer than expected": this many crawl intervals, and never less than the floor below.
SILENT_INTERVALS = 48
SILENT_FLOOR = timedelta(days=3)
# How long a source whose robots.txt could not be read waits before the next try.
ROBOTS_RETRY = timedelta(hours=1)


def state_of(s: Session, source: SourceSettings) -> SourceState:
    state = s.get(SourceState, source.id)
    if state is None:
        state = SourceState(source_id=source.id, kind=source.kind, consecutive_failures=0, status="new")
        s.add(state)
    return state


def record(
    db: Database,
    settings: Settings,
    source: SourceSettings,
    run_id: int,
    summary: CrawlSummary,
    *,
    empty_extractions: int,
    articles: int,
    robots_unavailable: bool,
    stats: dict[str, object],
    now: datetime,
) -> str | None:
    """Record a finished run and judge the source; the problem text when one is newly raised."""
    with db.session() as s:
        run = s.get(CrawlRun, run_id)
        assert run is not None
        run.finished_at = now
        run.status = summary.status
        run.requests, run.pages = summary.requests, summary.pages
        run.new_posts, run.new_matches = summary.new_posts, summary.new_matches
        run.errors, run.error = summary.errors, summary.error
        run.empty_extractions = empty_extractions
        run.stats = stats
        state = state_of(s, source)
        state.kind = source.kind
        state.last_crawl_at = now
        problem: str | None = None
        if summary.status == "ok":
            state.consecutive_failures = 0
            state.last_success_at = now
            state.last_error = None
            state.retry_after = None
            if summary.new_posts:
                state.last_new_post_at = now
            problem = _quiet_or_redesigned(s, source, state, empty_extractions, articles, now)
        else:
            state.consecutive_failures = (state.consecutive_failures or 0) + 1
            state.last_error = summary.error
            if robots_unavailable:
                state.retry_after = now + ROBOTS_RETRY
            if state.consecutive_failures >= settings.crawl.failures_before_problem:
                problem = f"failed {state.consecutive_failures} crawls in a row; last error: {summary.error}"
        raised = _set_problem(state, problem, now)
    if raised:
        _report(db, settings, source, raised, now)
    return raised


def _quiet_or_redesigned(s: Session, source: SourceSettings, state: SourceState, empty: int, articles: int, now: datetime) -> str | None:
    if articles and empty == articles:
        # Only "suddenly": an earlier successful run did extract posts from this source.
        earlier = s.scalar(
            select(CrawlRun.id).where(CrawlRun.source_id == source.id, CrawlRun.status == "ok", CrawlRun.new_posts > 0).limit(1)
        )
        if earlier is not None:
            return f"extraction came back empty on all {articles} article pages (site redesign?); set selectors for this source"
    since = state.last_new_post_at or state.last_success_at
    allowed = max(source.every * SILENT_INTERVALS, SILENT_FLOOR)
    if since is not None and now - since > allowed:
        return f"no new post since {since:%Y-%m-%d %H:%M} UTC (expected within {allowed})"
    return None


def _set_problem(state: SourceState, problem: str | None, now: datetime) -> str | None:
    """Update the state; the problem text only when it is new (so it is reported once)."""
    if problem is None:
        if state.status == "problem":
            log.info("source %s recovered", state.source_id)
        state.status = "ok" if state.last_success_at else "new"
        state.problem = None
        state.problem_since = None
        state.problem_reported_at = None
        return None
    already = state.status == "problem"
    state.status = "problem"
    state.problem = problem
    if not already:
        state.problem_since = now
        return problem
    return None


def _report(db: Database, settings: Settings, source: SourceSettings, problem: str, now: datetime) -> None:
    tell_problem(db, settings, source.id, now)


def tell_problem(db: Database, settings: Settings, source_id: str, now: datetime) -> bool:
    """Tell the operator of a source's standing problem, once: the outbox key names the problem's
    start, so the crawl that found it and the daily check that sweeps up the untold ones (no operator
    address then, or a crawl process that died first) can never tell it twice. False when there is
    nobody to tell yet; the problem stays recorded and the digests' operator section shows it."""
    from alerts.outbox import notify_operator

    if not settings.alerts.operator_emails or settings.smtp is None:
        return False
    with db.session() as s:
        state = s.get(SourceState, source_id)
        if state is None or state.status != "problem":
            return False
        since = state.problem_since or state.last_crawl_at or now
        detail = state.problem or state.last_error or "no detail recorded"
    try:
        where = f" ({settings.source(source_id).kind}, {settings.source(source_id).start_urls[0]})"
    except KeyError:
        where = ""
    notify_operator(
        db,
        settings,
        subject=f"[yuqing] source problem: {source_id}",
        text=(
            f"Source '{source_id}'{where} has a problem since {since.astimezone(settings.tz):%Y-%m-%d %H:%M}:\n"
            f"{detail}\n\n"
            "Check the site in a browser and the source's entry in settings.yaml; `yuqing sources` shows its health.\n"
        ),
        dedupe_key=f"source-problem:{source_id}:{since:%Y%m%dT%H%M%S}",
        now=now,
    )
    with db.session() as s:
        state = s.get(SourceState, source_id)
        if state is not None:
            state.problem_reported_at = now
    return True
