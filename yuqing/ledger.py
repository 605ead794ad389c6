"""The ledger (动态台账): cases, their status, deadlines, notes, reply and resolution.

The last stage of the flow: an event (`yuqing.events`) that matters to a unit becomes a case, opened
automatically by the daily check when it reaches the unit's `case_threshold`, or by hand. A case has
a responsible leader (责任领导) and a handler (承办人), deadlines in Chinese working days
(`yuqing.workdays`, limits per severity in `ledger.limits`), and a status that moves

    new -> verifying -> handling -> replied -> resolved -> closed      (reopen: back to handling)

Every change is a `CaseLogRow` saying who (`by`) and when; the log is the case's timeline. Closing
needs a resolution and an official reply, or the responsible leader's recorded reason why no reply
is needed. `daily_check` is the daemon's daily job (see `yuqing.ledger_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import SEVERITIES, Settings
from .errors import UsageError, YuqingError, did_you_mean
from .events import EventView
from .ledger_models import CaseLogRow, CaseRow, EventRow
from .storage import Database, MatchRow, PostRow
from .workdays import add_workdays, workdays_between

STATUSES: tuple[str, ...] = ("new", "verifying", "handling", "replied", "resolved", "closed")
# Statuses a note may move a case to by hand; replied/resolved/closed have their own commands,
# which record what the status needs (the reply, the resolution).
MANUAL_STATUSES = ("verifying", "handling")
SYSTEM = "yuqing"


class CaseError(YuqingError):
    """A case change that the ledger refuses (exit 1), with what to do instead."""

    exit_code = 1


def local_date(settings: Settings, at: datetime) -> date:
    return at.astimezone(settings.tz).date()


# --------------------------------------------------------------------------------------------
# Views


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    by: str
    action: str
    status_from: str | None
    status_to: str | None
    text: str


@dataclass(frozen=True)
class CaseView:
    """A case as commands, exports and reports show it."""

    id: int
    unit_id: str
    event_id: int | None
    title: str
    severity: str
    status: str
    leader: str | None
    handler: str | None
    opened_at: datetime
    opened_by: str
    response_due: date
    resolve_due: date
    responded_at: datetime | None
    resolution: str | None
    resolved_at: datetime | None
    reply_text: str | None
    reply_where: str | None
    replied_at: datetime | None
    no_reply_reason: str | None
    no_reply_by: str | None
    closed_at: datetime | None
    overdue: str | None  # None | "response" | "resolution"
    follow_up: dict[str, Any] = field(default_factory=dict)
    event: EventView | None = None
    posts: tuple[tuple[str, str, str, datetime | None], ...] = ()  # (source, title, url, first seen)
    log: tuple[LogEntry, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def overdue_kind(case: CaseRow, today: date) -> str | None:
    """Which deadline a case has missed, if any (the resolution deadline first)."""
    if case.status == "closed":
        return None
    if case.status != "resolved" and today > case.resolve_due:
        return "resolution"
    if case.responded_at is None and today > case.response_due:
        return "response"
    return None


def _view(s: Session, settings: Settings, case: CaseRow, now: datetime, full: bool = False) -> CaseView:
    event = s.get(EventRow, case.event_id) if case.event_id else None
    posts: tuple[tuple[str, str, str, datetime | None], ...] = ()
    log: tuple[LogEntry, ...] = ()
    if full:
        if event is not None:
            rows = s.scalars(select(PostRow).where(PostRow.event_id == event.id).order_by(PostRow.fetched_at))
            posts = tuple((p.source_id, p.title or p.thread_title or "", p.url, p.published_at or p.fetched_at) for p in rows)
        log = tuple(
            LogEntry(r.at, r.by, r.action, r.status_from, r.status_to, r.text)
            for r in s.scalars(select(CaseLogRow).where(CaseLogRow.case_id == case.id).order_by(CaseLogRow.id))
        )
    return CaseView(
        id=case.id,
        unit_id=case.unit_id,
        event_id=case.event_id,
        title=case.title,
        severity=case.severity,
        status=case.status,
        leader=case.leader,
        handler=case.handler,
        opened_at=case.opened_at,
        opened_by=case.opened_by,
        response_due=case.response_due,
        resolve_due=case.resolve_due,
        responded_at=case.responded_at,
        resolution=case.resolution,
        resolved_at=case.resolved_at,
        reply_text=case.reply_text,
        reply_where=case.reply_where,
        replied_at=case.replied_at,
        no_reply_reason=case.no_reply_reason,
        no_reply_by=case.no_reply_by,
        closed_at=case.closed_at,
        overdue=overdue_kind(case, local_date(settings, now)),
        follow_up=dict(case.follow_up or {}),
        event=EventView.of(event) if event is not None else None,
        posts=posts,
        log=log,
    )


def list_cases(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    unit_id: str | None = None,
    status: str | None = None,
    overdue: bool = False,
) -> list[CaseView]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"no status '{status}'{did_you_mean(status, STATUSES)}")
    with db.session() as s:
        q = select(CaseRow)
        if unit_id is not None:
            q = q.where(CaseRow.unit_id == unit_id)
        if status is not None:
            q = q.where(CaseRow.status == status)
        views = [_view(s, settings, c, now) for c in s.scalars(q.order_by(CaseRow.id))]
    return [v for v in views if v.overdue] if overdue else views


def show_case(db: Database, settings: Settings, case_id: int, now: datetime) -> CaseView:
    with db.session() as s:
        return _view(s, settings, _get(s, case_id), now, full=True)


# --------------------------------------------------------------------------------------------
# Changes


def _get(s: Session, case_id: int) -> CaseRow:
    case = s.get(CaseRow, case_id)
    if case is None:
        raise CaseError(f"there is no case {case_id}; `yuqing cases list` shows the cases")
    return case


def record(s: Session, case: CaseRow, *, by: str, at: datetime, action: str, text: str = "",
           to: str | None = None, data: dict[str, Any] | None = None) -> None:
    """Log a change on the case's timeline (who, when, what) and move its status to `to`."""
    s.add(CaseLogRow(case_id=case.id, at=at, by=by, action=action, status_from=case.status if to else None,
                     status_to=to, text=text, data=data or {}))
    if to is not None and to != case.status:
        if case.status == "new" and case.responded_at is None:
            case.responded_at = at  # leaving "new" is the first response
        case.status = to


