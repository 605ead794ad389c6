"""The weekly report: figures from a world of known shape, rendered HTML with charts, sent over SMTP.

The e-mail carries its charts as inline Content-ID parts (webmail does not show data: URIs); the
`--html` file embeds them as data: URIs so it stands alone.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.ledger.conftest import run_cli, settings_text
from tests.ledger.report_world import NOW, build, screenshot
from yuqing.config import load_settings
from yuqing.report import build_report, render_html, render_text, send_scheduled
from yuqing.storage import open_database

PNG = b"\x89PNG\r\n\x1a\n"


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll a condition with a bound (the child process gives no other signal)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


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
    assert [alt for alt, _ in images] == ["各主题每日帖文数", "各主题负面占比与案件办理"]
    for _, data in images:
        png = base64.b64decode(data)
        assert png.startswith(PNG) and len(png) > 5000
    assert "舆情周报：组织部" in html and "统计期 2026-03-10 ~ 2026-03-16" in html
    assert "&lt;b&gt;乡镇干部&lt;/b&gt;任前公示引热议" in html and "<b>乡镇干部" not in html
    # People read topic display names from the rule pack, Chinese trend words with their numbers.
    assert "<td>事业单位招聘与公务员招录</td>" in html and "<td>干部选拔任用</td>" in html
    assert not re.search(r"public_recruitment|cadre_appointment|talent_introduction", html)
    assert '<span class="heating">升温</span> 本期日均 1.1 条，上期日均 0.0 条（新出现）' in html
    assert '<span class="stable">平稳</span> 本期日均 0.31 条，上期日均 0.31 条（×1.0）' in html
    assert '<span class="heating">升温</span> 本期 7 条，上期 0 条' in html  # the top event
    assert ">高<" in html and ">high<" not in html and "<td>处置中</td>" not in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened
    text = render_text(build_report(db, settings, "week", NOW, unit_id="zzb"), settings)
    assert "帖文 11 条，负面 9 条（82%）" in text and "按时办结率 100%" in text
    assert "- 事业单位招聘与公务员招录：7 / 0 / 升温（本期日均 1.1 条，上期日均 0.0 条，新出现）" in text
    assert "heating" not in text and "public_recruitment" not in text


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
    # The file is the standalone one (data: URIs). (The CLI reports on the real clock: this week
    # of the test world is long past, so its figures are checked above, not here.)
    assert out.read_text(encoding="utf-8").count('src="data:image/png;base64,') == 2
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
    assert "舆情周报：组织部" in msg.get_body(("html",)).get_content()
    check_inline_charts(msg)


def check_inline_charts(msg: EmailMessage) -> dict[str, bytes]:
    """The HTML shows its charts by cid:, each an image/png part of a multipart/related with the
    HTML; no data: URI anywhere. Returns PNG bytes by Content-ID."""
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert "data:" not in html and "base64," not in html
    refs = re.findall(r'<img alt="[^"]+" src="cid:([^"]+)"', html)
    assert len(refs) == 2
    pngs = {p["Content-ID"].strip().strip("<>"): p.get_content() for p in images}
    assert [p.get_content_type() for p in images] == ["image/png", "image/png"]
    assert sorted(pngs) == sorted(refs)
    assert all(png.startswith(PNG) and len(png) > 5000 for png in pngs.values())
    return pngs


@pytest.fixture
def holding_world(db_url, tmp_path):
    from tests.alerts.holding import HoldingSmtp

    server = HoldingSmtp()
    server.controller.start()
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url, server.port), encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    build(db, settings)
    yield settings, db, server, path
    db.dispose()
    server.release.set()
    server.controller.stop()


def test_report_mail_killed_before_the_servers_250_is_resent_with_the_same_message_id_and_charts(holding_world) -> None:
    """The server has the report, the sender is killed before it hears 250: the next run sends it
    again from the stored row, with the same Message-ID and the same charts under the same Content-IDs."""
    from yuqing.report import send_report

    settings, db, server, path = holding_world
    delivery = send_report(db, settings, build_report(db, settings, "week", NOW, unit_id="zzb", previous=True), NOW)
    assert delivery is not None
    cmd = [sys.executable, "-c", "import sys; from yuqing.cli import main; sys.exit(main())", "--config", str(path),
           "deliveries", "retry", str(delivery)]
    server.hold = True
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: server.got.is_set() or proc.poll() is not None, "the SMTP server to receive the report")
        assert proc.poll() is None, proc.communicate()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    server.hold = False
    server.release.set()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert check_inline_charts(first) == check_inline_charts(second)
