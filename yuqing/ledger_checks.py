"""The ledger's daily job: open cases, remind and escalate overdue ones, follow replied cases up.

Called as `yuqing.ledger.daily_check(db, settings, now)` by the daemon's daily job and by
`run-once`. Each step is safe to repeat: cases are unique per (event, unit), every reminder goes
through the outbox with a dedupe key naming the case, the deadline and the step (so it is sent once),
and a follow-up advances its next time only after it ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .config import SEVERITIES, Settings
from .events import cluster_posts, refresh_events
from .ledger import SYSTEM, local_date, open_case, overdue_kind, record, unit_severity
from .ledger_models import CaseRow, EventRow
from .storage import Database, PostRow
from .trends import Trend
from .workdays import workdays_between

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyCheck:
    """What one daily check did."""

    clustered: int
    events_refreshed: int
    opened: tuple[int, ...]
    reminded: tuple[int, ...]
    escalated: tuple[int, ...]
    followed_up: tuple[int, ...]
    spikes: tuple[int, ...]
    reports: tuple[int, ...]


def _enqueue() -> Callable[..., int | None] | None:
    try:
        from alerts.outbox import enqueue_message
    except ImportError:
        log.warning("alerts.outbox.enqueue_message is not available: reminders and reports are not sent")
        return None
    return enqueue_message  # type: ignore[no-any-return]


def refresh_recent_events(db: Database, settings: Settings, now: datetime) -> int:
    """Trend labels move with time even without new posts: refresh events seen in the trend windows."""
    since = now - settings.trends.recent - settings.trends.baseline
    with db.session() as s:
        ids = list(s.scalars(select(EventRow.id).where(EventRow.last_seen >= since)))
        refresh_events(s, settings, ids, now)
    return len(ids)


def auto_open(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Open a case for each (event, unit) whose severity for that unit reaches the unit's case_threshold."""
    opened: list[int] = []
    # Only events that took in posts within the event window: an older event's severity cannot have
    # changed, and a daemon that runs for months must not re-read its whole history every crawl.
    recent = select(EventRow.id).where(EventRow.severity.is_not(None), EventRow.updated_at >= now - settings.ledger.event_window)
    with db.session() as s:
        events = list(s.scalars(select(EventRow).where(EventRow.id.in_(recent))))
        existing = {
            (event_id, unit_id)
            for event_id, unit_id in s.execute(select(CaseRow.event_id, CaseRow.unit_id).where(CaseRow.event_id.in_(recent)))
        }
        todo = []
        for ev in events:
            for uid in ev.units or []:
                try:
                    unit = settings.unit(uid)
                except KeyError:
                    continue  # a unit removed from settings keeps its old matches
                if unit.case_threshold == "off" or (ev.id, uid) in existing:
                    continue
                sev = unit_severity(s, ev.id, uid)
                if sev is not None and SEVERITIES.index(sev) >= SEVERITIES.index(unit.case_threshold):
                    todo.append((ev.id, uid))
    for event_id, uid in todo:
        opened.append(open_case(db, settings, unit_id=uid, event_id=event_id, by=SYSTEM, now=now))
    return opened


def remind_overdue(db: Database, settings: Settings, now: datetime) -> tuple[list[int], list[int]]:
    """Remind the handler of each overdue case, then escalate to the leader: once per step.

    Step 1 (remind): from the first working day after the deadline, to the unit's officers (the
    handler works there). Step 2 (escalate): `ledger.escalate_after_days` working days later, to the
    unit's leader_emails. Returns (reminded case ids, escalated case ids).
    """
    enqueue = _enqueue()
    if enqueue is None:
        return [], []
    from alerts.channel import unit_targets

    today = local_date(settings, now)
    reminded: list[int] = []
    escalated: list[int] = []
    with db.session() as s:
        cases = [c for c in s.scalars(select(CaseRow).where(CaseRow.status != "closed")) if overdue_kind(c, today)]
        plan = []
        for c in cases:
            kind = overdue_kind(c, today)
            due = c.resolve_due if kind == "resolution" else c.response_due
            late = workdays_between(due, today)
            plan.append((c.id, c.unit_id, c.title, c.handler, c.leader, kind, due, late))
    for case_id, unit_id, title, handler, leader, kind, due, late in plan:
        if late < 1:
            continue  # past the date but not yet a working day late (a weekend or holiday)
        try:
            unit = settings.unit(unit_id)
        except KeyError:
            continue
        what = "首次响应" if kind == "response" else "办结"
        # The handler hears through the unit's own channels (its mailbox and group robots); the
        # leader by e-mail to leader_emails (the unit's mailbox when it names none).
        officers = [(t.name, list(t.recipients)) for t in unit_targets(unit)]
        steps = [("remind", officers, handler, reminded)]
        if late >= 1 + settings.ledger.escalate_after_days:
            leaders = list(unit.leader_emails) or list(unit.emails)
            steps.append(("escalate", [("email", leaders)] if leaders else [], leader, escalated))
        for step, channels, person, done in steps:
            if not channels:
                log.warning("case %d is overdue but unit %s has no channel for the %s", case_id, unit_id, step)
                continue
            subject = f"[台账{'督办' if step == 'escalate' else '提醒'}] 案件{case_id}「{title[:40]}」{what}已超期"
            text = (
                f"案件 {case_id}: {title}\n单位: {unit.name}\n{what}时限: {due}（已超期 {late} 个工作日）\n"
                f"承办人: {handler or '-'}  责任领导: {leader or '-'}\n\n"
                f"{'请承办人尽快处理' if step == 'remind' else '已提醒承办人但仍未处理，请责任领导督办'}。\n"
                f"yuqing cases show {case_id}\n"
            )
            deliveries = {}
            for channel, recipients in channels:
                key = f"case:{case_id}:{kind}:{due}:{step}" + ("" if channel == "email" else f":{channel}")
                delivery = enqueue(
                    db, settings, kind="reminder", unit_id=unit_id, channel=channel, recipients=recipients,
                    subject=subject, text=text, html=None, dedupe_key=key, now=now,
                )
                if delivery is not None:
                    deliveries[channel] = delivery
            if not deliveries:
                continue  # this step was already taken
            told = ", ".join(", ".join(r) if c == "email" else c for c, r in channels if c in deliveries)
            with db.session() as s:
                case = s.get(CaseRow, case_id)
                if case is not None:
                    record(s, case, by=SYSTEM, at=now, action=step,
                         text=f"{what} overdue since {due} ({late} working day(s)); {person or '-'} told via {told}",
                         data={"deliveries": deliveries})
            done.append(case_id)
    return reminded, escalated