def _need_by(by: str | None) -> str:
    if not by or not by.strip():
        raise UsageError("say who makes the change with --by NAME")
    return by.strip()


def _check_open(case: CaseRow, action: str) -> None:
    if case.status == "closed":
        raise CaseError(f"case {case.id} is closed; reopen it first (`yuqing cases reopen {case.id} --by NAME --reason ...`) to {action} it")


def unit_severity(s: Session, event_id: int, unit_id: str) -> str | None:
    """The highest severity of a unit's matches among an event's posts."""
    sev = [
        SEVERITIES.index(m.severity)
        for m in s.scalars(
            select(MatchRow).join(PostRow, PostRow.id == MatchRow.post_id).where(
                PostRow.event_id == event_id, MatchRow.unit_id == unit_id
            )
        )
        if m.severity in SEVERITIES
    ]
    return SEVERITIES[max(sev)] if sev else None


def deadlines(settings: Settings, severity: str, opened: datetime) -> tuple[date, date]:
    """(first response due, resolution due): working days after the local opening day."""
    limit = getattr(settings.ledger.limits, severity)
    start = local_date(settings, opened)
    return add_workdays(start, limit.response_days), add_workdays(start, limit.resolve_days)


def open_case(
    db: Database,
    settings: Settings,
    *,
    unit_id: str,
    by: str,
    now: datetime,
    event_id: int | None = None,
    title: str | None = None,
    severity: str | None = None,
    leader: str | None = None,
    handler: str | None = None,
) -> int:
    """Open a case for a unit, from an event or by hand; returns its id."""
    by = _need_by(by)
    try:
        unit = settings.unit(unit_id)
    except KeyError:
        raise UsageError(f"no unit '{unit_id}'{did_you_mean(unit_id, [u.id for u in settings.units])}") from None
    if severity is not None and severity not in SEVERITIES:
        raise UsageError(f"no severity '{severity}'{did_you_mean(severity, SEVERITIES)}")
    with db.session() as s:
        event = None
        if event_id is not None:
            event = s.get(EventRow, event_id)
            if event is None:
                raise CaseError(f"there is no event {event_id}; `yuqing events` lists them")
            existing = s.scalars(select(CaseRow).where(CaseRow.event_id == event_id, CaseRow.unit_id == unit_id)).first()
            if existing is not None:
                raise CaseError(f"case {existing.id} already tracks event {event_id} for unit {unit_id}")
            severity = severity or unit_severity(s, event_id, unit_id) or event.severity
        if not title and event is None:
            raise UsageError("a case opened without an event needs --title")
        severity = severity or "medium"
        response_due, resolve_due = deadlines(settings, severity, now)
        case = CaseRow(
            event_id=event_id,
            unit_id=unit_id,
            title=title or (event.title if event else ""),
            severity=severity,
            status="new",
            leader=leader or unit.leader,
            handler=handler or unit.handler,
            opened_at=now,
            opened_by=by,
            response_due=response_due,
            resolve_due=resolve_due,
            follow_up={},
        )
        s.add(case)
        s.flush()
        record(s, case, by=by, at=now, action="open",
             text=f"{severity}; response due {response_due}, resolution due {resolve_due}; "
                  f"leader {case.leader or '-'}, handler {case.handler or '-'}")
        return case.id


