"""Trend reports for leaders: `yuqing report --period week|month` and the scheduled sending.

Reads what the earlier stages stored (matches, events, cases) and never changes it. `build_report`
gathers one period's figures into a frozen `Report`; the charts are drawn by `yuqing.report_charts`.
`render_html` embeds them as data: URIs so the HTML file stands alone (`yuqing report --html`);
`render_mail_html` refers to them as `cid:` parts, since most webmail does not show data: images;
`render_text` is the plain-text part. People read topic display names and Chinese labels. `send_scheduled` (called by the daily check) enqueues last week's report on Mondays
and last month's on the 1st, per unit, to the unit's leaders, once per period (outbox dedupe key).
"""

from __future__ import annotations

import base64
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

from sqlalchemy import select

from .config import Settings
from .events import EventView
from .ledger import CaseView, list_cases, local_date, on_time_rate
from .ledger_models import EventRow
from .report_charts import chart_pngs
from .storage import Database, MatchRow, PostRow
from .trends import Trend, judge

log = logging.getLogger(__name__)

Period = Literal["week", "month"]
TOP_EVENTS = 10


@dataclass(frozen=True)
class EventLine:
    event: EventView
    period_posts: int
    trend: Trend  # in the report's own windows: this period against the one before


@dataclass(frozen=True)
class Report:
    """One period's figures for one unit (or all units)."""

    period: str
    unit_id: str | None
    unit_name: str
    start: datetime  # aware, UTC
    end: datetime
    days: tuple[date, ...]
    topics: tuple[str, ...]
    volume: dict[str, tuple[int, ...]]  # topic -> posts per day
    totals: dict[str, int]  # topic -> posts in the period
    previous_totals: dict[str, int]  # topic -> posts in the period before
    topic_trends: dict[str, Trend]
    posts: int
    negative: int
    negative_by_topic: dict[str, float]
    events: tuple[EventLine, ...]
    cases_opened: int
    cases_closed: int
    cases_overdue: int
    on_time_rate: float | None
    overdue_cases: tuple[CaseView, ...]

    @property
    def negative_share(self) -> float:
        return self.negative / self.posts if self.posts else 0.0


def period_bounds(period: Period, now: datetime, settings: Settings, *, previous: bool = False) -> tuple[datetime, datetime]:
    """The report's window. `previous`: the last complete calendar week (Mon-Sun) or month;
    otherwise the 7 or 30 local days up to now."""
    tz = settings.tz
    today = local_date(settings, now)
    if previous:
        if period == "week":
            end_day = today - timedelta(days=today.weekday())
            start_day = end_day - timedelta(days=7)
        else:
            end_day = today.replace(day=1)
            start_day = (end_day - timedelta(days=1)).replace(day=1)
        return (datetime.combine(start_day, time(), tz).astimezone(now.tzinfo),
                datetime.combine(end_day, time(), tz).astimezone(now.tzinfo))
    days = 7 if period == "week" else 30
    start_day = today - timedelta(days=days - 1)
    return datetime.combine(start_day, time(), tz).astimezone(now.tzinfo), now


def _post_time(p: PostRow) -> datetime:
    return p.published_at if p.published_at is not None and p.published_at <= p.fetched_at else p.fetched_at


