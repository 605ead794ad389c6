"""`yuqing digest preview|send` and `yuqing deliveries [retry ID]`: the outbox from the command line."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import DeliveryError, UsageError
from . import print_json


def register(sub: Any) -> None:
    digest = sub.add_parser("digest", help="preview or send the per-unit digests")
    dsub = digest.add_subparsers(dest="digest_command", metavar="ACTION")
    dsub.required = True
    preview = dsub.add_parser("preview", help="show exactly what would be sent now; sends nothing, changes nothing")
    preview.add_argument("--unit", action="append", metavar="ID", help="only this unit (repeatable)")
    preview.add_argument("--html", metavar="FILE", help="also write the HTML part to FILE (FILE-<unit>.html for several)")
    preview.set_defaults(func=cmd_preview)
    send = dsub.add_parser("send", help="plan the digests now and send everything pending")
    send.add_argument("--unit", action="append", metavar="ID", help="only this unit (repeatable)")
    send.add_argument("--json", action="store_true", help="machine-readable report")
    send.set_defaults(func=cmd_send)

    dl = sub.add_parser("deliveries", help="the outbox: what was sent, what waits, what failed")
    dl.add_argument("--state", choices=["pending", "sending", "sent", "failed", "parked"], help="only this state")
    dl.add_argument("--limit", type=int, default=50, help="newest N (default 50)")
    dl.add_argument("--json", action="store_true", help="one JSON object per line")
    dl.set_defaults(func=cmd_list)
    dlsub = dl.add_subparsers(dest="deliveries_command", metavar="ACTION")
    rt = dlsub.add_parser("retry", help="send a failed, parked or waiting delivery again now")
    rt.add_argument("id", type=int)
    rt.set_defaults(func=cmd_retry)


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_preview(app: Any, args: argparse.Namespace) -> int:
    from alerts.outbox import preview_digests

    drafts = [d for d in preview_digests(app.db, app.settings, _now(), args.unit) if d.channel == "email"] or [
        d for d in preview_digests(app.db, app.settings, _now(), args.unit)
    ]
    _weekend_notes(app, args.unit)
    if not drafts:
        print("no new matches: no digest would be sent")
        return 0
    others = [d for d in preview_digests(app.db, app.settings, _now(), args.unit) if d.channel != "email"]
    for d in drafts:
        print(f"=== unit {d.unit_id} · channel {d.channel} · {len(d.match_ids)} matches")
        if d.recipients:
            print(f"To: {', '.join(d.recipients)}")
        print(f"Subject: {d.subject}\n")
        print(d.text if not d.parts or d.channel == "email" else "\n---\n".join(d.parts))
    for d in others:
        if drafts and drafts[0].channel == "email":
            print(f"also to {d.unit_id} · {d.channel}: {len(d.parts)} part(s), largest {max(len(p.encode()) for p in d.parts)} bytes")
    if args.html:
        with_html = [d for d in drafts if d.html]
        for d in with_html:
            path = Path(args.html)
            if len(with_html) > 1:
                path = path.with_name(f"{path.stem}-{d.unit_id}{path.suffix or '.html'}")
            path.write_text(d.html or "", encoding="utf-8")
            print(f"HTML written to {path}")
    return 0


def _weekend_notes(app: Any, unit_ids: list[str] | None) -> None:
    from alerts.timing import weekend

    if not weekend(_now(), app.settings.tz):
        return
    for u in app.settings.units:
        if not u.weekends and (unit_ids is None or u.id in unit_ids):
            print(f"unit {u.id}: no digest on a weekend (weekends: false); its matches wait for Monday")


def _held_notes(app: Any, now: datetime, unit_ids: list[str] | None) -> None:
    """Deliveries planned but held (quiet hours): say until when, so nothing looks lost."""
    from sqlalchemy import select

    from yuqing.storage import DeliveryRow

    with app.db.session() as session:
        q = select(DeliveryRow).where(DeliveryRow.state == "pending", DeliveryRow.attempts == 0, DeliveryRow.next_attempt_at > now)
        if unit_ids:
            q = q.where(DeliveryRow.unit_id.in_(unit_ids))
        for r in session.scalars(q):
            until = r.next_attempt_at.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if r.next_attempt_at else ""
            print(f"  delivery {r.id} ({r.unit_id} · {r.channel}) is held until {until} (quiet hours or a robot's rate limit)")


def _summary(report: Any) -> str:
    return f"sent {report.sent}, retrying {report.retrying}, deferred {report.deferred}, failed {report.failed}, parked {report.parked}"


def cmd_send(app: Any, args: argparse.Namespace) -> int:
    from alerts.outbox import plan_digests, send_pending

    now = _now()
    if not args.json:
        _weekend_notes(app, args.unit)
    planned = plan_digests(app.db, app.settings, now, args.unit)
    report = send_pending(app.db, app.settings, now, force=True, unit_ids=args.unit)
    if args.json:
        print_json({"planned": planned, **{k: getattr(report, k) for k in ("sent", "retrying", "deferred", "failed", "parked")}, "errors": list(report.errors)})
    elif not planned and not (report.sent + report.retrying + report.failed + report.parked + report.deferred):
        print("no new matches: nothing to send")
    else:
        print(f"planned {len(planned)} deliveries; {_summary(report)}")
        for err in report.errors[1:] if (report.retrying or report.failed or report.parked) else report.errors:
            print(f"  {err}")
    if not args.json:
        _held_notes(app, now, args.unit)
    if report.retrying or report.failed or report.parked:
        first = report.errors[0] if report.errors else "a delivery could not be sent"
        kept = report.retrying
        raise DeliveryError(f"{first}; {kept} kept in the outbox for the next send" if kept else first)
    return 0


def cmd_list(app: Any, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from yuqing.storage import DeliveryRow

    with app.db.session() as session:
        q = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(args.limit)
        if args.state:
            q = q.where(DeliveryRow.state == args.state)
        rows = list(session.scalars(q))
    tz = app.settings.tz

    def local(t: datetime | None) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if t else ""

    if args.json:
        for r in rows:
            print_json(
                {
                    "id": r.id,
                    "kind": r.kind,
                    "unit": r.unit_id,
                    "channel": r.channel,
                    "state": r.state,
                    "attempts": r.attempts,
                    "subject": r.subject,
                    "recipients": r.recipients,
                    "matches": len((r.payload or {}).get("match_ids") or []),
                    "created_at": r.created_at.isoformat(),
                    "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
                    "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                    "last_error": r.last_error,
                    "message_id": r.message_id,
                }
            )
        return 0
    if not rows:
        print("the outbox is empty" if not args.state else f"no deliveries in state {args.state}")
        return 0
    print(f"{'ID':>5}  {'STATE':8} {'KIND':8} {'UNIT':10} {'CHANNEL':16} {'TRIES':>5}  {'WHEN':19}  NOTE")
    for r in rows:
        when = local(r.sent_at) if r.state == "sent" else local(r.next_attempt_at) or local(r.created_at)
        note = (r.last_error or r.subject).replace("\n", " ")[:90]
        print(f"{r.id:>5}  {r.state:8} {r.kind:8} {(r.unit_id or '-'):10} {r.channel:16} {r.attempts:>5}  {when:19}  {note}")
    return 0


def cmd_retry(app: Any, args: argparse.Namespace) -> int:
    from alerts.outbox import retry, send_pending

    retry(app.db, args.id)
    report = send_pending(app.db, app.settings, _now(), ids=[args.id])
    if report.sent:
        print(f"delivery {args.id} sent")
        return 0
    if report.errors:
        raise DeliveryError(report.errors[0])
    raise UsageError(f"delivery {args.id} is queued but waits (quiet hours or a rate limit); `yuqing deliveries` shows when")
