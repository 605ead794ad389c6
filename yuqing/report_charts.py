"""The report's charts: volume per topic per day, negative share per topic, cases, as PNG bytes.

Called by `yuqing.report` when it renders a report (the HTML file embeds the PNGs as data: URIs,
the e-mail carries them as inline parts). Drawn on bare matplotlib `Figure`s with the Agg canvas,
so no display and no pyplot global state. Labels are Chinese, with topic display names, when a CJK
font is available (`yuqing.chart_font`); otherwise topic ids and English, since boxes help nobody.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .chart_font import cjk_family, rc_params

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .report import Report


@dataclass(frozen=True)
class Labels:
    volume_title: str
    volume_axis: str
    negative_title: str
    cases: tuple[str, str, str]  # opened, closed, overdue
    cases_title: str  # formatted with {rate}
    no_rate: str


ZH = Labels("各主题每日帖文数", "帖文数", "各主题负面占比（%）", ("新立", "办结", "超期"), "案件办理（按时办结率 {rate}）", "无")
EN = Labels("Posts per day by topic", "posts", "Negative share by topic (%)", ("opened", "closed", "overdue"),
            "Cases (on time: {rate})", "n/a")


def volume_figure(report: Report, names: Mapping[str, str], labels: Labels) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    x = [d.strftime("%m-%d") for d in report.days]
    for topic in report.topics:
        ax.plot(x, report.volume[topic], marker="o", linewidth=1.8, label=names.get(topic, topic))
    ax.set_title(labels.volume_title)
    ax.set_ylabel(labels.volume_axis)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # posts are whole numbers
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if report.topics:
        # Beside the plot rather than over it: the lines stay readable whatever their shape.
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if len(x) > 10:
        ax.set_xticks(range(0, len(x), max(1, len(x) // 8)))
    return fig


def cases_figure(report: Report, names: Mapping[str, str], labels: Labels) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8.6, 2.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"wspace": 0.35})
    topics = [t for t in report.topics if report.totals.get(t)]
    shares = [report.negative_by_topic.get(t, 0.0) * 100 for t in topics]
    shares_bars = ax1.barh([names.get(t, t) for t in topics], shares, color="#c0392b")
    ax1.bar_label(shares_bars, fmt="%.0f%%", padding=3, fontsize=8)
    ax1.set_xlim(0, 115)  # room for the label of a 100% bar
    ax1.set_xticks([0, 25, 50, 75, 100])
    ax1.set_title(labels.negative_title)
    values = [report.cases_opened, report.cases_closed, report.cases_overdue]
    bars = ax2.bar(list(labels.cases), values, color=["#2980b9", "#27ae60", "#c0392b"])
    ax2.bar_label(bars, padding=2)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylim(0, max(values, default=0) * 1.25 + 1)
    rate = labels.no_rate if report.on_time_rate is None else f"{report.on_time_rate:.0%}"
    ax2.set_title(labels.cases_title.format(rate=rate))
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return buf.getvalue()


def chart_pngs(report: Report, names: Mapping[str, str]) -> dict[str, bytes]:
    """chart name ("volume", "cases") -> PNG, labelled in Chinese when a CJK font is available."""
    import matplotlib

    family = cjk_family()
    labels, shown = (ZH, names) if family else (EN, {})
    # Fonts are looked up when the figure is drawn, so drawing happens inside the same context.
    with matplotlib.rc_context(rc_params(family)):
        return {
            "volume": _png(volume_figure(report, shown, labels)),
            "cases": _png(cases_figure(report, shown, labels)),
        }
