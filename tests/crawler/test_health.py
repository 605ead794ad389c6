"""Source health from recorded runs: failures in a row, a sudden empty extraction (redesign) and a
long silence each become a problem, told to the operator once through the outbox; a good run clears
it. Runs are recorded exactly as `crawler.run` records a finished child's summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler import health
from yuqing.config import Settings, load_settings
from yuqing.records import CrawlSummary
from yuqing.storage import CrawlRun, Database, DeliveryRow, SourceState, open_database

T0 = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> tuple[Settings, Database]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"database: '{db_url}'\n"
        "smtp: {host: 127.0.0.1, port: 2525, sender: yuqing@example.org}\n"
        "alerts: {operator_emails: [ops@example.org]}\n"
        "crawl: {failures_before_problem: 3}\n"
        "sources:\n  - {id: s1, kind: news, start_urls: ['https://news.example.org/list.html'], every: 1h}\n",
        encoding="utf-8",
    )
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    yield settings, db
    db.dispose()


def run(settings: Settings, db: Database, at: datetime, status: str = "ok", *, new: int = 0, articles: int = 0, empty: int = 0) -> str | None:
    with db.session() as s:
        row = CrawlRun(source_id="s1", started_at=at, status="running")
        s.add(row)
        s.flush()
        run_id = row.id
    summary = CrawlSummary("s1", status, requests=5, pages=4, new_posts=new, errors=0 if status == "ok" else 1,
                           error=None if status == "ok" else "HTTP 500 on the list page")  # fmt: skip
    return health.record(db, settings, settings.source("s1"), run_id, summary, empty_extractions=empty, articles=articles,
                         robots_unavailable=False, stats={}, now=at)  # fmt: skip


def state(db: Database) -> SourceState:
    with db.session() as s:
        st = s.get(SourceState, "s1")
        assert st is not None
        return st


def operator_messages(db: Database) -> list[DeliveryRow]:
    with db.session() as s:
        return list(s.scalars(select(DeliveryRow).where(DeliveryRow.kind == "operator")))


def test_failures_in_a_row_become_one_problem_told_once_then_recovery_clears_it(world):
    settings, db = world
    assert run(settings, db, T0, new=3, articles=3) is None
    assert run(settings, db, T0 + timedelta(hours=1), "failed") is None
    assert run(settings, db, T0 + timedelta(hours=2), "failed") is None
    assert state(db).status == "ok" and state(db).consecutive_failures == 2
    raised = run(settings, db, T0 + timedelta(hours=3), "failed")
    assert raised is not None and raised.startswith("failed 3 crawls in a row")
    assert run(settings, db, T0 + timedelta(hours=4), "failed") is None  # same problem: not raised again
    st = state(db)
    assert st.status == "problem" and st.problem_reported_at is not None
    messages = operator_messages(db)
    assert len(messages) == 1
    assert messages[0].recipients == ["ops@example.org"] and "s1" in messages[0].subject
    assert "HTTP 500" in messages[0].body_text

    assert run(settings, db, T0 + timedelta(hours=5), new=1, articles=1) is None
    st = state(db)
    assert st.status == "ok" and st.problem is None and st.consecutive_failures == 0
    assert st.last_success_at == T0 + timedelta(hours=5)
    assert len(operator_messages(db)) == 1


def test_extraction_suddenly_empty_is_a_redesign_problem(world):
    settings, db = world
    assert run(settings, db, T0, new=5, articles=5) is None
    raised = run(settings, db, T0 + timedelta(hours=1), articles=4, empty=4)
    assert raised is not None and "extraction came back empty on all 4 article pages" in raised
    assert state(db).status == "problem"


def test_empty_extraction_on_a_source_that_never_yielded_is_not_called_a_redesign(world):
    settings, db = world
    assert run(settings, db, T0, articles=4, empty=4) is None
    assert state(db).status == "ok"


def test_silence_much_longer_than_expected_is_a_problem(world):
    settings, db = world
    run(settings, db, T0, new=2, articles=2)
    # every: 1h -> expected within max(48h, 3 days): two days of nothing is still fine ...
    assert run(settings, db, T0 + timedelta(days=2)) is None
    # ... four days of nothing is not.
    raised = run(settings, db, T0 + timedelta(days=4))
    assert raised is not None and raised.startswith("no new post since 2024-05-06 01:00")
    assert state(db).status == "problem"
