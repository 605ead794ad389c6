"""Telling the operator, once, that a delivery channel has been failing for too long.

A channel (a unit's "email", "wecom:ops", ...) is failing since the first failure of its oldest
undelivered message, unless something went out on it after that. When that is longer ago than
`alerts.channel_alarm_after`, one operator e-mail is recorded; its dedupe key names the channel and
the start of the failure, so the same outage is reported once however often the sender runs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select

from yuqing.config import Settings
from yuqing.storage import Database, DeliveryRow

log = logging.getLogger(__name__)


def failing_channels(db: Database, now: datetime) -> dict[tuple[str | None, str], tuple[datetime, str]]:
    """(unit, channel) -> (failing since, last error) for channels with undelivered failures."""
    out: dict[tuple[str | None, str], tuple[datetime, str]] = {}
    with db.session() as session:
        rows = session.scalars(
            select(DeliveryRow).where(
                DeliveryRow.state.in_(("pending", "sending", "failed")),
                DeliveryRow.attempts > 0,
                DeliveryRow.kind != "operator",
            )
        ).all()
        last_ok = {
            (u, c): t
            for u, c, t in session.execute(
                select(DeliveryRow.unit_id, DeliveryRow.channel, func.max(DeliveryRow.sent_at))
                .where(DeliveryRow.state == "sent")
                .group_by(DeliveryRow.unit_id, DeliveryRow.channel)
            )
        }
    for row in rows:
        raw = (row.payload or {}).get("failing_since")
        if not raw:
            continue
        since = datetime.fromisoformat(raw)
        key = (row.unit_id, row.channel)
        ok = last_ok.get(key)
        if ok is not None and ok >= since:
            continue
        if key not in out or since < out[key][0]:
            out[key] = (since, row.last_error or "")
    return out


def channel_alarms(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Record an operator notice for each channel failing longer than the threshold (once each)."""
    from .planning import notify_operator

    ids: list[int] = []
    limit = settings.alerts.channel_alarm_after
    for (unit_id, channel), (since, error) in failing_channels(db, now).items():
        if now - since < limit:
            continue
        local = since.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        new = notify_operator(
            db,
            settings,
            subject=f"【yuqing 运维】{unit_id or '运维'} 的投递通道 {channel} 自 {local} 起发送失败",
            text=(
                f"单位 {unit_id} 的投递通道 {channel} 自 {local} 起一直发送失败，待发消息保留在发件箱中，恢复后自动补发。\n"
                f"最近的错误：{error}\n\n"
                "查看：yuqing deliveries --state pending ；修复后可用 yuqing deliveries retry ID 立即重发。\n"
            ),
            dedupe_key=f"channel-alarm:{unit_id}:{channel}:{since.isoformat()}",
            now=now,
        )
        if new is not None:
            ids.append(new)
    return ids
