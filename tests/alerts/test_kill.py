"""Kill tests: `yuqing digest send` runs as a real process and is SIGKILLed at each step of a send.

After each kill the command is run again, and what the real SMTP server and the webhook receiver
got is checked: every match delivered, nothing delivered twice (where the far end may have got a
message twice, a resend carries the same Message-ID, which mail clients fold).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from yuqing.config import load_settings
from yuqing.storage import DeliveryMatch, DeliveryRow, open_database

from .factory import NOW, PostSpec, add_post, settings_yaml
from .holding import HoldingSmtp
from .receiver import Receiver, Reply


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def holding_smtp():
    s = HoldingSmtp()
    s.controller.start()
    yield s
    s.release.set()
    s.controller.stop()


UNIT = "  - {{id: zzb, name: 组织部, emails: [officer@example.org], topics: [cadre_appointment], webhooks: [{{kind: wecom, name: ops, url: '{url}'}}]}}\n"


def prepare(tmp_path: Path, smtp_port: int, receiver: Receiver, db_url: str | None = None) -> Path:
    receiver.on("/wecom", lambda p: Reply({"errcode": 0, "errmsg": "ok"}))
    db_url = db_url or f"sqlite:///{tmp_path / 'yuqing.db'}"
    path = tmp_path / "settings.yaml"
    path.write_text(settings_yaml(db_url, smtp_port=smtp_port, units=UNIT.format(url=receiver.url("/wecom"))), encoding="utf-8")
    db = open_database(load_settings(str(path)).database_url())
    for i in range(3):
        add_post(db, PostSpec(f"第{i}条 干部公示引发质疑", "网友质疑本次干部任前公示期过短。", ["干部"], at=NOW, matches=[("zzb", "cadre_appointment", "medium")]))
    db.dispose()
    return path


def yuqing(settings: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from yuqing.cli import main; sys.exit(main())", "--config", str(settings), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def outbox(settings: Path) -> tuple[list[DeliveryRow], list[DeliveryMatch]]:
    db = open_database(load_settings(str(settings)).database_url())
    with db.session() as s:
        rows = list(s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))
        links = list(s.scalars(select(DeliveryMatch)))
    db.dispose()
    return rows, links


def check_once_each(settings: Path, mails: list[Any], robot_posts: list[Any]) -> None:
    rows, links = outbox(settings)
    assert sorted((r.channel, r.state) for r in rows) == [("email", "sent"), ("wecom:ops", "sent")]
    assert sorted((link.channel, link.match_id) for link in links) == sorted((c, m) for c in ("email", "wecom:ops") for m in (1, 2, 3))
    email_row = next(r for r in rows if r.channel == "email")
    assert {m["Message-ID"].strip() for m in mails} == {email_row.message_id}
    for i in range(3):
        assert mails[-1].get_body(("plain",)).get_content().count(f"第{i}条") == 1
    assert len(robot_posts) == 1
    assert all(robot_posts[0].body["markdown"]["content"].count(f"第{i}条") == 1 for i in range(3))


@pytest.mark.parametrize("point", ["planning", "planned", "claimed", "sent", "marked"])
def test_killed_at_each_step_nothing_is_lost_and_nothing_sent_twice(tmp_path, holding_smtp, receiver, point):
    settings = prepare(tmp_path, holding_smtp.port, receiver)
    marker = tmp_path / "fault.txt"
    proc = yuqing(settings, "digest", "send", env={"YUQING_FAULT_PAUSE": point, "YUQING_FAULT_FILE": str(marker)})
    wait_until(lambda: marker.exists() and point in marker.read_text() or proc.poll() is not None, f"the sender to reach '{point}'")
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    sent_before_kill = len(holding_smtp.messages)
    assert sent_before_kill == (1 if point in ("sent", "marked") else 0)

    code, out, err = finish(yuqing(settings, "digest", "send"))
    assert code == 0, err
    # Points after the far end got the message: the recorded progress keeps the resend from happening.
    check_once_each(settings, holding_smtp.messages, receiver.received("/wecom"))
    assert len(holding_smtp.messages) == 1
    code, out, _ = finish(yuqing(settings, "digest", "send"))
    assert code == 0 and "nothing to send" in out
    assert len(holding_smtp.messages) == 1 and len(receiver.received("/wecom")) == 1


def test_killed_before_the_servers_250_the_resend_has_the_same_message_id(tmp_path, holding_smtp, receiver, db_url):
    settings = prepare(tmp_path, holding_smtp.port, receiver, db_url)  # SQLite (flock) and PostgreSQL (advisory lock)
    holding_smtp.hold = True
    proc = yuqing(settings, "digest", "send")
    wait_until(lambda: holding_smtp.got.is_set() or proc.poll() is not None, "the SMTP server to receive the digest")
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)  # the server has the message; the client never hears 250
    proc.wait(timeout=30)
    holding_smtp.release.set()
    holding_smtp.hold = False
    rows, _ = outbox(settings)
    assert [r.state for r in rows if r.channel == "email"] == ["sending"]

    code, _, err = finish(yuqing(settings, "digest", "send"))
    assert code == 0, err
    first, second = holding_smtp.messages
    assert first["Message-ID"] == second["Message-ID"]  # one message to a mail client
    assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
    check_once_each(settings, holding_smtp.messages, receiver.received("/wecom"))


def test_a_json_webhook_killed_before_its_answer_gets_the_same_idempotency_key_again(tmp_path, receiver):
    got, release = threading.Event(), threading.Event()

    def holding(p: Any) -> Reply:
        if not got.is_set():
            got.set()
            release.wait(30)  # the client is killed while we hold the answer
        return Reply({}, 202)

    db_url = f"sqlite:///{tmp_path / 'yuqing.db'}"
    unit = f"  - {{id: zzb, name: 组织部, topics: [cadre_appointment], webhooks: [{{kind: json, url: '{receiver.on('/hook', holding)}'}}]}}\n"
    settings = tmp_path / "settings.yaml"
    settings.write_text(settings_yaml(db_url, units=unit), encoding="utf-8")
    db = open_database(db_url)
    add_post(db, PostSpec("干部公示引发质疑", "网友质疑干部任前公示期过短。", ["干部"], matches=[("zzb", "cadre_appointment", "medium")]))
    db.dispose()
    proc = yuqing(settings, "digest", "send")
    try:
        wait_until(lambda: got.is_set() or proc.poll() is not None, "the webhook to receive the digest")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        release.set()
    code, _, err = finish(yuqing(settings, "digest", "send"))
    assert code == 0, err
    first, second = receiver.received("/hook")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body  # the same recorded message, so the receiver can fold it
    rows, _ = outbox(settings)
    assert [(r.state, r.attempts) for r in rows] == [("sent", 2)]
