"""Heat, trend labels and early warning, for events and for unit x topic volumes.

Sits beside the ledger: `yuqing.events` asks it for each event's heat and trend when the event's
figures are refreshed; the daily check (`yuqing.ledger.daily_check`) and the crawl job ask
`check_spikes` for early warnings; reports show the labels with their numbers.

- Trend: the rate (posts per day) in the `recent` window against the rate in the `baseline` window
  before it. `heating` when recent >= heating_ratio x baseline, `cooling` when recent <=
  cooling_ratio x baseline, else `stable`; the numbers travel with the label (`Trend.explain`).
  The machine word stays in stored rows and `--json`; people read 升温 / 平稳 / 降温 (`LABEL_ZH`).
- Heat: a weighted sum of spread (distinct sites), velocity (recent posts per day), forum replies and
  the negative share, weights in `trends.weights`.
- Early warning (spike): a count in the recent window is a spike when, under a Poisson model whose
  mean is the baseline rate scaled to the recent window, the chance of seeing at least that many is
  below `trends.spike_p`, and the count is at least `trends.spike_min_count`. The baseline count gets
  half a post of smoothing so that a quiet baseline does not make every post a spike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from scipy.stats import poisson
from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Settings, TrendsSettings
from .ledger_models import EventRow, SpikeRow
from .storage import Database, MatchRow, PostRow

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
LABEL_ZH = {"heating": "升温", "stable": "平稳", "cooling": "降温"}


@dataclass(frozen=True)
class Trend:
    """A trend label and the numbers it was judged from."""

    label: str  # heating | stable | cooling
    recent: int  # posts in the recent window
    baseline: int  # posts in the baseline window
    recent_rate: float  # per day
    baseline_rate: float  # per day
    ratio: float | None  # recent_rate / baseline_rate (None when the baseline is empty)

    @classmethod
    def of(cls, label: str, detail: dict[str, float]) -> Trend:
        """A trend as stored on an event (`trend`, `trend_detail`)."""
        ratio = detail.get("ratio")
        return cls(label, int(detail.get("recent", 0)), int(detail.get("baseline", 0)), detail.get("recent_rate", 0.0),
                   detail.get("baseline_rate", 0.0), ratio)

    @property
    def label_zh(self) -> str:
        return LABEL_ZH.get(self.label, self.label)

    def explain(self) -> str:
        """The label with its numbers, for people: 升温（近期日均 3.0 条，基线日均 1.0 条，×3.0）."""
        ratio = "新出现" if self.ratio is None else f"×{self.ratio:.1f}"
        return f"{self.label_zh}（近期日均 {self.recent_rate:.1f} 条，基线日均 {self.baseline_rate:.1f} 条，{ratio}）"

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "label" and v is not None}


def judge(recent: int, baseline: int, cfg: TrendsSettings) -> Trend:
    """The trend label for `recent` posts in the recent window after `baseline` in the baseline window."""
    recent_rate = recent / (cfg.recent / DAY)
    baseline_rate = baseline / (cfg.baseline / DAY)
    if baseline_rate == 0:
        label = "heating" if recent > 0 else "stable"
        ratio = None
    else:
        ratio = recent_rate / baseline_rate
        label = "heating" if ratio >= cfg.heating_ratio else "cooling" if ratio <= cfg.cooling_ratio else "stable"
    return Trend(label, recent, baseline, round(recent_rate, 2), round(baseline_rate, 2), None if ratio is None else round(ratio, 2))


def windows(cfg: TrendsSettings, now: datetime) -> tuple[datetime, datetime]:
    """(start of baseline, start of recent): baseline = [b, r), recent = [r, now]."""
    recent_start = now - cfg.recent
    return recent_start - cfg.baseline, recent_start


def count_in(times: Iterable[datetime], cfg: TrendsSettings, now: datetime) -> tuple[int, int]:
    """(recent, baseline) counts of the times."""
    base_start, recent_start = windows(cfg, now)
    recent = baseline = 0
    for t in times:
        if recent_start <= t <= now:
            recent += 1
        elif base_start <= t < recent_start:
            baseline += 1
    return recent, baseline


def event_trend(posts: Iterable[tuple[datetime, str]], cfg: TrendsSettings, now: datetime) -> Trend:
    """An event's trend from its posts' (time, source) pairs."""
    recent, baseline = count_in((t for t, _ in posts), cfg, now)
    return judge(recent, baseline, cfg)


def heat(sites: int, velocity: float, replies: int, negative_share: float, cfg: TrendsSettings) -> float:
    """How much attention a story draws now: weighted spread, velocity, replies and negativity."""
    w = cfg.weights
    score = (
        w.get("spread", 0.0) * sites
        + w.get("velocity", 0.0) * velocity
        + w.get("replies", 0.0) * replies
        + w.get("negativity", 0.0) * negative_share
    )
    return round(score, 2)


@dataclass(frozen=True)
class SpikeTest:
    """The outcome of the Poisson test on one count."""

    observed: int
    expected: float
    p_value: float
    spike: bool


def spike_test(recent: int, baseline: int, cfg: TrendsSettings) -> SpikeTest:
    """Is `recent` far above what the baseline predicts for the recent window?"""
    expected = (baseline + 0.5) * (cfg.recent / cfg.baseline)
    p = float(poisson.sf(recent - 1, expected)) if recent > 0 else 1.0
    return SpikeTest(recent, round(expected, 3), p, recent >= cfg.spike_min_count and p < cfg.spike_p)


# --------------------------------------------------------------------------------------------
# Series from the database


def _post_time(p: PostRow) -> datetime:
    return p.published_at if p.published_at is not None and p.published_at <= p.fetched_at else p.fetched_at


def unit_topic_times(db: Database, since: datetime, unit_id: str | None = None) -> dict[tuple[str, str], list[datetime]]:
    """For each (unit, topic), the times of its matched posts since `since` (each post once)."""
    out: dict[tuple[str, str], dict[int, datetime]] = {}
    with db.session() as s:
        q = select(MatchRow.unit_id, MatchRow.topic, PostRow).join(PostRow, PostRow.id == MatchRow.post_id)
        q = q.where((PostRow.fetched_at >= since) | (PostRow.published_at >= since))
        if unit_id is not None:
            q = q.where(MatchRow.unit_id == unit_id)
        for unit, topic, post in s.execute(q):
            t = _post_time(post)
            if t >= since:
                out.setdefault((unit, topic), {})[post.id] = t
    return {k: sorted(v.values()) for k, v in out.items()}


@dataclass(frozen=True)
class UnitTopicTrend:
    unit_id: str
    topic: str
    trend: Trend
    spike: SpikeTest


def unit_topic_trends(db: Database, settings: Settings, now: datetime, unit_id: str | None = None) -> list[UnitTopicTrend]:
    cfg = settings.trends
    base_start, _ = windows(cfg, now)
    out = []
    for (unit, topic), times in sorted(unit_topic_times(db, base_start, unit_id).items()):
        recent, baseline = count_in(times, cfg, now)
        out.append(UnitTopicTrend(unit, topic, judge(recent, baseline, cfg), spike_test(recent, baseline, cfg)))
    return out


def event_spread_spikes(db: Database, settings: Settings, now: datetime) -> list[tuple[int, str, SpikeTest, list[str]]]:
    """Events whose number of new sites in the recent window is a spike: (event id, title, test, units)."""
    cfg = settings.trends
    base_start, recent_start = windows(cfg, now)
    out = []
    with db.session() as s:
        events = list(s.scalars(select(EventRow).where(EventRow.last_seen >= recent_start)))
        for ev in events:
            first_by_site: dict[str, datetime] = {}
            for p in s.scalars(select(PostRow).where(PostRow.event_id == ev.id)):
                t = _post_time(p)
                if p.source_id not in first_by_site or t < first_by_site[p.source_id]:
                    first_by_site[p.source_id] = t
            recent, baseline = count_in(first_by_site.values(), cfg, now)
            test = spike_test(recent, baseline, cfg)
            if test.spike:
                out.append((ev.id, ev.title, test, list(ev.units or [])))
    return out


@dataclass(frozen=True)
class Finding:
    """A subject whose recent count is a spike: a unit x topic volume, or an event's spread."""

    subject: str  # "volume:<unit>:<topic>" or "spread:<event id>"
    kind: str  # volume | spread
    test: SpikeTest
    unit_id: str | None = None
    topic: str | None = None
    event_id: int | None = None


