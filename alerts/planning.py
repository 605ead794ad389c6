"""Planning: what must be told becomes a rendered `deliveries` row before anything is sent.

`plan_digests` and `plan_urgent` take a unit's matches not yet carried on a channel, render them for
that channel (e-mail, robot markdown in byte-limited parts, Slack, JSON) and store the delivery with
its `delivery_matches` rows in one transaction; the unique (match, channel) constraint makes a match
land in one delivery per channel even when planners run at once. `enqueue_message` records any
other message (reminders, reports, operator notices) once per dedupe key. Nothing is sent here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.config import Settings, UnitSettings
from yuqing.errors import UsageError, did_you_mean
from yuqing.storage import Database, DeliveryMatch, DeliveryRow, MatchRow

from .channel import InlineImage, Target, registry, target_for, unit_targets
from .faults import checkpoint
from .gather import SEVERITY_RANK, Content, gather
from .render import one_line, render_email, render_parts
from .split import Block, pack
from .timing import quiet_until, weekend
from .topics import topic_names

log = logging.getLogger(__name__)

MAX_MATCHES = 300  # per digest; the rest wait for the next one rather than make an unreadable mail


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
    inline: tuple[InlineImage, ...] = ()  # e-mail only: images the HTML shows by cid:


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
    images = [[i.cid, i.mime, hashlib.sha256(i.data).hexdigest()] for i in d.inline]
    blob = json.dumps([d.channel, d.recipients, d.subject, d.text, d.html, d.parts, *([images] if images else [])],
                      ensure_ascii=False)
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
        payload={"parts": list(d.parts), "match_ids": list(d.match_ids), "done": [],
                 **({"inline": [i.as_json() for i in d.inline]} if d.inline else {})},
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
    inline: Sequence[InlineImage] = (),
) -> int | None:
    """Record any message (reminder, report, operator notice) for sending; None if `dedupe_key` was
    already recorded, which is what makes "once per step" and "reported once" hold.

    `inline`: images the HTML refers to as `cid:<cid>` (e-mail only; robots get the text).
    """
    target = target_for(settings, unit_id, channel, tuple(recipients))
    if inline and not html:
        raise ValueError("inline images need an HTML part that refers to them")
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
        inline=tuple(inline) if target.kind == "email" else (),
    )
    try:
        with db.session() as session:
            if session.scalar(select(DeliveryRow.id).where(DeliveryRow.dedupe_key == dedupe_key)) is not None:
                return None
            return _store(session, settings, draft, now, dedupe_key)
    except IntegrityError:
        return None  # recorded concurrently under the same key


def notify_operator(
    db: Database, settings: Settings, *, subject: str, text: str, dedupe_key: str, now: datetime
) -> int | None:
    """Record a plain-text notice to the operator (`alerts.operator_emails`), once per `dedupe_key`.

    None when it was already recorded, or when there is nobody to tell (no operator address or no
    mail server): the caller's state stays as it is and the digests' operator section shows it.
    """
    if not settings.alerts.operator_emails or settings.smtp is None:
        log.warning("no operator_emails (or no smtp) to tell: %s", subject)
        return None
    return enqueue_message(
        db,
        settings,
        kind="operator",
        unit_id=None,
        channel="email",
        recipients=list(settings.alerts.operator_emails),
        subject=subject,
        text=text,
        html=None,
        dedupe_key=dedupe_key,
        now=now,
    )
