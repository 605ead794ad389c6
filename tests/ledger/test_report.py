"""The weekly report: figures from a world of known shape, rendered HTML with charts, sent over SMTP."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.ledger.conftest import run_cli, settings_text
from tests.ledger.report_world import NOW, build, screenshot
from yuqing.config import load_settings
from yuqing.report import build_report, render_html, render_text, send_scheduled
from yuqing.storage import open_database

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world(db_url, tmp_path, smtp):
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url, smtp.port), encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    build(db, settings)
    yield settings, db, smtp, path
    db.dispose()


def test_weekly_figures(world) -> None:
    settings, db, _, _ = world
    r = build_report(db, settings, "week", NOW, unit_id="zzb")
    assert [d.isoformat() for d in (r.days[0], r.days[-1])] == ["2026-03-10", "2026-03-16"]
    assert r.totals == {"cadre_appointment": 2, "public_recruitment": 7, "talent_introduction": 2}
    assert r.volume["public_recruitment"] == (1, 1, 0, 1, 0, 2, 2)
    assert r.previous_totals["cadre_appointment"] == 2 and r.topic_trends["cadre_appointment"].label == "stable"
    assert r.topic_trends["public_recruitment"].label == "heating"
    assert (r.posts, r.negative) == (11, 9)
    assert [line.event.title for line in r.events][0] == "县事业单位招聘面试成绩遭质疑"
    assert (r.cases_opened, r.cases_closed, r.cases_overdue, r.on_time_rate) == (1, 1, 1, 1.0)
    assert r.overdue_cases[0].title == "网帖反映选调生考试泄题"
    whole = build_report(db, settings, "month", NOW)  # all units, 30 days: every post of the world
    assert whole.totals == {"cadre_appointment": 5, "collective_assets": 7, "public_recruitment": 7, "talent_introduction": 3}
    assert whole.posts == 22 and whole.unit_name == "全部单位"


def test_rendered_html_stands_alone_with_charts_and_escapes_post_text(world, tmp_path) -> None:
    settings, db, _, _ = world
    html = render_html(build_report(db, settings, "week", NOW, unit_id="zzb"), settings)
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    assert [alt for alt, _ in images] == ["posts per day by topic", "negative share and cases"]
    for _, data in images:
        png = base64.b64decode(data)
        assert png.startswith(PNG) and len(png) > 5000
    assert "舆情周报：组织部" in html and "统计期 2026-03-10 ~ 2026-03-16" in html
    assert "&lt;b&gt;乡镇干部&lt;/b&gt;任前公示引热议" in html and "<b>乡镇干部" not in html
    assert re.search(r'<span class="heating">heating</span> 1.1/天 vs 0.0/天', html)
    assert re.search(r'<span class="stable">stable</span> 0.31/天 vs 0.31/天（×1.0）', html)
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened
    text = render_text(build_report(db, settings, "week", NOW, unit_id="zzb"), settings)
    assert "帖文 11 条，负面 9 条（82%）" in text and "按时办结率 100%" in text


def test_screenshot_of_the_report(world, tmp_path) -> None:
    if not Path("/usr/bin/chromium").exists() or shutil.which("fc-list") is None:
        pytest.skip("headless Chromium (/usr/bin/chromium) is not installed")
    settings, db, _, _ = world
    html = tmp_path / "report.html"
    html.write_text(render_html(build_report(db, settings, "week", NOW, unit_id="zzb"), settings), encoding="utf-8")
    png = tmp_path / "report.png"
    screenshot(html, png)
    assert png.read_bytes().startswith(PNG) and png.stat().st_size > 30_000


def test_report_command_writes_html_and_json(world, tmp_path, capsys) -> None:
    settings, db, _, path = world
    out = tmp_path / "week.html"
    code, stdout, err = run_cli(path, "report", "--period", "week", "--unit", "zzb", "--html", str(out), "--json",
                                capsys=capsys)
    assert code == 0 and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    data = json.loads(stdout)
    assert set(data) >= {"volume", "events", "cases", "negative_share", "topic_trends"}
    code, _, err = run_cli(path, "report", "--unit", "zbb", capsys=capsys)
    assert code == 2 and 'no unit \'zbb\' (did you mean "zzb"?)' in err


def test_scheduled_report_goes_to_the_leaders_once(world) -> None:
    from alerts.outbox import send_pending

    settings, db, smtp, _ = world
    assert NOW.astimezone(settings.tz).weekday() == 0  # a Monday: last week's report is due
    ids = send_scheduled(db, settings, NOW)
    assert len(ids) == 2 and send_scheduled(db, settings, NOW) == []
    send_pending(db, settings, NOW)
    by_rcpt = {tuple(m.rcpt_tos): m.message for m in smtp.messages}
    msg = by_rcpt[("leader@zzb.example.org",)]  # zzb names leaders; nyb has only its officers
    assert ("officer@nyb.example.org",) in by_rcpt
    assert "[舆情周报] 组织部 2026-03-09 ~ 2026-03-15" in str(msg["Subject"])
    html = msg.get_body(("html",)).get_content()
    assert "data:image/png;base64," in html and "舆情周报：组织部" in html
