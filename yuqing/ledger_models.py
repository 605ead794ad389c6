"""Storage rows of the ledger area: events, cases, the case log and the early-warning state.

Posts gather into `EventRow`s (`yuqing.events`, which keeps each post's `PostSketchRow`); an event that matters to a unit becomes a `CaseRow`
(`yuqing.ledger`), whose every change is a `CaseLogRow`; `SpikeRow` remembers which early warnings
were raised so that each is raised once (`yuqing.trends`). The migration is 0004_ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .storage import Base, UTCDateTime


class EventRow(Base):
    """One story: posts on several sites that tell the same thing (reposts, edited copies)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    sites: Mapped[int] = mapped_column(Integer, default=0)  # distinct sources: the spread
    replies: Mapped[int] = mapped_column(Integer, default=0)  # forum replies in its threads
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    units: Mapped[list[str]] = mapped_column(JSON, default=list)
    severity: Mapped[str | None] = mapped_column(String(8))  # highest of its matches
    negative_share: Mapped[float] = mapped_column(Float, default=0.0)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    trend: Mapped[str] = mapped_column(String(16), default="stable")  # heating | stable | cooling
    trend_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the numbers behind the label
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PostSketchRow(Base):
    """A clustered post's MinHash signature, kept so new posts are compared without re-reading old text."""

    __tablename__ = "post_sketches"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the post's time, for the event window
    size: Mapped[int] = mapped_column(Integer)  # distinct shingles: containment is estimated from it
    title_key: Mapped[str] = mapped_column(String(64), default="", index=True)  # normalised title, for short posts
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class CaseRow(Base):
    """A matter a unit must handle: leader, handler, deadlines, status, reply, resolution."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("event_id", "unit_id", name="uq_case_event_unit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8), default="medium")
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    leader: Mapped[str | None] = mapped_column(String(128))
    handler: Mapped[str | None] = mapped_column(String(128))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    opened_by: Mapped[str] = mapped_column(String(128))
    response_due: Mapped[date] = mapped_column(Date)
    resolve_due: Mapped[date] = mapped_column(Date)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_where: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    no_reply_reason: Mapped[str | None] = mapped_column(Text)
    no_reply_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the last re-check's findings


class CaseLogRow(Base):
    """One change to a case: who, when, what (the case's timeline)."""

    __tablename__ = "case_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(24))
    status_from: Mapped[str | None] = mapped_column(String(16))
    status_to: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SpikeRow(Base):
    """An early warning raised once: a unit x topic volume or an event's spread far above baseline."""

    __tablename__ = "spikes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # volume | spread
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    topic: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(Integer)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # enqueued in the outbox
