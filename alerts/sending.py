"""Sending: due deliveries are claimed, handed to their channel, and marked with the result.

A row is claimed ('sending', one attempt more) and committed before the channel is called, and the
channel's progress (recipients reached, robot parts posted) is committed as it happens. The result
marks it 'sent'; 'pending' again with an exponential backoff with jitter (or, for a robot's rate
limit, a deferral that does not count as an attempt); 'failed' after `max_attempts`; or 'parked'
when the far end refused it for good. A row found in 'sending' was left by a killed process: it is
sent again, as recorded, under the same Message-ID. One sender at a time (`sendlock`).
"""

from __future__ import annotations

import logging
import time as _time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yuqing.config import Settings
from yuqing.errors import UsageError
from yuqing.storage import Database, DeliveryRow

from .channel import InlineImage, NotConfigured, Outgoing, Result, build, target_for
from .faults import checkpoint
from .sendlock import SenderLock
from .timing import backoff

log = logging.getLogger(__name__)

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
        inline=tuple(InlineImage.from_json(i) for i in payload.get("inline") or ()),
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