def build_report(db: Database, settings: Settings, period: Period, now: datetime, *,
                 unit_id: str | None = None, previous: bool = False) -> Report:
    start, end = period_bounds(period, now, settings, previous=previous)
    span = end - start
    prev_start = start - span
    n_days = (local_date(settings, end - timedelta(microseconds=1)) - local_date(settings, start)).days + 1
    days = tuple(local_date(settings, start) + timedelta(days=i) for i in range(n_days))
    unit_name = settings.unit(unit_id).name if unit_id else "全部单位"

    per_topic: dict[str, dict[int, datetime]] = {}
    prev_topic: dict[str, set[int]] = {}
    negative_posts: set[int] = set()
    negative_topic: dict[str, set[int]] = {}
    event_posts: Counter[int] = Counter()
    with db.session() as s:
        q = select(MatchRow, PostRow).join(PostRow, PostRow.id == MatchRow.post_id)
        q = q.where((PostRow.fetched_at >= prev_start) | (PostRow.published_at >= prev_start))
        if unit_id:
            q = q.where(MatchRow.unit_id == unit_id)
        seen_event_posts: set[int] = set()
        for m, p in s.execute(q):
            t = _post_time(p)
            if start <= t < end:
                per_topic.setdefault(m.topic, {})[p.id] = t
                if m.negative:
                    negative_posts.add(p.id)
                    negative_topic.setdefault(m.topic, set()).add(p.id)
                if p.event_id is not None and p.id not in seen_event_posts:
                    seen_event_posts.add(p.id)
                    event_posts[p.event_id] += 1
            elif prev_start <= t < start:
                prev_topic.setdefault(m.topic, set()).add(p.id)
        events = {e.id: e for e in s.scalars(select(EventRow).where(EventRow.id.in_(list(event_posts))))}
        # The period's posts of each event, against the period before, for the report's trend labels.
        prev_event_posts: Counter[int] = Counter()
        for p in s.scalars(select(PostRow).where(PostRow.event_id.in_(list(event_posts)))):
            if prev_start <= _post_time(p) < start:
                prev_event_posts[p.event_id] += 1  # type: ignore[index]

    trends_cfg = settings.trends.model_copy(update={"recent": span, "baseline": span})
    topics = tuple(sorted(set(per_topic) | set(prev_topic)))
    volume = {}
    for topic in topics:
        counts = Counter(local_date(settings, t) for t in per_topic.get(topic, {}).values())
        volume[topic] = tuple(counts.get(d, 0) for d in days)
    totals = {t: len(per_topic.get(t, {})) for t in topics}
    previous_totals = {t: len(prev_topic.get(t, set())) for t in topics}
    all_posts = {pid for v in per_topic.values() for pid in v}
    lines = sorted(
        (
            EventLine(EventView.of(events[eid]), n, judge(n, prev_event_posts.get(eid, 0), trends_cfg))
            for eid, n in event_posts.items()
            if eid in events
        ),
        key=lambda line: (-line.event.heat, -line.period_posts, line.event.id),
    )[:TOP_EVENTS]

    cases = list_cases(db, settings, now, unit_id=unit_id)
    opened = [c for c in cases if start <= c.opened_at < end]
    closed = [c for c in cases if c.closed_at is not None and start <= c.closed_at < end]
    resolved_in = [c for c in cases if c.resolved_at is not None and start <= c.resolved_at < end]
    overdue = tuple(c for c in cases if c.overdue)
    return Report(
        period=period,
        unit_id=unit_id,
        unit_name=unit_name,
        start=start,
        end=end,
        days=days,
        topics=topics,
        volume=volume,
        totals=totals,
        previous_totals=previous_totals,
        topic_trends={t: judge(totals[t], previous_totals[t], trends_cfg) for t in topics},
        posts=len(all_posts),
        negative=len(negative_posts & all_posts),
        negative_by_topic={t: len(negative_topic.get(t, set())) / totals[t] for t in topics if totals[t]},
        events=tuple(lines),
        cases_opened=len(opened),
        cases_closed=len(closed),
        cases_overdue=len(overdue),
        on_time_rate=on_time_rate(resolved_in, settings),
        overdue_cases=overdue,
    )


# --------------------------------------------------------------------------------------------
# Rendering


