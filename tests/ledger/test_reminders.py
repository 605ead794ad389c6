"""Overdue cases remind the handler, then escalate to the leader: once per step, over real SMTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.ledger.conftest import settings_text
from yuqing.config import load_settings
from yuqing.ledger import daily_check, note, open_case, show_case
from yuqing.ledger_models import CaseLogRow
from yuqing.storage import open_database

# Tuesday 30 September 2025 10:00 Shanghai; 1-8 October are holidays, Saturday 11 October is worked.
T0 = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)


def at(day: int, month: int = 10) -> datetime:
    return datetime(2025, month, day, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def env(db_url, tmp_path, smtp):
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url, smtp.port, "ledger: {report_weekly: false, report_monthly: false}"),
                    encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    yield settings, db, smtp
    db.dispose()


def _sent(db, settings, smtp, now):
    from alerts.outbox import send_pending

    before = len(smtp.messages)
    report = send_pending(db, settings, now)
    assert report.failed == 0, report.errors
    return [(m.rcpt_tos, str(m.message["Subject"])) for m in smtp.messages[before:]]


def test_remind_then_escalate_once_per_step_in_working_days(env) -> None:
    settings, db, smtp = env
    case_id = open_case(db, settings, unit_id="zzb", title="网帖反映招聘面试不公", severity="high", by="王干事", now=T0)
    c = show_case(db, settings, case_id, T0)
    assert str(c.response_due) == "2025-10-09" and str(c.resolve_due) == "2025-10-14"

    # 9 October: the response is due today, not late.
    assert daily_check(db, settings, at(9)).reminded == ()
    # 10 October: one working day late -> the handler's office is reminded; a second run sends nothing.
    first = daily_check(db, settings, at(10))
    assert first.reminded == (case_id,) and first.escalated == ()
    assert daily_check(db, settings, at(10) + timedelta(hours=5)).reminded == ()
    mails = _sent(db, settings, smtp, at(10))
    assert len(mails) == 1
    assert mails[0][0] == ["officer@zzb.example.org"] and "提醒" in mails[0][1] and "首次响应已超期" in mails[0][1]
    # Saturday 11 October is a make-up working day: two days late -> escalated to the leader.
    second = daily_check(db, settings, at(11))
    assert second.escalated == (case_id,) and second.reminded == ()
    mails = _sent(db, settings, smtp, at(11))
    assert mails == [(["leader@zzb.example.org"], mails[0][1])] and "督办" in mails[0][1]
    # Sunday 12 October: nothing new.
    third = daily_check(db, settings, at(12))
    assert third.reminded == () and third.escalated == ()
    assert _sent(db, settings, smtp, at(12)) == []

    # The handler responds; the resolution deadline (14 Oct) then passes: a new reminder for that step.
    note(db, case_id, "已开始核实", status="verifying", by="李科长", now=at(13))
    assert daily_check(db, settings, at(14)).reminded == ()
    fourth = daily_check(db, settings, at(15))
    assert fourth.reminded == (case_id,)
    mails = _sent(db, settings, smtp, at(15))
    assert len(mails) == 1 and "办结已超期" in mails[0][1]

    with db.session() as s:
        log = [(r.by, r.action) for r in s.scalars(select(CaseLogRow).where(CaseLogRow.case_id == case_id).order_by(CaseLogRow.id))]
    assert log == [("王干事", "open"), ("yuqing", "remind"), ("yuqing", "escalate"), ("李科长", "note"), ("yuqing", "remind")]
    body = smtp.messages[0].message.get_body(("plain",)).get_content()
    assert "承办人: 李科长" in body and "2025-10-09" in body and "已超期 1 个工作日" in body


def test_the_handlers_reminder_also_goes_to_the_units_group_robot(db_url, tmp_path) -> None:
    from yuqing.storage import DeliveryRow

    path = tmp_path / "settings.yaml"
    text = settings_text(db_url, 2525, "ledger: {report_weekly: false, report_monthly: false}").replace(
        "    emails: [officer@nyb.example.org]\n",
        "    emails: [officer@nyb.example.org]\n    webhooks: [{kind: json, name: ops, url: 'http://127.0.0.1:9/hook'}]\n",
    )
    path.write_text(text, encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    case_id = open_case(db, settings, unit_id="nyb", title="村务公开栏长期不更新", severity="high", by="王干事", now=T0)
    assert daily_check(db, settings, at(10)).reminded == (case_id,)
    assert daily_check(db, settings, at(10)).reminded == ()
    with db.session() as s:
        rows = sorted((r.channel, tuple(r.recipients), r.kind) for r in s.scalars(select(DeliveryRow)))
    assert rows == [("email", ("officer@nyb.example.org",), "reminder"), ("json:ops", (), "reminder")]
    c = show_case(db, settings, case_id, at(10))
    assert c.log[-1].action == "remind" and "officer@nyb.example.org, json:ops" in c.log[-1].text
    db.dispose()