def find_spikes(db: Database, settings: Settings, now: datetime) -> list[Finding]:
    found = [
        Finding(f"volume:{t.unit_id}:{t.topic}", "volume", t.spike, unit_id=t.unit_id, topic=t.topic)
        for t in unit_topic_trends(db, settings, now)
        if t.spike.spike
    ]
    found += [Finding(f"spread:{eid}", "spread", test, event_id=eid) for eid, _t, test, _u in event_spread_spikes(db, settings, now)]
    return found


def check_spikes(db: Database, settings: Settings, now: datetime) -> list[int]:
    """Record new early warnings and enqueue each once; returns the new spike ids.

    A subject (a unit x topic, or an event) warns at most once per recent window: while a spike
    lasts it is not repeated, and the outbox dedupe key makes a rerun of the same check send nothing.
    """
    cfg = settings.trends
    new_ids: list[int] = []
    with db.session() as s:
        for f in find_spikes(db, settings, now):
            recent = s.scalars(
                select(SpikeRow).where(SpikeRow.key.startswith(f.subject + "@", autoescape=True), SpikeRow.created_at > now - cfg.recent)
            ).first()
            if recent is not None:
                continue
            row = SpikeRow(
                key=f"{f.subject}@{now.strftime('%Y%m%dT%H')}",
                kind=f.kind,
                unit_id=f.unit_id,
                topic=f.topic,
                event_id=f.event_id,
                observed=f.test.observed,
                expected=f.test.expected,
                p_value=f.test.p_value,
                window_end=now,
                created_at=now,
            )
            s.add(row)
            s.flush()
            new_ids.append(row.id)
    notify_spikes(db, settings, now)
    return new_ids