def assign(db: Database, case_id: int, *, by: str, now: datetime, leader: str | None = None,
           handler: str | None = None) -> None:
    by = _need_by(by)
    if not leader and not handler:
        raise UsageError("name the new --leader and/or --handler")
    with db.session() as s:
        case = _get(s, case_id)
        _check_open(case, "assign")
        changes = []
        if leader:
            changes.append(f"leader {case.leader or '-'} -> {leader}")
            case.leader = leader
        if handler:
            changes.append(f"handler {case.handler or '-'} -> {handler}")
            case.handler = handler
        record(s, case, by=by, at=now, action="assign", text="; ".join(changes))


def note(db: Database, case_id: int, text: str, *, by: str, now: datetime, status: str | None = None) -> None:
    """Add a note to the timeline, optionally moving the case to verifying or handling."""
    by = _need_by(by)
    if status is not None and status not in MANUAL_STATUSES:
        hint = {"replied": "cases reply", "resolved": "cases resolve", "closed": "cases close", "new": "cases reopen"}
        extra = f"; use `yuqing {hint[status]}`" if status in hint else did_you_mean(status, MANUAL_STATUSES)
        raise UsageError(f"a note can move a case to {' or '.join(MANUAL_STATUSES)}, not '{status}'{extra}")
    if not text.strip():
        raise UsageError("a note needs text")
    with db.session() as s:
        case = _get(s, case_id)
        if status is not None:
            _check_open(case, "change")
            if STATUSES.index(status) < STATUSES.index(case.status):
                raise CaseError(f"case {case_id} is {case.status}; it cannot go back to {status} (reopen it instead)")
        record(s, case, by=by, at=now, action="note", text=text.strip(), to=status)


