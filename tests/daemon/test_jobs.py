"""yuqing.jobs and the schedule helpers, on real databases (SQLite and PostgreSQL), a real SMTP server
and the real alerts outbox; time is passed in, never waited for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from scheduler import cron_due, cron_problem, digest_due
from tests.alerts.factory import PostSpec, add_post
from yuqing import jobs
from yuqing.config import load_settings
from yuqing.storage import CrawlRun, PostRow, SourceState, open_database

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Shanghai (the configured zone), as the aware UTC moment storage uses."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SH).astimezone(UTC)


def test_digest_due_follows_the_cron_in_the_configured_zone() -> None:
    class Unit:
        digest = "0 8,17 * * *"

    last = at(25, 8, 0)
    assert digest_due(Unit, last, at(25, 16, 59), SH) is False
    assert digest_due(Unit, last, at(25, 17, 0), SH) is True
    assert digest_due(Unit, at(25, 17, 0), at(26, 7, 59), SH) is False
    # Missed runs (a machine off overnight) make one digest due, not several.
    assert digest_due(Unit, last, at(27, 9, 0), SH) is True
    assert digest_due(Unit, None, at(25, 3, 0), SH) is True  # never sent: what waits goes out
    # In UTC the same instant is 09:00, which the cron (in Shanghai) does not name.
    assert cron_due("0 9 * * *", at(25, 8, 30), at(25, 9, 30), SH) is True
    assert cron_due("0 9 * * *", at(25, 8, 30), at(25, 9, 30), ZoneInfo("UTC")) is False


def test_cron_problem_names_a_bad_expression() -> None:
    assert cron_problem("0 8,17 * * *") is None
    assert "five fields" in (cron_problem("0 8 * *") or "")
    assert "not a valid cron expression" in (cron_problem("61 8 * * *") or "")


def _settings(write_settings, db_url: str, smtp_port: int, **daemon: str):  # type: ignore[no-untyped-def]
    extra = "".join(f"\n  {k}: {v!r}" for k, v in daemon.items())
    path = write_settings(
        f"""
database: {db_url}
timezone: Asia/Shanghai
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org}}
daemon:
  retention_days: 30
  daily: "30 6 * * *"{extra}
units:
  - id: zzb
    name: 县委组织部
    emails: [zzb@example.org]
    topics: [cadre_appointment]
    digest: "0 8,17 * * *"
    urgent_severity: "off"
