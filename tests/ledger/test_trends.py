"""Trend labels, heat and early warnings on synthetic time series of known shape, time frozen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.ledger.conftest import settings_text
from tests.ledger.factory import add_post
from yuqing.config import TrendsSettings, load_settings
from yuqing.events import cluster_posts
from yuqing.ledger_models import EventRow, SpikeRow
from yuqing.storage import DeliveryRow, open_database
from yuqing.trends import check_spikes, heat, judge, spike_test, unit_topic_trends

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
CFG = TrendsSettings()  # recent 1 day, baseline 7 days, heating x1.5, cooling x0.67, p < 0.001, >= 5 posts


@pytest.mark.parametrize(
    ("recent", "baseline", "label", "ratio"),
    [
        (6, 7, "heating", 6.0),  # 6/day against 1/day
        (3, 14, "heating", 1.5),  # exactly the heating ratio
        (2, 14, "stable", 1.0),
        (1, 14, "cooling", 0.5),
        (0, 14, "cooling", 0.0),
        (2, 0, "heating", None),  # nothing before: new
        (0, 0, "stable", None),
    ],
)
def test_trend_labels_carry_their_numbers(recent: int, baseline: int, label: str, ratio: float | None) -> None:
    t = judge(recent, baseline, CFG)
    assert (t.label, t.ratio) == (label, ratio)
    assert t.recent_rate == recent and t.baseline_rate == round(baseline / 7, 2)
    zh = {"heating": "升温", "stable": "平稳", "cooling": "降温"}[label]
    assert t.label_zh == zh
    assert t.explain() == (f"{zh}（近期日均 {t.recent_rate:.1f} 条，基线日均 {t.baseline_rate:.1f} 条，"
                           + ("新出现" if ratio is None else f"×{ratio:.1f}") + "）")


def test_poisson_spike_test() -> None:
    # Baseline 2/day: expected 2.07 in a day (half a post of smoothing over 7 days).
    assert spike_test(12, 14, CFG).spike  # P(X >= 12 | 2.07) ~ 6e-6
    assert not spike_test(5, 14, CFG).spike  # P(X >= 5 | 2.07) ~ 0.06: a busy day, not a spike
    quiet = spike_test(4, 0, CFG)  # from nothing to 4: below spike_min_count
    assert quiet.p_value < CFG.spike_p and not quiet.spike
    assert spike_test(5, 0, CFG).spike
    assert spike_test(0, 0, CFG).p_value == 1.0


def test_heat_weights_spread_velocity_replies_and_negativity() -> None:
    assert heat(4, 2.0, 10, 0.5, CFG) == 3 * 4 + 2 * 2.0 + 0.5 * 10 + 10 * 0.5
    assert heat(5, 0, 0, 0, CFG) > heat(1, 0, 0, 0, CFG)


def _series(db, unit: str, topic: str, per_day: list[int]) -> None:
    """Posts per day, oldest first, ending the day before NOW's recent window closes."""
    for day, n in enumerate(reversed(per_day)):
        for k in range(n):
            at = NOW - timedelta(days=day) + timedelta(hours=-20 + k * 0.5)
            add_post(db, source="county-news", title=f"{topic}{day}-{k}", text=f"{topic} 第{day}天 第{k}帖",
                     at=at, matches=[(unit, topic, "low", k % 2 == 0)])


@pytest.fixture
def env(db_url, tmp_path, smtp):
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url, smtp.port), encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    yield settings, db, smtp
    db.dispose()