def _source_posts(db: Database, event_id: int) -> list[int]:
    """The posts to re-check: articles and each thread's opening post (recheck follows a thread's pages)."""
    with db.session() as s:
        posts = list(s.scalars(select(PostRow).where(PostRow.event_id == event_id, PostRow.gone_at.is_(None))))
    firsts: dict[str, int] = {}
    ids = []
    for p in sorted(posts, key=lambda p: (p.floor or 0, p.id)):
        if p.thread_url:
            firsts.setdefault(p.thread_url, p.id)
        else:
            ids.append(p.id)
    return sorted(ids + list(firsts.values()))


def follow_up(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Re-check the source posts of replied cases that are due; record what changed on the case."""
    try:
        from crawler.run import recheck
    except ImportError:
        log.warning("crawler.run.recheck is not available: replied cases are not followed up")
        return []
    with db.session() as s:
        due: list[tuple[int, int]] = [
            (c.id, c.event_id)  # type: ignore[misc]  # event_id IS NOT NULL in the query
            for c in s.scalars(
                select(CaseRow).where(
                    CaseRow.status != "closed",
                    CaseRow.next_follow_up_at.is_not(None),
                    CaseRow.next_follow_up_at <= now,
                    CaseRow.event_id.is_not(None),
                )
            )
        ]
    done: list[int] = []
    for case_id, event_id in due:
        post_ids = _source_posts(db, event_id)
        results: dict[int, str] = recheck(settings, post_ids, db=db) if post_ids else {}
        new_posts = cluster_posts(db, settings, now=now)  # new replies join their thread's event
        with db.session() as s:
            refresh_events(s, settings, [event_id], now)
            ev = s.get(EventRow, event_id)
            case = s.get(CaseRow, case_id)
            if case is None or ev is None:
                continue
            counts: dict[str, int] = {}
            replies = 0
            for status in results.values():
                key = status.split(":", 1)[0]
                counts[key] = counts.get(key, 0) + 1
                if key == "new_replies":
                    replies += int(status.split(":", 1)[1])
            trend = Trend.of(ev.trend, ev.trend_detail or {}).explain()
            summary: dict[str, Any] = {
                "at": now.isoformat(),
                "checked": len(results),
                "edited": counts.get("edited", 0),
                "gone": counts.get("gone", 0),
                "errors": counts.get("error", 0),
                "new_replies": replies,
                "clustered": new_posts,
                "posts": ev.posts,
                "sites": ev.sites,
                "trend": ev.trend,  # the machine word; people read trend_text
                "trend_text": trend,
                "results": {str(k): v for k, v in results.items()},
            }
            case.follow_up = summary
            nxt = now + settings.ledger.follow_up_every
            case.next_follow_up_at = nxt if case.follow_up_until and nxt <= case.follow_up_until else None
            record(s, case, by=SYSTEM, at=now, action="follow-up",
                 text=(f"re-checked {len(results)} post(s): {summary['edited']} edited, {summary['gone']} deleted, "
                       f"{replies} new repl{'y' if replies == 1 else 'ies'}, {summary['errors']} error(s); "
                       f"event now {ev.posts} posts on {ev.sites} sites, {trend}"),
                 data={k: v for k, v in summary.items() if k != "results"})
        done.append(case_id)
    return done


def run_daily(db: Database, settings: Settings, now: datetime) -> DailyCheck:
    from .report import send_scheduled
    from .trends import check_spikes

    clustered = cluster_posts(db, settings, now=now)
    refreshed = refresh_recent_events(db, settings, now)
    opened = auto_open(db, settings, now)
    reminded, escalated = remind_overdue(db, settings, now)
    followed = follow_up(db, settings, now)
    spikes = check_spikes(db, settings, now)
    reports = send_scheduled(db, settings, now) if _enqueue() is not None else []
    result = DailyCheck(clustered, refreshed, tuple(opened), tuple(reminded), tuple(escalated), tuple(followed),
                        tuple(spikes), tuple(reports))
    log.info("daily check: %s", result)
    return result