"""
    )
    return load_settings(str(path))


def test_run_once_sends_each_due_digest_once_and_keeps_its_schedule(db_url, smtp, write_settings) -> None:
    settings = _settings(write_settings, db_url, smtp.port)
    db = open_database(settings.database_url())
    spec = PostSpec(
        "县委组织部任前公示", "拟提拔干部名单公示，接受群众监督。", words=["任前公示"], at=at(25, 7)
    )
    add_post(db, spec.__class__(**{**spec.__dict__, "matches": [("zzb", "cadre_appointment", "medium")]}))

    first = jobs.run_once(settings, db, at(25, 8, 5))  # never digested: due, and the match goes out
    assert first.digests_due == ("zzb",) and first.digests_planned == 1 and first.send.sent == 1
    assert first.checks is not None  # the daily checks had never run either
    assert len(smtp.messages) == 1 and smtp.messages[0].rcpt_tos == ["zzb@example.org"]

    later = PostSpec("民主推荐会召开", "干部选拔任用工作民主推荐会召开。", words=["干部选拔"], at=at(25, 9))
    add_post(db, later.__class__(**{**later.__dict__, "matches": [("zzb", "cadre_appointment", "medium")]}))
    quiet = jobs.run_once(settings, db, at(25, 16, 55))  # before 17:00: not due, nothing sent
    assert quiet.digests_due == () and quiet.send.sent == 0 and quiet.checks is None
    assert len(smtp.messages) == 1

    due = jobs.run_once(settings, db, at(25, 17, 5))
    assert due.digests_due == ("zzb",) and due.send.sent == 1
    assert "民主推荐会召开" in smtp.messages[1].message.get_body(("plain",)).get_content()

    empty = jobs.run_once(settings, db, at(26, 8, 1))  # due, but no new match: no e-mail, schedule kept
    assert empty.digests_due == ("zzb",) and empty.digests_planned == 0 and len(smtp.messages) == 2
    assert empty.checks is not None  # 06:30 passed since the checks of the 25th
    again = jobs.run_once(settings, db, at(26, 9, 0))
    assert again.digests_due == () and again.checks is None
    db.dispose()


def test_retention_prunes_old_unmatched_posts_and_crawl_records_only(db_url, smtp, write_settings) -> None:
    settings = _settings(write_settings, db_url, smtp.port)
    db = open_database(settings.database_url())
    now = at(25, 12)
    old = now - timedelta(days=31)
    old_plain, _ = add_post(db, PostSpec("旧闻", "一条没有命中的旧帖子。", at=old))
    old_matched, _ = add_post(
        db, PostSpec("旧的任前公示", "任前公示。", at=old, matches=[("zzb", "cadre_appointment", "low")])
    )
    recent_plain, _ = add_post(db, PostSpec("新闻", "一条没有命中的新帖子。", at=now - timedelta(days=2)))
    copy, _ = add_post(db, PostSpec("旧闻转载", "转载。", at=now - timedelta(days=1), duplicate_of=old_plain))
    with db.session() as s:
        s.add_all(
            [
                CrawlRun(source_id="a", started_at=old, finished_at=old, status="ok", stats={}),
                CrawlRun(
                    source_id="a", started_at=now - timedelta(hours=1), finished_at=now, status="ok", stats={}
                ),
            ]
        )

    posts, runs = jobs.prune(settings, db, now)

    assert (posts, runs) == (1, 1)
    with db.session() as s:
        left = set(s.scalars(select(PostRow.id)))
        assert left == {old_matched, recent_plain, copy}
        assert s.get(PostRow, copy).duplicate_of is None
        assert s.scalar(select(func.count(CrawlRun.id))) == 1
    db.dispose()


def test_abandoned_runs_do_not_count_against_their_source(db_url, smtp, write_settings) -> None:
    settings = _settings(write_settings, db_url, smtp.port)
    db = open_database(settings.database_url())
    start = at(25, 12)
    before = start - timedelta(minutes=30)
    with db.session() as s:
        s.add(
            SourceState(source_id="a", kind="news", status="ok", consecutive_failures=0, last_crawl_at=before)
        )
        s.add(CrawlRun(source_id="a", started_at=start + timedelta(seconds=5), status="running", stats={}))
        s.add(CrawlRun(source_id="b", started_at=start - timedelta(hours=2), status="running", stats={}))
    flights = jobs.in_flight(db, start)
    assert [f.source_id for f in flights] == ["a"]
    # What crawler.run records when the daemon kills the crawl process at stop:
    with db.session() as s:
        run = s.scalars(select(CrawlRun).where(CrawlRun.source_id == "a")).one()
        run.status, run.finished_at = "failed", start + timedelta(seconds=20)
        state = s.get(SourceState, "a")
        state.consecutive_failures, state.last_crawl_at, state.last_error = (
            1,
            start + timedelta(seconds=20),
            "exit -15",
        )

    assert jobs.abandon(db, flights, start + timedelta(seconds=10), start + timedelta(seconds=21)) == 1

    with db.session() as s:
        assert s.scalars(select(CrawlRun.status).where(CrawlRun.source_id == "a")).one() == "abandoned"
        state = s.get(SourceState, "a")
        assert (state.consecutive_failures, state.last_crawl_at, state.last_error) == (0, before, None)
    # A run left 'running' by a process that died long ago is found by the stale check.
    assert jobs.abandon_stale_runs(settings, db, start) == 1
    with db.session() as s:
        assert s.scalars(select(CrawlRun.status).where(CrawlRun.source_id == "b")).one() == "abandoned"
    db.dispose()
