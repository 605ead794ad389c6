"""The daemon's bounded resources: its SQLite connections keep a small page cache."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from scheduler import DAEMON_SQLITE_CACHE_KIB, bound_sqlite_cache
from yuqing.storage import open_database


def test_the_daemons_sqlite_connections_have_a_small_page_cache(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'yuqing.db'}")
    with db.session() as s:
        assert s.execute(text("PRAGMA cache_size")).scalar() != -DAEMON_SQLITE_CACHE_KIB
    bound_sqlite_cache(db)
    with db.session() as s:  # every connection from now on, whichever thread asks
        assert s.execute(text("PRAGMA cache_size")).scalar() == -DAEMON_SQLITE_CACHE_KIB
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"  # the usual pragmas stay
    db.dispose()