def _span(d: timedelta) -> str:
    hours = d / timedelta(hours=1)
    return f"{hours / 24:g} 天" if hours >= 24 else f"{hours:g} 小时"


def _describe(s: Session, row: SpikeRow, cfg: TrendsSettings, names: dict[str, str]) -> tuple[list[str], str]:
    """(units to tell, one line for officers) for a recorded spike."""
    if row.kind == "spread" and row.event_id is not None:
        ev = s.get(EventRow, row.event_id)
        title = ev.title if ev else f"事件 {row.event_id}"
        units = list(ev.units or []) if ev else []
        return units, f"「{title}」近 {_span(cfg.recent)}新增 {row.observed} 个转载站点，按基线预计 {row.expected:.1f} 个"
    topic = names.get(row.topic or "", row.topic or "")
    return ([row.unit_id] if row.unit_id else [],
            f"{topic}：近 {_span(cfg.recent)}帖文 {row.observed} 条，按基线预计 {row.expected:.1f} 条")


def notify_spikes(db: Database, settings: Settings, now: datetime) -> int:
    """Enqueue each recorded spike not yet enqueued, on every channel of the units concerned."""
    try:
        from alerts.channel import unit_targets
        from alerts.outbox import enqueue_message
        from alerts.topics import topic_names
    except ImportError:
        log.warning("alerts.outbox.enqueue_message is not available: early warnings are recorded, not sent yet")
        return 0
    names = topic_names(settings)
    with db.session() as s:
        pending = []
        for r in s.scalars(select(SpikeRow).where(SpikeRow.notified_at.is_(None))):
            units, text = _describe(s, r, settings.trends, names)
            test = f"检验：泊松分布 P(X ≥ {r.observed} | 均值 {r.expected:.2f}) = {r.p_value:.2g} < {settings.trends.spike_p}"
            pending.append((r.id, r.key, units, text, test))
    enqueued = 0
    for spike_id, key, units, text, test in pending:
        for uid in units:
            try:
                unit = settings.unit(uid)
            except KeyError:
                continue
            # Every channel of the unit: its officers' mailbox and its group robots. The outbox's
            # dedupe key makes this once per spike, unit and channel, even if we crash before
            # marking the spike notified below.
            for target in unit_targets(unit):
                delivery = enqueue_message(
                    db,
                    settings,
                    kind="alert",
                    unit_id=uid,
                    channel=target.name,
                    recipients=list(target.recipients),
                    subject=f"[舆情预警] {unit.name}: {text[:80]}",
                    text=f"舆情早期预警\n\n{text}\n{test}\n",
                    html=None,
                    dedupe_key=f"spike:{key}:{uid}:{target.name}",
                    now=now,
                )
                enqueued += delivery is not None
        with db.session() as s:
            row = s.get(SpikeRow, spike_id)
            if row is not None:
                row.notified_at = now
    return enqueued
