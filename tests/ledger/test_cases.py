"""The ledger on SQLite and PostgreSQL: opening, deadlines, status moves, who and when, closing rules."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tests.ledger.conftest import run_cli
from tests.ledger.factory import add_post
from tests.ledger.test_events import OTHER, STORY
from yuqing.events import cluster_posts
from yuqing.ledger import (
    CaseError,
    assign,
    close,
    daily_check,
    note,
    open_case,
    reopen,
    reply,
    resolve,
    show_case,
)
from yuqing.ledger_export import COLUMNS

# Tuesday 30 September 2025, 10:00 in Shanghai: National Day week follows.
T0 = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)


def _event(db, settings, severity="high", unit="zzb", topic="public_recruitment", at=T0, text=STORY) -> int:
    a = add_post(db, source="county-news", title="县人社局招聘拟聘名单引质疑", text=text, at=at,
                 matches=[(unit, topic, severity, True)])
    add_post(db, source="city-forum", title="转载：招聘名单引质疑", text="来源：县融媒体中心\n" + text,
             at=at + timedelta(hours=2), matches=[(unit, topic, severity, True)])
    cluster_posts(db, settings, now=at + timedelta(hours=3))
    from yuqing.storage import PostRow

    with db.session() as s:
        return s.get(PostRow, a).event_id


def test_case_lifecycle_records_who_and_when(ledger_env) -> None:
    settings, db, _ = ledger_env
    event_id = _event(db, settings)
    case_id = open_case(db, settings, unit_id="zzb", event_id=event_id, by="王干事", now=T0)
    c = show_case(db, settings, case_id, T0)
    # Defaults from the unit, severity from the unit's matches, deadlines in working days:
    # high = 1 working day to respond, 5 to resolve; 1-8 October are holidays.
    assert (c.leader, c.handler, c.severity, c.status) == ("张部长", "李科长", "high", "new")
    assert c.response_due == date(2025, 10, 9) and c.resolve_due == date(2025, 10, 14)
    assert c.event is not None and c.event.sites == 2 and len(c.posts) == 2

    t = T0 + timedelta(hours=1)
    assign(db, case_id, handler="赵科员", by="张部长", now=t)
    note(db, case_id, "已联系县人社局核实", status="verifying", by="赵科员", now=t + timedelta(minutes=1))
    note(db, case_id, "人社局正在复核面试评分", status="handling", by="赵科员", now=t + timedelta(minutes=2))
    reply(db, settings, case_id, text="县人社局已发布情况说明", where="https://rsj.example.gov.cn/notice/1",
          by="赵科员", now=t + timedelta(minutes=3))
    resolve(db, case_id, "复核后取消该考生拟聘资格，递补下一名", by="赵科员", now=t + timedelta(minutes=4))
    close(db, case_id, by="张部长", now=t + timedelta(minutes=5))

    c = show_case(db, settings, case_id, t + timedelta(minutes=6))
    assert c.status == "closed" and c.closed_at == t + timedelta(minutes=5)
    assert c.responded_at == t + timedelta(minutes=1)  # leaving "new" is the first response
    assert c.reply_where == "https://rsj.example.gov.cn/notice/1"
    steps = [(e.by, e.action, e.status_from, e.status_to) for e in c.log]
    assert steps == [
        ("王干事", "open", None, None),
        ("张部长", "assign", None, None),
        ("赵科员", "note", "new", "verifying"),
        ("赵科员", "note", "verifying", "handling"),
        ("赵科员", "reply", "handling", "replied"),
        ("赵科员", "resolve", "replied", "resolved"),
        ("张部长", "close", "resolved", "closed"),
    ]
    assert [e.at for e in c.log] == sorted(e.at for e in c.log)

    with pytest.raises(CaseError, match="closed; reopen it first"):
        note(db, case_id, "x", status="handling", by="赵科员", now=t)
    reopen(db, case_id, "当事人再次发帖", by="张部长", now=t + timedelta(days=1))
    c = show_case(db, settings, case_id, t + timedelta(days=1))
    assert c.status == "handling" and c.closed_at is None and c.log[-1].action == "reopen"
    with pytest.raises(CaseError, match="already tracks event"):
        open_case(db, settings, unit_id="zzb", event_id=event_id, by="王干事", now=T0)


def test_closing_needs_resolution_and_reply_or_the_leaders_reason(ledger_env) -> None:
    settings, db, _ = ledger_env
    case_id = open_case(db, settings, unit_id="zzb", title="群众来信反映村务不公开", severity="low", by="王干事", now=T0)
    with pytest.raises(CaseError, match="needs a resolution .* and an official reply"):
        close(db, case_id, by="张部长", now=T0)
    resolve(db, case_id, "已督促村委会公开", by="李科长", now=T0)
    with pytest.raises(CaseError, match="an official reply"):
        close(db, case_id, by="张部长", now=T0)
    with pytest.raises(CaseError, match=r"only the responsible leader \(张部长\)"):
        reply(db, settings, case_id, no_reply_reason="来信人已当面答复", by="李科长", now=T0)
    reply(db, settings, case_id, no_reply_reason="来信人已当面答复", by="张部长", now=T0)
    close(db, case_id, by="张部长", now=T0)
    c = show_case(db, settings, case_id, T0)
    assert c.status == "closed" and c.no_reply_by == "张部长"


def test_cli_refuses_close_with_a_clear_message_and_exit_1(ledger_env, capsys) -> None:
    settings, db, path = ledger_env
    code, out, _ = run_cli(path, "cases", "open", "--unit", "zzb", "--title", "网帖反映选调生考试泄题",
                           "--severity", "high", "--by", "王干事", "--json", capsys=capsys)
    assert code == 0
    case_id = json.loads(out)["id"]
    code, out, err = run_cli(path, "cases", "close", str(case_id), "--by", "张部长", capsys=capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"case {case_id} cannot be closed" in err and "resolution" in err
    assert "Traceback" not in err
    code, _, err = run_cli(path, "cases", "note", str(case_id), "--text", "x", "--status", "closed", "--by", "a", capsys=capsys)
    assert code == 2 and "yuqing cases close" in err
    code, _, _ = run_cli(path, "cases", "resolve", str(case_id), "--text", "经核查系谣言", "--by", "李科长", capsys=capsys)
    assert code == 0
    code, _, _ = run_cli(path, "cases", "reply", str(case_id), "--text", "发布辟谣声明", "--where", "县政府网站",
                         "--by", "李科长", capsys=capsys)
    code, out, _ = run_cli(path, "cases", "close", str(case_id), "--by", "张部长", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["status"] == "closed"
    code, out, _ = run_cli(path, "cases", "list", "--json", capsys=capsys)
    assert [c["status"] for c in json.loads(out)] == ["closed"]
    code, out, _ = run_cli(path, "cases", "show", str(case_id), capsys=capsys)
    assert "timeline:" in out and "李科长  resolve [new -> resolved]  经核查系谣言" in out


def test_daily_check_opens_cases_at_each_units_threshold_once(ledger_env) -> None:
    settings, db, _ = ledger_env
    high = _event(db, settings, "high")  # zzb: threshold high -> a case
    medium_zzb = _event(db, settings, "medium", at=T0 + timedelta(days=1), text=OTHER)  # below zzb's threshold
    assert high != medium_zzb
    other = "某村集体土地被低价发包给村干部亲属，村民质疑集体资产处置不公开不透明，要求镇政府彻查。" * 3
    a = add_post(db, source="county-news", title="村集体土地低价发包", text=other, at=T0,
                 matches=[("nyb", "collective_assets", "medium", True)])  # nyb: threshold medium -> a case
    cluster_posts(db, settings, [a], now=T0)
    with time_machine.travel(T0 + timedelta(days=1, hours=2), tick=False):
        now = datetime.now(UTC)
        first = daily_check(db, settings, now)
        again = daily_check(db, settings, now)
    assert len(first.opened) == 2 and again.opened == ()
    from yuqing.ledger import list_cases

    cases = list_cases(db, settings, now)
    assert sorted((c.unit_id, c.severity, c.opened_by) for c in cases) == [("nyb", "medium", "yuqing"), ("zzb", "high", "yuqing")]
    assert all(c.event_id != medium_zzb for c in cases)


def test_export_has_the_office_columns(ledger_env, tmp_path, capsys) -> None:
    settings, db, path = ledger_env
    event_id = _event(db, settings)
    case_id = open_case(db, settings, unit_id="zzb", event_id=event_id, by="王干事", now=T0)
    resolve(db, case_id, "已处置", by="李科长", now=T0 + timedelta(days=1))
    out_csv = tmp_path / "ledger.csv"
    code, _, _ = run_cli(path, "cases", "export", "--format", "csv", "--output", str(out_csv), capsys=capsys)
    assert code == 0
    with out_csv.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["编号"] == str(case_id) and row["来源"] == "county-news" and row["传播站点数"] == "2"
    assert row["首发时间"] == "2025-09-30 10:00" and row["责任领导"] == "张部长" and row["处置情况"] == "已处置"
    assert row["时限"].startswith("响应 2025-10-09；办结 2025-10-14")
    out_xlsx = tmp_path / "ledger.xlsx"
    code, _, _ = run_cli(path, "cases", "export", "--output", str(out_xlsx), capsys=capsys)
    from openpyxl import load_workbook

    ws = load_workbook(out_xlsx).active
    assert tuple(c.value for c in ws[1]) == COLUMNS
    assert ws.cell(row=2, column=3).value == "县人社局招聘拟聘名单引质疑"


def test_auto_open_looks_only_at_events_of_the_event_window(ledger_env):
    """An event that took in no post within `ledger.event_window` cannot have changed: a daemon
    running for months does not re-read its whole history on every crawl for it."""
    from yuqing.ledger_checks import auto_open

    settings, db, _ = ledger_env
    then = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    add_post(db, source="county-news", title="村集体土地低价发包", text=STORY, at=then,
             matches=[("nyb", "collective_assets", "high", True)])
    cluster_posts(db, settings, now=then)
    later = then + settings.ledger.event_window + timedelta(days=1)
    assert auto_open(db, settings, later) == []
    [case_id] = auto_open(db, settings, then + timedelta(hours=1))
    assert auto_open(db, settings, then + timedelta(hours=2)) == []  # one case per event and unit
    assert case_id > 0