def test_unit_topic_series_of_known_shape(env) -> None:
    settings, db, _ = env
    _series(db, "zzb", "public_recruitment", [1, 1, 1, 1, 1, 1, 1, 9])  # a jump
    _series(db, "zzb", "cadre_appointment", [2, 2, 2, 2, 2, 2, 2, 2])  # flat
    _series(db, "nyb", "village_affairs", [5, 5, 5, 5, 5, 5, 5, 1])  # dying down
    got = {(t.unit_id, t.topic): t for t in unit_topic_trends(db, settings, NOW)}
    rising = got[("zzb", "public_recruitment")]
    assert (rising.trend.label, rising.trend.recent, rising.trend.baseline) == ("heating", 9, 7)
    assert rising.spike.spike and rising.spike.p_value < 1e-5
    flat = got[("zzb", "cadre_appointment")]
    assert (flat.trend.label, flat.trend.ratio, flat.spike.spike) == ("stable", 1.0, False)
    falling = got[("nyb", "village_affairs")]
    assert (falling.trend.label, falling.trend.recent, falling.trend.baseline) == ("cooling", 1, 35)
    assert not falling.spike.spike


def test_early_warning_is_sent_once_over_real_smtp(env) -> None:
    from alerts.outbox import send_pending

    settings, db, smtp = env
    _series(db, "zzb", "public_recruitment", [1, 0, 1, 0, 1, 0, 1, 8])
    _series(db, "zzb", "cadre_appointment", [2, 2, 2, 2, 2, 2, 2, 2])
    with time_machine.travel(NOW, tick=False):
        first = check_spikes(db, settings, NOW)
        again = check_spikes(db, settings, NOW + timedelta(hours=2))  # the spike lasts: no second warning
        report = send_pending(db, settings, NOW)
    assert len(first) == 1 and again == []
    assert report.sent == 1 and len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg.rcpt_tos == ["officer@zzb.example.org"]
    body = msg.message.get_body(("plain",)).get_content()
    assert "事业单位招聘与公务员招录：近 1 天帖文 8 条，按基线预计" in body and "泊松分布 P(X ≥ 8" in body
    assert "public_recruitment" not in body and "事业单位招聘与公务员招录" in str(msg.message["Subject"])
    with db.session() as s:
        spike = s.scalars(select(SpikeRow)).one()
        assert (spike.kind, spike.unit_id, spike.topic, spike.observed) == ("volume", "zzb", "public_recruitment", 8)
        assert spike.notified_at == NOW
        assert s.scalars(select(DeliveryRow)).one().kind == "alert"
    # The next day the same subject may warn again if it jumps again.
    with time_machine.travel(NOW + timedelta(days=1, hours=1), tick=False):
        _series(db, "zzb", "public_recruitment", [0] * 7 + [0])
        assert check_spikes(db, settings, NOW + timedelta(days=1, hours=1)) == []  # no jump today


def test_event_spread_spike_and_event_trend(env) -> None:
    settings, db, _ = env
    from tests.ledger.test_events import STORY

    sites = ["s1", "s2", "s3", "s4", "s5", "s6"]
    for i, site in enumerate(sites):
        add_post(db, source=site, title="招聘质疑", text=STORY, at=NOW - timedelta(hours=10 - i),
                 matches=[("zzb", "public_recruitment", "high", True)])
    cluster_posts(db, settings, now=NOW)
    with db.session() as s:
        ev = s.scalars(select(EventRow)).one()
        assert (ev.sites, ev.trend, ev.trend_detail["recent"]) == (6, "heating", 6)
        assert ev.heat == heat(6, 6.0, 0, 1.0, settings.trends)
    ids = check_spikes(db, settings, NOW)
    with db.session() as s:
        kinds = sorted(r.kind for r in s.scalars(select(SpikeRow).where(SpikeRow.id.in_(ids))))
    assert kinds == ["spread", "volume"]
    # Three days later nothing new happened: the event cools down.
    later = NOW + timedelta(days=3)
    from yuqing.ledger_checks import refresh_recent_events

    refresh_recent_events(db, settings, later)
    with db.session() as s:
        ev = s.scalars(select(EventRow)).one()
        assert ev.trend == "cooling" and ev.trend_detail["recent"] == 0 and ev.trend_detail["baseline"] == 6