@lru_cache(maxsize=1)
def _env() -> object:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("yuqing", "templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(report: Report, settings: Settings, names: dict[str, str]) -> dict[str, object]:
    from alerts.gather import SEVERITY_NAME

    from .ledger_export import STATUS_ZH
    from .trends import LABEL_ZH

    tz = settings.tz
    return {
        "r": report,
        "topic": lambda t: names.get(t, t),
        "topics": lambda ts: "、".join(names.get(t, t) for t in ts) or "-",
        "severity": lambda v: SEVERITY_NAME.get(v, v) if v else "-",
        "status": lambda v: STATUS_ZH.get(v, v),
        "trend_zh": LABEL_ZH,
        "heating_ratio": settings.trends.heating_ratio,
        "cooling_ratio": settings.trends.cooling_ratio,
        "start": report.start.astimezone(tz).strftime("%Y-%m-%d"),
        "end": (report.end - timedelta(microseconds=1)).astimezone(tz).strftime("%Y-%m-%d"),
        "period_name": "周报" if report.period == "week" else "月报",
        "fmt_time": lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "-",
        "pct": lambda v: "-" if v is None else f"{v:.0%}",
    }


def _names(settings: Settings) -> dict[str, str]:
    from alerts.topics import topic_names

    return topic_names(settings)


def _html(report: Report, settings: Settings, names: dict[str, str], srcs: dict[str, str]) -> str:
    template = _env().get_template("report.html.j2")  # type: ignore[attr-defined]
    return str(template.render(**_context(report, settings, names), charts=srcs))


def render_html(report: Report, settings: Settings) -> str:
    """The report as a file that stands alone: charts embedded as data: URIs."""
    names = _names(settings)
    pngs = chart_pngs(report, names)
    srcs = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in pngs.items()}
    return _html(report, settings, names, srcs)


def chart_cid(report: Report, chart: str) -> str:
    """A Content-ID for one chart of one report (unique across reports, so no client mixes them up)."""
    unit = re.sub(r"[^A-Za-z0-9-]+", "-", report.unit_id or "all")
    return f"{chart}.{report.period}.{report.start.strftime('%Y%m%d')}.{unit}@report.yuqing"


def render_mail_html(report: Report, settings: Settings) -> tuple[str, dict[str, bytes]]:
    """The report for e-mail: the HTML shows its charts as `cid:` references; returns it with the
    PNG of each Content-ID, to go as inline parts of a multipart/related message."""
    names = _names(settings)
    pngs = chart_pngs(report, names)
    cids = {k: chart_cid(report, k) for k in pngs}
    return _html(report, settings, names, {k: "cid:" + c for k, c in cids.items()}), {cids[k]: v for k, v in pngs.items()}


def render_text(report: Report, settings: Settings) -> str:
    template = _env().get_template("report.txt.j2")  # type: ignore[attr-defined]
    return str(template.render(**_context(report, settings, _names(settings))))


def subject(report: Report, settings: Settings) -> str:
    ctx = _context(report, settings, {})
    return f"[舆情{ctx['period_name']}] {report.unit_name} {ctx['start']} ~ {ctx['end']}"


def send_report(db: Database, settings: Settings, report: Report, now: datetime) -> int | None:
    """Enqueue a report for its unit's leaders (or its officers when it names no leader)."""
    from alerts.outbox import InlineImage, enqueue_message

    if report.unit_id is None:
        raise ValueError("a report is sent per unit")
    unit = settings.unit(report.unit_id)
    recipients = list(unit.leader_emails) or list(unit.emails)
    if not recipients:
        log.warning("unit %s has no leader_emails or emails: its report is not sent", unit.id)
        return None
    start = report.start.astimezone(settings.tz).date().isoformat()
    html, images = render_mail_html(report, settings)
    return enqueue_message(
        db, settings, kind="report", unit_id=unit.id, channel="email", recipients=recipients,
        subject=subject(report, settings), text=render_text(report, settings), html=html,
        dedupe_key=f"report:{report.period}:{unit.id}:{start}", now=now,
        inline=[InlineImage(cid, "image/png", png) for cid, png in images.items()],
    )


def send_scheduled(db: Database, settings: Settings, now: datetime) -> list[int]:
    """On a Monday, last week's report; on the 1st, last month's: one per unit, once per period."""
    today = local_date(settings, now)
    periods: list[Period] = []
    if settings.ledger.report_weekly and today.weekday() == 0:
        periods.append("week")
    if settings.ledger.report_monthly and today.day == 1:
        periods.append("month")
    sent: list[int] = []
    for period in periods:
        for unit in settings.units:
            if not (unit.leader_emails or unit.emails):
                continue
            report = build_report(db, settings, period, now, unit_id=unit.id, previous=True)
            delivery = send_report(db, settings, report, now)
            if delivery is not None:
                sent.append(delivery)
    return sent
