"""One scheduler at a time: the flock beside SQLite, the advisory lock on PostgreSQL."""

from __future__ import annotations

import os

import pytest

from yuqing.config import load_settings
from yuqing.errors import LockedError
from yuqing.runlock import RunLock, is_locked, lock_path, pid_path, read_holder
from yuqing.storage import open_database


def test_a_second_holder_is_refused_until_the_first_lets_go(db_url, write_settings) -> None:
    settings = load_settings(str(write_settings(f"database: {db_url}\n")))
    db = open_database(settings.database_url())
    first = RunLock(settings, db, "daemon").acquire()
    try:
        assert is_locked(settings, db)
        holder = read_holder(settings)
        assert holder.pid == os.getpid() and holder.command == "daemon"
        with pytest.raises(LockedError) as refused:
            RunLock(settings, db, "run-once").acquire()
        assert refused.value.exit_code == 4
        assert f"yuqing daemon (pid {os.getpid()}" in refused.value.show()
        assert first.alive()
        # The probe did not disturb the holder's pid file.
        assert read_holder(settings).command == "daemon"
    finally:
        first.release()
    assert not is_locked(settings, db)
    assert not pid_path(settings).exists()
    with RunLock(settings, db, "run-once"):
        assert read_holder(settings).command == "run-once"
    db.dispose()


def test_sqlite_lock_file_sits_beside_the_database(tmp_path, write_settings) -> None:
    settings = load_settings(str(write_settings("database: sqlite:///var/data.db\n")))
    assert lock_path(settings) == (tmp_path / "var" / "data.db.lock").resolve()
    assert pid_path(settings) == (tmp_path / "var" / "data.db.pid").resolve()
