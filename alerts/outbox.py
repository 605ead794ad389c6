"""The outbox: what must be told is recorded first, sent from the record, and marked after.

Planning (`plan_digests`, `plan_urgent`, `enqueue_message`) renders a message and stores it as a
`deliveries` row in state 'pending', with the matches it carries in `delivery_matches` (unique per
match and channel, so a match is in one delivery per channel whatever runs concurrently). Sending
(`send_pending`) claims a row ('sending', one attempt more), hands it to its channel, and marks it
'sent', or back to 'pending' with a backoff, or 'failed' after `max_attempts`, or 'parked' when the
far end refused it for good. A process killed mid-send leaves 'sending': the next run sends the
same bytes again under the same Message-ID, and never skips a match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time as _time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.config import Settings, UnitSettings
from yuqing.errors import UsageError, did_you_mean
from yuqing.storage import Database, DeliveryMatch, DeliveryRow, MatchRow

from .channel import NotConfigured, Outgoing, Result, Target, build, registry, target_for, unit_targets
from .faults import checkpoint
from .gather import SEVERITY_RANK, Content, gather
from .render import one_line, render_email, render_parts
from .sendlock import SenderLock
from .split import Block, pack
from .timing import backoff, quiet_until, weekend
from .topics import topic_names

log = logging.getLogger(__name__)

MAX_MATCHES = 300  # per digest; the rest wait for the next one rather than make an unreadable mail
OPEN_STATES = ("pending", "sending")


@dataclass(frozen=True)
class SendReport:
    """What one `send_pending` run did. `errors` are one line each, for the operator."""

    sent: int = 0
    failed: int = 0
    parked: int = 0
    errors: tuple[str, ...] = ()
    retrying: int = 0  # temporary failures, back in 'pending' with a later next_attempt_at
    deferred: int = 0  # held back by a robot's rate limit


@dataclass(frozen=True)
class Draft:
    """A rendered delivery not yet stored: what preview shows and planning records."""

    kind: str
    unit_id: str | None
    channel: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    parts: tuple[str, ...]
    match_ids: tuple[int, ...]
    window_start: datetime | None
    window_end: datetime | None
    hold_until: datetime | None = None


# --------------------------------------------------------------------------------------------
# Planning


def _units(settings: Settings, unit_ids: Sequence[str] | None) -> list[UnitSettings]:
    if unit_ids is None:
        return list(settings.units)
    known = {u.id for u in settings.units}
    for uid in unit_ids:
        if uid not in known:
            raise UsageError(f"no unit '{uid}'{did_you_mean(uid, known)}")
    return [u for u in settings.units if u.id in set(unit_ids)]


def _undelivered(session: Session, unit: UnitSettings, channel: str, min_rank: int | None) -> list[MatchRow]:
    carried = exists().where(and_(DeliveryMatch.match_id == MatchRow.id, DeliveryMatch.channel == channel))
    q = select(MatchRow).where(MatchRow.unit_id == unit.id, ~carried).order_by(MatchRow.created_at.desc(), MatchRow.id.desc())
    if min_rank is not None:
        q = q.where(MatchRow.severity.in_([s for s, r in SEVERITY_RANK.items() if r >= min_rank]))
    return list(session.scalars(q.limit(MAX_MATCHES)))


def _render(settings: Settings, target: Target, content: Content) -> tuple[str, str, str | None, tuple[str, ...]]:
    """subject, text, html, parts for this channel's format."""
    email = render_email(settings, content)
    cls = registry()[target.kind]
    if cls.format == "email":
        return email.subject, email.text, email.html, ()
    if cls.format == "text":
        return email.subject, email.text, email.html, (email.text,)
    template = "slack.txt" if cls.format == "slack" else "robot.md"
    parts = render_parts(settings, content, template=template, max_bytes=cls.max_bytes, max_parts=settings.alerts.max_parts)
    return email.subject, email.text, None, parts


def _draft(
    session: Session,
    settings: Settings,
    unit: UnitSettings,
    target: Target,
    matches: list[MatchRow],
    *,
    kind: str,
    now: datetime,
    hold: datetime | None,
    names: dict[str, str],
) -> Draft:
    content = gather(session, settings, unit, [m.id for m in matches], kind=kind, now=now, names=names)
    subject, text, html, parts = _render(settings, target, content)
    return Draft(
        kind=kind,
        unit_id=unit.id,
        channel=target.name,
        recipients=target.recipients,
        subject=subject,
        text=text,
        html=html,
        parts=parts,
        match_ids=tuple(sorted(m.id for m in matches)),
        window_start=min(m.created_at for m in matches),
        window_end=now,
        hold_until=hold,
    )


