"""`yuqing digest preview|send` and `yuqing deliveries [retry]` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from tests.support.mail import SmtpServer
from yuqing.cli import main
from yuqing.storage import DeliveryRow, open_database

from .factory import PostSpec, add_post, settings_yaml

UNITS = "  - {id: zzb, name: 组织部, emails: [officer@example.org], topics: [cadre_appointment]}\n"


def prepare(tmp_path: Path, port: int) -> tuple[Path, object]:
    db_url = f"sqlite:///{tmp_path / 'y.db'}"
    path = tmp_path / "settings.yaml"
    path.write_text(settings_yaml(db_url, smtp_port=port, units=UNITS), encoding="utf-8")
    db = open_database(db_url)
    add_post(db, PostSpec("某县干部任前公示期过短", "网友反映干部任前公示期仅三天。", ["干部"], matches=[("zzb", "cadre_appointment", "medium")]))
    return path, db


def run(settings: Path, *args: str) -> int:
    return main(["--config", str(settings), *args])


def count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(DeliveryRow))


def test_preview_prints_and_writes_html_and_changes_nothing(tmp_path, smtp, capsys):
    settings, db = prepare(tmp_path, smtp.port)
    html = tmp_path / "digest.html"
    assert run(settings, "digest", "preview", "--html", str(html)) == 0
    out = capsys.readouterr().out
    assert "Subject: 【舆情日报】组织部 新增1条" in out and "To: officer@example.org" in out and "【干部】" in out
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert count(db) == 0 and smtp.messages == []
    assert run(settings, "digest", "preview", "--unit", "zzb") == 0
    assert count(db) == 0


def test_send_with_the_mail_server_down_says_so_in_one_line_and_the_next_send_delivers(tmp_path, capsys):
    server = SmtpServer()  # not started yet: connections are refused
    settings, db = prepare(tmp_path, server.port)
    assert run(settings, "digest", "send") == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "unreachable" in err and "1 kept in the outbox for the next send" in err
    server.start()
    try:
        assert run(settings, "digest", "send") == 0
        assert "sent 1" in capsys.readouterr().out
        assert len(server.messages) == 1
        assert run(settings, "digest", "send") == 0
        assert "nothing to send" in capsys.readouterr().out
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_deliveries_lists_and_retry_sends_a_parked_one(tmp_path, smtp, capsys):
    settings, db = prepare(tmp_path, smtp.port)
    smtp.refuse.add("officer@example.org")
    assert run(settings, "digest", "send", "--json") == 3
    report = json.loads(capsys.readouterr().out)
    assert report["parked"] == 1 and "550" in report["errors"][0]
    assert run(settings, "deliveries", "--state", "parked", "--json") == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["state"] == "parked" and row["channel"] == "email" and "550" in row["last_error"]
    smtp.refuse.clear()
    assert run(settings, "deliveries", "retry", str(row["id"])) == 0
    assert f"delivery {row['id']} sent" in capsys.readouterr().out
    assert len(smtp.messages) == 1
    assert run(settings, "deliveries") == 0
    table = capsys.readouterr().out
    assert "sent" in table.splitlines()[1] and "STATE" in table
    assert run(settings, "deliveries", "retry", str(row["id"])) == 2  # already sent
    assert "nothing to retry" in capsys.readouterr().err


def test_an_unknown_unit_is_one_clear_error(tmp_path, smtp, capsys):
    settings, _ = prepare(tmp_path, smtp.port)
    assert run(settings, "digest", "send", "--unit", "zbb") == 2
    assert 'no unit \'zbb\' (did you mean "zzb"?)' in capsys.readouterr().err


def test_send_says_what_is_held_by_quiet_hours_and_weekends(tmp_path, smtp, capsys):
    import time_machine

    db_url = f"sqlite:///{tmp_path / 'y.db'}"
    units = (
        "  - {id: zzb, name: 组织部, emails: [officer@example.org], topics: [cadre_appointment], quiet_hours: '22:00-07:00'}\n"
        "  - {id: nyb, name: 农业农村局, emails: [nongye@example.org], topics: [village_affairs], weekends: false}\n"
    )
    settings = tmp_path / "settings.yaml"
    settings.write_text(settings_yaml(db_url, smtp_port=smtp.port, units=units), encoding="utf-8")
    db = open_database(db_url)
    add_post(db, PostSpec("干部公示", "干部", ["干部"], matches=[("zzb", "cadre_appointment", "medium")]))
    add_post(db, PostSpec("村务公开栏长期未更新", "村务", ["村务"], matches=[("nyb", "village_affairs", "medium")]))
    with time_machine.travel("2026-11-28 23:30 +08:00", tick=False):  # a Saturday night in Shanghai
        assert run(settings, "digest", "send") == 0
    out = capsys.readouterr().out
    assert "unit nyb: no digest on a weekend" in out
    assert "(zzb · email) is held until 2026-11-29 07:00" in out
    assert smtp.messages == []


def test_a_second_sender_does_not_touch_what_the_first_is_sending(tmp_path, db_url, smtp):
    from alerts.outbox import plan_digests, send_pending
    from alerts.sendlock import SenderLock

    from .factory import NOW, make_settings

    st = make_settings(tmp_path, settings_yaml(db_url, smtp_port=smtp.port, units=UNITS))
    db = open_database(db_url)
    add_post(db, PostSpec("干部公示", "干部", ["干部"], matches=[("zzb", "cadre_appointment", "medium")]))
    plan_digests(db, st, NOW)
    first = SenderLock(db)
    assert first.acquire()
    try:
        report = send_pending(db, st, NOW)
        assert report.sent == 0 and "another yuqing process is sending" in report.errors[0]
        assert smtp.messages == []
    finally:
        first.release()
    assert send_pending(db, st, NOW).sent == 1
