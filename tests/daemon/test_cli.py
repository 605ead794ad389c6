"""`yuqing run-once`, `status` and `reload` as an operator (or cron) runs them, without a daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from yuqing.config import load_settings
from yuqing.runlock import RunLock
from yuqing.storage import open_database


def yuqing(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yuqing", "--config", str(settings), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


SETTINGS = """
database: sqlite:///var/yuqing.db
units:
  - id: zzb
    name: 县委组织部
    topics: [cadre_appointment]
"""


def test_run_once_status_and_reload_without_a_daemon(write_settings) -> None:
    path = write_settings(SETTINGS)

    once = yuqing(path, "run-once", "--json")
    assert once.returncode == 0, once.stderr
    result = json.loads(once.stdout)
    assert result["crawl"] is None  # no source: nothing due
    assert result["digests_due"] == ["zzb"] and result["digests_planned"] == 0  # no match: no e-mail
    assert result["checks"]["pruned_posts"] == 0

    status = yuqing(path, "status")
    assert status.returncode == 0, status.stderr
    assert "scheduler: not running" in status.stdout and "outbox: empty" in status.stdout

    reload = yuqing(path, "reload")
    assert reload.returncode == 2
    assert "no yuqing daemon is running" in reload.stderr
    assert "Traceback" not in reload.stderr


def test_run_once_refuses_while_another_holds_the_lock(write_settings) -> None:
    path = write_settings(SETTINGS)
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    with RunLock(settings, db, "daemon"):
        refused = yuqing(path, "run-once")
        status = json.loads(yuqing(path, "status", "--json").stdout)
    assert refused.returncode == 4
    assert f"yuqing daemon (pid {os.getpid()}" in refused.stderr and "already holds the scheduler lock" in refused.stderr
    assert status["scheduler"]["running"] is True and status["scheduler"]["pid"] == os.getpid()
    db.dispose()