def _content_hash(d: Draft) -> str:
    blob = json.dumps([d.channel, d.recipients, d.subject, d.text, d.html, d.parts], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _message_id(settings: Settings, d: Draft) -> str:
    # Kept short so that the header is never folded; random, and stored, so a resend reuses it.
    domain = settings.smtp.sender.rsplit("@", 1)[1] if settings.smtp else "yuqing.invalid"
    return f"<yuqing.{d.kind}.{secrets.token_hex(10)}@{domain}>"


def _store(session: Session, settings: Settings, d: Draft, now: datetime, dedupe_key: str | None = None) -> int:
    row = DeliveryRow(
        kind=d.kind,
        unit_id=d.unit_id,
        channel=d.channel,
        recipients=list(d.recipients),
        subject=d.subject,
        body_text=d.text,
        body_html=d.html,
        payload={"parts": list(d.parts), "match_ids": list(d.match_ids), "done": []},
        content_hash=_content_hash(d),
        message_id=_message_id(settings, d),
        dedupe_key=dedupe_key,
        state="pending",
        attempts=0,
        next_attempt_at=d.hold_until,
        window_start=d.window_start,
        window_end=d.window_end,
        created_at=now,
    )
    session.add(row)
    session.flush()
    session.add_all(DeliveryMatch(delivery_id=row.id, match_id=m, channel=d.channel) for m in d.match_ids)
    return row.id


def _plan(
    db: Database,
    settings: Settings,
    now: datetime,
    unit_ids: Sequence[str] | None,
    *,
    kind: str,
    store: bool,
) -> tuple[list[int], list[Draft]]:
    ids: list[int] = []
    drafts: list[Draft] = []
    names = topic_names(settings)  # read the rule files once per run, not once per digest
    for unit in _units(settings, unit_ids):
        if kind == "digest" and not unit.weekends and weekend(now, settings.tz):
            log.info("unit %s: no digest on a weekend (weekends: false); its matches wait", unit.id)
            continue
        min_rank: int | None = None
        if kind == "alert":
            if unit.urgent_severity == "off":
                continue
            min_rank = SEVERITY_RANK[unit.urgent_severity]
        for target in unit_targets(unit):
            try:
                with db.session() as session:
                    matches = _undelivered(session, unit, target.name, min_rank)
                    if not matches:
                        continue
                    critical = any(m.severity == "high" for m in matches) and kind == "alert"
                    hold = None if critical else quiet_until(unit, now, settings.tz)
                    draft = _draft(session, settings, unit, target, matches, kind=kind, now=now, hold=hold, names=names)
                    drafts.append(draft)
                    if store:
                        ids.append(_store(session, settings, draft, now))
                        checkpoint("planning")  # rows written, not yet committed
                    else:
                        session.rollback()
                if store:
                    checkpoint("planned")
            except IntegrityError:
                # Another process planned the same matches on this channel first; its delivery carries them.
                log.info("unit %s channel %s: planned concurrently elsewhere", unit.id, target.name)
    return ids, drafts


def plan_digests(db: Database, settings: Settings, now: datetime, unit_ids: Sequence[str] | None = None) -> list[int]:
    """Record one digest per unit and channel carrying its matches not yet delivered there.

    No new matches, no delivery. Units with `weekends: false` get none on a weekend; quiet hours
    hold a planned digest until they end.
    """
    return _plan(db, settings, now, unit_ids, kind="digest", store=True)[0]


def plan_urgent(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Record an alert per unit and channel for undelivered matches at or above its urgent severity.

    Called right after a crawl, so an alert groups what that crawl found. During quiet hours an
    alert is held unless it carries a 'high' match.
    """
    return _plan(db, settings, now, None, kind="alert", store=True)[0]


def preview_digests(db: Database, settings: Settings, now: datetime, unit_ids: Sequence[str] | None = None) -> list[Draft]:
    """The digests `plan_digests` would record now, rendered; nothing is written."""
    return _plan(db, settings, now, unit_ids, kind="digest", store=False)[1]


def _text_parts(settings: Settings, target: Target, subject: str, text: str) -> tuple[str, ...]:
    cls = registry()[target.kind]
    if cls.format == "email":
        return ()
    if not cls.max_bytes:
        return (text,)
    blocks = [Block(p) for p in text.split("\n\n") if p.strip()]
    return pack(
        blocks,
        lambda k, n: subject + (f"（{k}/{n}）" if n > 1 else ""),
        lambda n: f"……另有 {n} 段未列出",
        max_bytes=cls.max_bytes,
        max_parts=settings.alerts.max_parts,
    )


def enqueue_message(
    db: Database,
    settings: Settings,
    *,
    kind: str,
    unit_id: str | None,
    channel: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str | None,
    dedupe_key: str,
    now: datetime,
) -> int | None:
    """Record any message (reminder, report, operator notice) for sending; None if `dedupe_key` was
    already recorded, which is what makes "once per step" and "reported once" hold."""
    target = target_for(settings, unit_id, channel, tuple(recipients))
    if target.kind == "email" and not recipients:
        log.warning("message %r has no recipients on channel email; not recorded", dedupe_key)
        return None
    draft = Draft(
        kind=kind,
        unit_id=unit_id,
        channel=target.name,
        recipients=tuple(recipients),
        subject=one_line(subject),
        text=text,
        html=html,
        parts=_text_parts(settings, target, one_line(subject), text),
        match_ids=(),
        window_start=None,
        window_end=None,
    )
    try:
        with db.session() as session:
            if session.scalar(select(DeliveryRow.id).where(DeliveryRow.dedupe_key == dedupe_key)) is not None:
                return None
            return _store(session, settings, draft, now, dedupe_key)
    except IntegrityError:
        return None  # recorded concurrently under the same key


# --------------------------------------------------------------------------------------------
# Sending


class RateLimiter:
    """At most `per_minute` messages per robot in any 60 seconds (counted from `now` of the run)."""

    def __init__(self, per_minute: int, now: datetime):
        self.per_minute = per_minute
        self.start = now
        self._t0 = _time.monotonic()
        self.sent: dict[str, deque[float]] = defaultdict(deque)

    def clock(self) -> float:
        return self.start.timestamp() + (_time.monotonic() - self._t0)

    def record(self, key: str, at: float, n: int = 1) -> None:
        self.sent[key].extend([at] * n)

    def wait(self, key: str, n: int) -> float:
        """Seconds until `n` more messages may go (0: now), after dropping those older than a minute."""
        now = self.clock()
        q = self.sent[key]
        while q and q[0] <= now - 60:
            q.popleft()
        if len(q) + n <= self.per_minute:
            return 0.0
        # The slot frees when the message `n` places before the limit leaves the window.
        idx = min(len(q) - 1, max(0, len(q) + n - self.per_minute - 1))
        return max(1.0, q[idx] + 60 - now)


def _seed(limiter: RateLimiter, db: Database, settings: Settings, now: datetime) -> None:
    with db.session() as session:
        rows = session.scalars(
            select(DeliveryRow).where(DeliveryRow.sent_at >= now - timedelta(seconds=60), DeliveryRow.channel != "email")
        )
        for row in rows:
            try:
                target = target_for(settings, row.unit_id, row.channel)
                channel = build(settings, target)
            except (UsageError, NotConfigured):
                continue
            if channel.rate_key and row.sent_at is not None:
                limiter.record(channel.rate_key, row.sent_at.timestamp(), max(1, len(row.payload.get("parts") or [])))


def _outgoing(row: DeliveryRow) -> Outgoing:
    payload = row.payload or {}
    return Outgoing(
        delivery_id=row.id,
        kind=row.kind,
        unit_id=row.unit_id,
        channel=row.channel,
        recipients=tuple(row.recipients or ()),
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        parts=tuple(payload.get("parts") or ()),
        message_id=row.message_id,
        created_at=row.created_at,
        done=frozenset(payload.get("done") or ()),
        extra={"match_ids": list(payload.get("match_ids") or [])},
    )


def _progress(db: Database, delivery_id: int) -> Callable[[str], None]:
    def mark(marker: str) -> None:
        with db.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                return
            payload = dict(row.payload or {})
            payload["done"] = sorted(set(payload.get("done") or []) | {marker})
            row.payload = payload  # a new dict, so the JSON column sees the change

    return mark


def _claim(db: Database, delivery_id: int, now: datetime) -> Outgoing | None:
    with db.session() as session:
        row = session.get(DeliveryRow, delivery_id)
        if row is None or row.state not in OPEN_STATES:
            return None
        if row.state == "sending":
            log.warning("delivery %s was being sent when a process stopped; sending it again (same Message-ID)", row.id)
        row.state = "sending"
        row.attempts += 1
        row.sending_at = now
        return _outgoing(row)


def _mark(db: Database, settings: Settings, delivery_id: int, result: Result, now: datetime) -> str:
    """Record the result on the row; returns the new state."""
    with db.session() as session:
        row = session.get(DeliveryRow, delivery_id)
        assert row is not None
        payload = dict(row.payload or {})
        if result.status == "sent":
            row.state, row.sent_at, row.next_attempt_at = "sent", now, None
            row.last_error = result.error
            payload.pop("failing_since", None)
        elif result.status == "deferred":
            row.state = "pending"
            row.attempts = max(0, row.attempts - 1)  # a rate limit is not a failed attempt
            row.next_attempt_at = now + timedelta(seconds=result.retry_after or 60)
            row.last_error = result.error
        else:
            payload.setdefault("failing_since", now.isoformat())
            row.last_error = result.error
            if result.status == "permanent":
                row.state, row.next_attempt_at = "parked", None
            elif row.attempts >= settings.alerts.max_attempts:
                row.state, row.next_attempt_at = "failed", None
            else:
                wait = backoff(row.attempts, settings.alerts.retry_base, settings.alerts.retry_max)
                if result.retry_after:
                    wait = max(wait, timedelta(seconds=result.retry_after))
                row.state, row.next_attempt_at = "pending", now + wait
        if result.refused:
            payload["refused"] = sorted(set(payload.get("refused") or []) | set(result.refused))
        row.payload = payload
        return row.state


def _send_one(db: Database, settings: Settings, delivery_id: int, now: datetime, limiter: RateLimiter) -> tuple[str, Result] | None:
    message = _claim(db, delivery_id, now)
    if message is None:
        return None
    checkpoint("claimed")
    try:
        channel = build(settings, target_for(settings, message.unit_id, message.channel, message.recipients))
    except (UsageError, NotConfigured) as exc:
        result = Result("permanent", exc.show() if isinstance(exc, UsageError) else str(exc))
    else:
        left = [k for k in range(1, len(message.parts) + 1) if f"part:{k}" not in message.done]
        wait = limiter.wait(channel.rate_key, len(left)) if channel.rate_key else 0.0
        if wait:
            result = Result("deferred", f"{message.channel}: rate limit of {settings.alerts.robot_per_minute} messages a minute", retry_after=wait)
        else:
            result = channel.send(message, _progress(db, delivery_id))
            if channel.rate_key:
                limiter.record(channel.rate_key, limiter.clock(), max(1, len(left)))
    checkpoint("sent")
    state = _mark(db, settings, delivery_id, result, now)
    checkpoint("marked")
    return state, result


def _open_ids(
    session: Session, now: datetime, *, force: bool, unit_ids: Sequence[str] | None, ids: Sequence[int] | None
) -> list[int]:
    due = or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now)
    if force:
        # An explicit send does not wait out a backoff, but still respects quiet hours and holds.
        due = or_(due, DeliveryRow.attempts > 0)
    q = select(DeliveryRow.id).where(DeliveryRow.state.in_(OPEN_STATES), due)
    if unit_ids is not None:
        q = q.where(DeliveryRow.unit_id.in_(list(unit_ids)))
    if ids is not None:
        q = q.where(DeliveryRow.id.in_(list(ids)))
    return list(session.scalars(q.order_by(DeliveryRow.id)))


def send_pending(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    force: bool = False,
    unit_ids: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> SendReport:
    """Send every due delivery (including any a killed process left in 'sending')."""
    from .alarms import channel_alarms

    lock = SenderLock(db)
    if not lock.acquire():
        return SendReport(errors=("another yuqing process is sending the outbox now; it delivers what is due",))
    try:
        alarms = channel_alarms(db, settings, now)
        limiter = RateLimiter(settings.alerts.robot_per_minute, now)
        _seed(limiter, db, settings, now)
        with db.session() as session:
            todo = _open_ids(session, now, force=force, unit_ids=unit_ids, ids=ids)
            todo = sorted(set(todo) | set(_open_ids(session, now, force=False, unit_ids=None, ids=alarms)))
        report = SendReport()
        for delivery_id in todo:
            outcome = _send_one(db, settings, delivery_id, now, limiter)
            if outcome is None:
                continue
            state, result = outcome
            report = _count(report, delivery_id, state, result)
        return report
    finally:
        lock.release()


def _count(report: SendReport, delivery_id: int, state: str, result: Result) -> SendReport:
    errors = report.errors
    if result.error and result.status != "deferred":
        errors = (*errors, f"delivery {delivery_id}: {result.error}")
    if state == "sent":
        return replace(report, sent=report.sent + 1, errors=errors)
    if state == "failed":
        return replace(report, failed=report.failed + 1, errors=errors)
    if state == "parked":
        return replace(report, parked=report.parked + 1, errors=errors)
    if result.status == "deferred":
        return replace(report, deferred=report.deferred + 1)
    return replace(report, retrying=report.retrying + 1, errors=errors)


def retry(db: Database, delivery_id: int) -> None:
    """Put a failed, parked or waiting delivery back in line to be sent now, with fresh attempts."""
    with db.session() as session:
        row = session.get(DeliveryRow, delivery_id)
        if row is None:
            raise UsageError(f"no delivery {delivery_id}")
        if row.state == "sent":
            raise UsageError(f"delivery {delivery_id} was sent at {row.sent_at}; nothing to retry")
        row.state, row.attempts, row.next_attempt_at = "pending", 0, None
