"""Storage on SQLite and PostgreSQL: migrations create the schema, times come back in UTC, a post is stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from yuqing.storage import MatchRow, PostRow, open_database


def post(url: str, **kw) -> PostRow:
    now = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    return PostRow(source_id="s", url=url, title="标题", text="正文", fetched_at=now, **kw)


def test_any_command_creates_the_schema_on_an_empty_database(db_url):
    db = open_database(db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"posts", "matches", "deliveries", "delivery_matches", "source_state", "crawl_runs", "http_cache"} <= tables
    assert "alembic_version" in tables
    db.upgrade()  # a second upgrade is a no-op
    db.dispose()


def test_a_post_is_stored_once_by_url(db_url):
    db = open_database(db_url)
    with db.session() as s:
        s.add(post("https://a.example/1"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(post("https://a.example/1"))
    with db.session() as s:
        assert s.scalar(select(PostRow.id).where(PostRow.url == "https://a.example/1")) is not None
        assert len(s.scalars(select(PostRow)).all()) == 1
    db.dispose()


def test_times_are_stored_in_utc_and_come_back_aware(db_url):
    db = open_database(db_url)
    shanghai = timezone(timedelta(hours=8))
    published = datetime(2026, 5, 1, 10, 0, tzinfo=shanghai)
    with db.session() as s:
        s.add(post("https://a.example/2", published_at=published))
    with db.session() as s:
        row = s.scalars(select(PostRow)).one()
        assert row.published_at == published
        assert row.published_at.utcoffset() == timedelta(0)
        assert row.published_at.hour == 2
    with pytest.raises(Exception, match="naive datetime"), db.session() as s:
        s.add(post("https://a.example/3", published_at=datetime(2026, 5, 1)))
    db.dispose()


def test_one_match_per_post_unit_and_topic(db_url):
    db = open_database(db_url)
    now = datetime.now(UTC)
    with db.session() as s:
        p = post("https://a.example/4")
        s.add(p)
        s.flush()
        s.add(MatchRow(post_id=p.id, unit_id="zzb", topic="cadre_appointment", rule_id="r", severity="high", created_at=now))
        pid = p.id
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(MatchRow(post_id=pid, unit_id="zzb", topic="cadre_appointment", rule_id="r2", severity="low", created_at=now))
    db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    db.dispose()


def test_the_migrations_build_exactly_the_schema_the_models_describe(db_url):
    """A model changed without a migration (or the reverse) shows up here as a difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import yuqing.ledger_models  # noqa: F401  (tables of other parts register on Base when imported)
    import yuqing.marks  # noqa: F401
    from yuqing.storage import Base

    db = open_database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    db.dispose()
    assert diff == []
