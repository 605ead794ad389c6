"""Databases for tests: a SQLite file, or a fresh PostgreSQL database on 127.0.0.1:5432."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN_URL = os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_reason() -> str | None:
    """None when PostgreSQL is reachable, else why not (shown as the skip reason)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({str(exc).splitlines()[0]}); start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = "yq_test_" + uuid.uuid4().hex[:12]
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'yuqing.db'}"
