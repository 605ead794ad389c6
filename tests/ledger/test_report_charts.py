"""The report's charts: Chinese titles, topic display names, and a CJK font that has every glyph."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, date, datetime

import matplotlib
import pytest

from yuqing import report_charts
from yuqing.chart_font import SHIPPED, cjk_family, pick_family, rc_params
from yuqing.report import Report
from yuqing.report_charts import EN, ZH, cases_figure, chart_pngs, volume_figure
from yuqing.trends import Trend

NAMES = {"public_recruitment": "事业单位招聘与公务员招录", "cadre_appointment": "干部选拔任用"}
PNG = b"\x89PNG\r\n\x1a\n"


def sample_report() -> Report:
    days = tuple(date(2026, 3, d) for d in range(10, 17))
    flat = Trend("stable", 2, 2, 0.29, 0.29, 1.0)
    return Report(
        period="week", unit_id="zzb", unit_name="组织部",
        start=datetime(2026, 3, 9, 16, tzinfo=UTC), end=datetime(2026, 3, 16, 1, tzinfo=UTC), days=days,
        topics=("cadre_appointment", "public_recruitment"),
        volume={"cadre_appointment": (0, 1, 0, 0, 0, 1, 0), "public_recruitment": (1, 1, 0, 1, 0, 2, 2)},
        totals={"cadre_appointment": 2, "public_recruitment": 7},
        previous_totals={"cadre_appointment": 2, "public_recruitment": 0},
        topic_trends={"cadre_appointment": flat, "public_recruitment": Trend("heating", 7, 0, 1.0, 0.0, None)},
        posts=9, negative=7, negative_by_topic={"cadre_appointment": 0.5, "public_recruitment": 0.86},
        events=(), cases_opened=1, cases_closed=1, cases_overdue=1, on_time_rate=1.0, overdue_cases=(),
    )


def missing_glyphs(draw) -> list[str]:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_chinese_labels_and_topic_display_names() -> None:
    r = sample_report()
    vol = volume_figure(r, NAMES, ZH)
    ax = vol.axes[0]
    assert ax.get_title() == "各主题每日帖文数" and ax.get_ylabel() == "帖文数"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["干部选拔任用", "事业单位招聘与公务员招录"]
    neg, cases = cases_figure(r, NAMES, ZH).axes
    assert neg.get_title() == "各主题负面占比（%）"
    assert [t.get_text() for t in neg.get_yticklabels()] == ["干部选拔任用", "事业单位招聘与公务员招录"]
    assert [t.get_text() for t in cases.get_xticklabels()] == ["新立", "办结", "超期"]
    assert cases.get_title() == "案件办理（按时办结率 100%）"


def test_the_shipped_font_draws_every_chinese_glyph() -> None:
    # The project depends on noto-cjk-sans-otc, so an install from pyproject has the font.
    assert cjk_family() == SHIPPED
    r = sample_report()
    # The check can fail: matplotlib's own font lacks these glyphs and says so.
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        assert missing_glyphs(lambda: volume_figure(r, NAMES, ZH).savefig(io.BytesIO(), format="png"))
    pngs: dict[str, bytes] = {}
    assert missing_glyphs(lambda: pngs.update(chart_pngs(r, NAMES))) == []
    assert set(pngs) == {"volume", "cases"} and all(p.startswith(PNG) for p in pngs.values())
    with matplotlib.rc_context(rc_params(SHIPPED)):
        fig = cases_figure(r, NAMES, ZH)
        fig.savefig(io.BytesIO(), format="png")
        assert {t.get_fontname() for t in fig.axes[0].get_yticklabels()} == {SHIPPED}


def test_without_a_cjk_font_the_charts_keep_english_labels_and_topic_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_charts, "cjk_family", lambda: None)
    drawn: list[tuple[str, ...]] = []
    real = report_charts.volume_figure

    def spy(report, names, labels):  # type: ignore[no-untyped-def]
        fig = real(report, names, labels)
        drawn.append((labels.volume_title, *(t.get_text() for t in fig.axes[0].get_legend().get_texts())))
        return fig

    monkeypatch.setattr(report_charts, "volume_figure", spy)
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        assert missing_glyphs(lambda: chart_pngs(sample_report(), NAMES)) == []
    assert drawn == [(EN.volume_title, "cadre_appointment", "public_recruitment")]


def test_system_font_fallback_picks_a_known_cjk_family() -> None:
    assert pick_family(["DejaVu Sans", "WenQuanYi Micro Hei", "SimHei"]) == "WenQuanYi Micro Hei"
    assert pick_family(["DejaVu Sans", "Microsoft YaHei"]) == "Microsoft YaHei"
    assert pick_family(["DejaVu Sans", "Liberation Serif"]) is None
    assert rc_params(None) == {}
