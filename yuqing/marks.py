"""Named timestamps the scheduler keeps between runs: when a unit's digest or the daily checks last ran.

A digest that finds no new matches sends nothing and so leaves no `deliveries` row; without a mark
of its own, `run-once` from cron would think that digest overdue on every run. One small table,
`daemon_marks`, read and written only by `yuqing.jobs` (migration 0005).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from .storage import Base, Database, UTCDateTime


class MarkRow(Base):
    """One named moment, e.g. 'digest:zzb' or 'daily'."""

    __tablename__ = "daemon_marks"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


def get_mark(db: Database, name: str) -> datetime | None:
    with db.session() as s:
        return s.scalar(select(MarkRow.at).where(MarkRow.name == name))


def set_mark(db: Database, name: str, at: datetime) -> None:
    with db.session() as s:
        row = s.get(MarkRow, name)
        if row is None:
            s.add(MarkRow(name=name, at=at))
        else:
            row.at = at
