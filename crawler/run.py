"""Crawl sources, each in its own process, and record what happened.

`crawl()` is what `yuqing crawl`, `run-once` and the daemon call: it starts `python -m crawler.job`
per source (at most `crawl.parallel_sources` at once, each with `crawl.job_time_limit`), reads the
child's one-line JSON summary, and records the run in `crawl_runs` and the source's health in
`source_state`, also when the child crashed or was killed for running too long. Nothing is sent
from here. `due_sources()` says which sources are due; `recheck()` re-fetches stored posts for the
ledger's follow-up.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from yuqing.config import Settings, SourceSettings
from yuqing.errors import UsageError, did_you_mean
from yuqing.records import CrawlSummary
from yuqing.storage import CrawlRun, Database, PostRow, SourceState, open_database, utcnow

from . import health
from .job import DATABASE_ENV

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def _sources(settings: Settings, source_ids: list[str] | None) -> list[SourceSettings]:
    if not source_ids:
        return [s for s in settings.sources if s.enabled]
    known = {s.id for s in settings.sources}
    for sid in source_ids:
        if sid not in known:
            raise UsageError(f"no source '{sid}'{did_you_mean(sid, known)}")
    return [settings.source(sid) for sid in dict.fromkeys(source_ids)]


def _child(settings: Settings, db: Database, source: SourceSettings, extra: list[str]) -> tuple[dict[str, Any] | None, str]:
    """Run one job process; its summary (None when it died or timed out) and why not."""
    cmd = [
        sys.executable, "-m", "crawler.job",
        "--config", str(Path(settings.path).resolve()),
        "--source", source.id,
        *extra,
    ]  # fmt: skip
    # The database URL goes by environment, not argv: a password in argv is visible to every `ps`.
    env = {**os.environ, DATABASE_ENV: db.engine.url.render_as_string(hide_password=False)}
    limit = settings.crawl.job_time_limit.total_seconds()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT, check=False, env=env)
    except subprocess.TimeoutExpired:
        return None, f"timeout: the crawl ran longer than {settings.crawl.job_time_limit} and was stopped"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        try:
            return json.loads(lines[-1]), ""
        except json.JSONDecodeError:
            pass
    tail = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
    return None, f"the crawl process exited with code {done.returncode}: {tail[0][:300]}"


def _crawl_one(settings: Settings, db: Database, source: SourceSettings) -> CrawlSummary:
    now = utcnow()
    with db.session() as s:
        state = s.get(SourceState, source.id)
        if state is not None and state.retry_after is not None and state.retry_after > now:
            return CrawlSummary(source.id, "skipped", error=f"waiting until {state.retry_after:%Y-%m-%d %H:%M} UTC: {state.last_error}")
        run = CrawlRun(source_id=source.id, started_at=now, status="running")
        s.add(run)
        s.flush()
        run_id = run.id
    started = time.monotonic()
    result, why = _child(settings, db, source, [])
    duration = round(time.monotonic() - started, 3)
    if result is None:
        status = "timeout" if why.startswith("timeout") else "failed"
        summary = CrawlSummary(source.id, status, errors=1, error=why, duration=duration)
        result = {}
    else:
        summary = CrawlSummary(
            source_id=source.id,
            status=result["status"],
            requests=result["requests"],
            pages=result["pages"],
            new_posts=result["new_posts"],
            new_matches=result["new_matches"],
            errors=result["errors"],
            error=result["error"],
            duration=duration,
        )
    health.record(
        db, settings, source, run_id, summary,
        empty_extractions=int(result.get("empty_extractions", 0)),
        articles=int(result.get("articles", 0)),
        robots_unavailable=bool(result.get("robots_unavailable")),
        stats={k: v for k, v in result.items() if k in ("not_modified", "articles", "error_list", "empty_extractions")},
        now=utcnow(),
    )  # fmt: skip
    return summary


def crawl(settings: Settings, source_ids: list[str] | None = None, *, db: Database | None = None) -> list[CrawlSummary]:
    """Crawl the named (default: all enabled) sources now; one summary per source, in order."""
    sources = _sources(settings, source_ids)
    own = db is None
    database = db or open_database(settings.database_url())
    try:
        skipped = [CrawlSummary(s.id, "skipped", error="disabled in settings") for s in sources if not s.enabled]
        active = [s for s in sources if s.enabled]
        with ThreadPoolExecutor(max_workers=settings.crawl.parallel_sources) as pool:
            done = list(pool.map(lambda src: _crawl_one(settings, database, src), active))
        by_id = {x.source_id: x for x in done + skipped}
        return [by_id[s.id] for s in sources]
    finally:
        if own:
            database.dispose()


def due_sources(settings: Settings, db: Database, now: datetime) -> list[str]:
    """Enabled sources whose last crawl is older than their `every` (or never crawled), not waiting."""
    with db.session() as s:
        states = {st.source_id: st for st in s.scalars(select(SourceState))}
    due = []
    for src in settings.sources:
        if not src.enabled:
            continue
        st = states.get(src.id)
        if st is not None and st.retry_after is not None and st.retry_after > now:
            continue
        if st is None or st.last_crawl_at is None or now - st.last_crawl_at >= src.every:
            due.append(src.id)
    return due


def recheck(settings: Settings, post_ids: list[int], *, db: Database | None = None) -> dict[int, str]:
    """Fetch stored posts again: 'unchanged' | 'edited' | 'gone' | 'error' | 'new_replies:N' per id."""
    own = db is None
    database = db or open_database(settings.database_url())
    results: dict[int, str] = {}
    try:
        with database.session() as s:
            rows = s.execute(select(PostRow.id, PostRow.source_id).where(PostRow.id.in_(post_ids))).all()
        by_source: dict[str, list[int]] = {}
        for pid, sid in rows:
            by_source.setdefault(sid, []).append(pid)
        known = {s.id for s in settings.sources}
        for sid, ids in by_source.items():
            if sid not in known:
                results.update({pid: "error" for pid in ids})
                continue
            result, why = _child(settings, database, settings.source(sid), ["--recheck", ",".join(map(str, ids))])
            answers = (result or {}).get("recheck") or {}
            for pid in ids:
                results[pid] = answers.get(str(pid), "error")
            if result is None:
                log.warning("recheck of %s failed: %s", sid, why)
        for pid in post_ids:
            results.setdefault(pid, "error")
        return results
    finally:
        if own:
            database.dispose()