def reply(db: Database, settings: Settings, case_id: int, *, by: str, now: datetime, text: str | None = None,
          where: str | None = None, no_reply_reason: str | None = None) -> None:
    """Record the official reply (text and where published), or the leader's reason for none."""
    by = _need_by(by)
    if bool(text) == bool(no_reply_reason):
        raise UsageError("give either the reply (--text and --where) or --no-reply REASON")
    with db.session() as s:
        case = _get(s, case_id)
        _check_open(case, "reply to")
        if no_reply_reason:
            if not case.leader:
                raise CaseError(f"case {case_id} has no responsible leader; assign one (--leader) who can record that no reply is needed")
            if by != case.leader:
                raise CaseError(
                    f"only the responsible leader ({case.leader}) can record that case {case_id} needs no reply; "
                    f"run it with --by '{case.leader}'"
                )
            case.no_reply_reason = no_reply_reason.strip()
            case.no_reply_by = by
            record(s, case, by=by, at=now, action="no-reply", text=case.no_reply_reason)
            return
        if not where:
            raise UsageError("say where the reply was published with --where (a URL or a place)")
        case.reply_text = (text or "").strip()
        case.reply_where = where.strip()
        case.replied_at = now
        case.next_follow_up_at = now + settings.ledger.follow_up_every
        case.follow_up_until = now + settings.ledger.follow_up_for
        to = "replied" if STATUSES.index(case.status) < STATUSES.index("replied") else None
        record(s, case, by=by, at=now, action="reply", text=f"{case.reply_text} ({case.reply_where})", to=to)


def resolve(db: Database, case_id: int, resolution: str, *, by: str, now: datetime) -> None:
    by = _need_by(by)
    if not resolution.strip():
        raise UsageError("say how the matter was resolved")
    with db.session() as s:
        case = _get(s, case_id)
        _check_open(case, "resolve")
        case.resolution = resolution.strip()
        case.resolved_at = now
        record(s, case, by=by, at=now, action="resolve", text=case.resolution, to="resolved")


def close(db: Database, case_id: int, *, by: str, now: datetime) -> None:
    """Close a case: refused unless it has a resolution and a reply (or a no-reply reason)."""
    by = _need_by(by)
    with db.session() as s:
        case = _get(s, case_id)
        if case.status == "closed":
            raise CaseError(f"case {case_id} is already closed")
        missing = []
        if not case.resolution:
            missing.append(f"a resolution (`yuqing cases resolve {case_id} --by NAME --text ...`)")
        if not case.reply_text and not case.no_reply_reason:
            missing.append(
                f"an official reply (`yuqing cases reply {case_id} --by NAME --text ... --where ...`) "
                f"or the leader's reason for none (`--no-reply REASON --by LEADER`)"
            )
        if missing:
            raise CaseError(f"case {case_id} cannot be closed: it needs " + " and ".join(missing))
        case.closed_at = now
        case.next_follow_up_at = None
        record(s, case, by=by, at=now, action="close", to="closed")


def reopen(db: Database, case_id: int, reason: str, *, by: str, now: datetime) -> None:
    by = _need_by(by)
    if not reason.strip():
        raise UsageError("say why the case is reopened with --reason")
    with db.session() as s:
        case = _get(s, case_id)
        if case.status not in ("replied", "resolved", "closed"):
            raise CaseError(f"case {case_id} is {case.status}, still open; add a note instead")
        case.closed_at = None
        case.resolved_at = None
        record(s, case, by=by, at=now, action="reopen", text=reason.strip(), to="handling")


def on_time_rate(cases: list[CaseView], settings: Settings) -> float | None:
    """Share of resolved cases resolved by their deadline (None when none were resolved)."""
    done = [c for c in cases if c.resolved_at is not None]
    if not done:
        return None
    ok = sum(1 for c in done if c.resolved_at is not None and local_date(settings, c.resolved_at) <= c.resolve_due)
    return ok / len(done)


def working_days_late(case: CaseView, today: date) -> int:
    due = case.resolve_due if case.overdue == "resolution" else case.response_due
    return workdays_between(due, today)


def daily_check(db: Database, settings: Settings, now: datetime) -> Any:
    """The daemon's daily job: cluster, refresh trends, open cases, remind, follow up, warn, report."""
    from .ledger_checks import run_daily

    return run_daily(db, settings, now)
