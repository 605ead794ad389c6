"""The real daemon as a process: a local site, a real SMTP server, second-scale intervals.

Each test starts `.venv/bin/yuqing --config ... daemon` and watches it from outside, as an operator
would: the database, /metrics and /healthz, `yuqing status`, the received mail and the log.
"""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta

import pytest

from tests.daemon.conftest import World, run_yuqing, wait_for

pytestmark = pytest.mark.slow


def _runs(world: World, source: str) -> list[tuple[datetime, datetime | None, str]]:
    rows = world.db.rows(
        "SELECT started_at, finished_at, status FROM crawl_runs WHERE source_id = :s ORDER BY started_at",
        s=source,
    )
    parse = lambda v: datetime.fromisoformat(str(v)) if v is not None else None  # noqa: E731
    return [(parse(a), parse(b), st) for a, b, st in rows]


def _matched(world: World, url: str, topic: str) -> bool:
    return bool(
        world.db.scalar(
            "SELECT count(*) FROM matches m JOIN posts p ON p.id = m.post_id WHERE p.url = :u AND m.topic = :t",
            u=url,
            t=topic,
        )
    )


def _bodies(msg: object) -> str:
    parts = []
    for kind in ("plain", "html"):
        body = msg.get_body((kind,))  # type: ignore[attr-defined]
        if body is not None:
            parts.append(body.get_content())
    return "\n".join(parts)


def test_daemon_crawls_on_time_sends_a_digest_reloads_safely_and_stops_cleanly(world: World) -> None:
    world.configure(urgent="off", digest="* * * * *")
    first = world.probe.add_article(
        1, "县里召开年度工作会议", "会议总结了全年工作，部署了明年的重点任务，各乡镇负责人参加。" * 3
    )
    daemon = world.daemon()

    # Crawls happen on time: every 3 s (plus at most 1 s of jitter) after the previous run ended,
    # one run of a source at a time.
    wait_for(
        "three finished crawls of county-news",
        lambda: len([r for r in _runs(world, "county-news") if r[2] == "ok"]) >= 3,
        90,
    )
    runs = [r for r in _runs(world, "county-news") if r[1] is not None]
    for (_, end, _), (start, _, _) in zip(runs, runs[1:], strict=False):
        assert start >= end - timedelta(seconds=0.5), "two crawls of one source overlapped"
        assert start - end < timedelta(seconds=3 + 1 + 3), (
            f"a crawl started {start - end} after the previous one ended"
        )
    assert _matched(world, first, "daemon_probe") is False

    health = daemon.healthz()
    assert health is not None and health["status"] == "ok" and health["generation"] == 1
    # /metrics counts a crawl when its job is done (after planning and sending), just after the record.
    wait_for(
        "3 crawls in /metrics",
        lambda: (daemon.metric("yuqing_crawls_total", source="county-news", status="ok") or 0) >= 3,
        30,
    )
    status = json.loads(run_yuqing(world.settings, "status", "--json").stdout)
    assert status["scheduler"]["running"] is True and status["scheduler"]["pid"] == daemon.pid
    assert status["posts"] >= 8

    # A second daemon, and a cron run overlapping it, refuse with a clear message (exit 4).
    for command in ("daemon", "run-once"):
        second = run_yuqing(world.settings, command, timeout=60)
        assert second.returncode == 4, second.stderr
        assert "already holds the scheduler lock" in second.stderr and str(daemon.pid) in second.stderr

    # SIGHUP with a broken rule file: refused, and the crawls go on matching with the old rules.
    (world.tmp / "probe.yaml").write_text(
        "topic: daemon_probe\nrules:\n  - id: probe.words\n    any: [蓝鲸计划\n", encoding="utf-8"
    )
    daemon.signal(signal.SIGHUP)
    wait_for(
        "the refused reload in /metrics",
        lambda: daemon.metric("yuqing_config_reloads_total", result="invalid") == 1,
        30,
    )
    assert (
        "probe.yaml:5" in daemon.log() and "keeping the running configuration (generation 1)" in daemon.log()
    )
    whale = world.probe.add_article(
        2, "蓝鲸计划在我县启动", "县里今天宣布蓝鲸计划正式启动，首批项目进入公示阶段。" * 3
    )
    wait_for("the new post matched by the kept rules", lambda: _matched(world, whale, "daemon_probe"), 60)

    # Fixed files and `yuqing reload`: accepted, and the new rule works from then on.
    world.write_rules("蓝鲸计划, 白鲸行动")
    reload = run_yuqing(world.settings, "reload")
    assert reload.returncode == 0 and "generation 2" in reload.stdout, reload.stderr
    state = json.loads(run_yuqing(world.settings, "status", "--json").stdout)["scheduler"]
    assert state["generation"] == 2 and state["last_reload"]["ok"] is True
    # A crawl already under way keeps the rules it started with: wait for one started after the reload.
    reloaded_at = datetime.fromisoformat(state["last_reload"]["at"]).replace(tzinfo=None)
    wait_for(
        "a crawl of probe-news started after the reload",
        lambda: any(r[0] > reloaded_at and r[1] is not None for r in _runs(world, "probe-news")),
        60,
    )
    beluga = world.probe.add_article(
        3, "白鲸行动第二阶段", "白鲸行动进入第二阶段，村民代表参加了现场会。" * 3
    )
    wait_for("the post matched by the reloaded rules", lambda: _matched(world, beluga, "daemon_probe"), 60)

    # The digest (cron: every minute) arrives, once, listing the unit's new matches.
    digests = wait_for(
        "a digest with the probe post",
        lambda: [m for m in world.smtp.messages if whale in _bodies(m.message)],
        90,
    )
    assert digests[0].rcpt_tos == ["zzb@example.org"]
    assert "在我县启动" in _bodies(digests[0].message)
    assert len(digests) == 1

    # SIGTERM: stops within daemon.stop_timeout (10 s), exit 0, nothing left running, lock free.
    daemon.signal(signal.SIGTERM)
    # Bounded: stop_timeout, plus room for a loaded 2-core CI machine to reap the children.
    assert daemon.wait_exit(timeout=10 + 20) == 0, daemon.log()
    assert "yuqing daemon stopped" in daemon.log()
    assert world.db.scalar("SELECT count(*) FROM crawl_runs WHERE status = 'running'") == 0
    # A crawl ended at stop is recorded as abandoned, never as a failure of its source.
    assert world.db.scalar("SELECT count(*) FROM crawl_runs WHERE status = 'failed'") == 0
    assert world.db.scalar("SELECT max(consecutive_failures) FROM source_state") == 0
    after = json.loads(run_yuqing(world.settings, "status", "--json").stdout)
    assert after["scheduler"]["running"] is False


def test_sigkill_and_restart_lose_and_duplicate_nothing_and_a_stuck_crawl_is_killed(world: World) -> None:
    # Urgent alerts for every match: each match must reach the inbox exactly once.
    world.configure(urgent="low", digest="0 0 1 1 *", stuck=True)
    daemon = world.daemon()
    wait_for(
        "the first alerts sent",
        lambda: world.db.scalar("SELECT count(*) FROM deliveries WHERE state = 'sent'"),
        90,
    )

    # Kill the daemon (SIGKILL, no chance to clean up) while a crawl of the new article runs.
    url = world.probe.add_article(
        7, "蓝鲸计划第一批名单公示", "蓝鲸计划第一批入选名单今天公示，公示期五个工作日。" * 3
    )
    since = (
        world.db.scalar("SELECT max(started_at) FROM crawl_runs WHERE source_id = 'probe-news'")
        or "1970-01-01"
    )
    wait_for(
        "a crawl of probe-news in flight",
        lambda: world.db.scalar(
            "SELECT count(*) FROM crawl_runs WHERE source_id = 'probe-news' AND status = 'running' AND started_at > :t",
            t=since,
        ),
        60,
        every=0.05,
    )
    daemon.signal(signal.SIGKILL)
    assert daemon.wait_exit(10) == -signal.SIGKILL

    again = world.daemon()  # the lock died with the process: the restart is not refused
    wait_for(
        "the new article's alert sent",
        lambda: any(url in _bodies(m.message) for m in world.smtp.messages),
        90,
    )
    wait_for(
        "a finished crawl of each source by the new daemon",
        lambda: all(
            world.db.scalar(
                "SELECT count(*) FROM crawl_runs WHERE source_id = :s AND status = 'ok' AND started_at > :t",
                s=s,
                t=since,
            )
            for s in ("county-news", "probe-news")
        ),
        120,
    )
    # The stuck source's crawl is killed at its time limit (45 s) and recorded; the others went on.
    stuck = wait_for(
        "the stuck crawl recorded as timed out",
        lambda: world.db.rows(
            "SELECT started_at, finished_at, error FROM crawl_runs WHERE source_id = 'stuck' AND status = 'timeout' AND started_at > :t",
            t=since,
        ),
        90,
    )
    began, ended, error = stuck[0]
    assert "timeout" in error
    assert world.db.scalar(
        "SELECT count(*) FROM crawl_runs WHERE source_id != 'stuck' AND status = 'ok' AND started_at > :a AND finished_at < :b",
        a=began,
        b=ended,
    ), "no other crawl finished while the stuck one ran"

    again.signal(signal.SIGTERM)
    assert again.wait_exit(15) == 0, again.log()

    # Nothing duplicated: each URL stored once; each match in exactly one sent delivery.
    posts = world.db.rows("SELECT url FROM posts")
    assert len(posts) == len({p[0] for p in posts})
    assert url in {p[0] for p in posts}
    per_match = world.db.rows(
        "SELECT m.id, count(d.id) FROM matches m LEFT JOIN delivery_matches dm ON dm.match_id = m.id "
        "LEFT JOIN deliveries d ON d.id = dm.delivery_id AND d.state = 'sent' GROUP BY m.id"
    )
    assert per_match and all(n == 1 for _, n in per_match), per_match
    # ... and in the inbox: no matched post's link arrived twice (a repost may be shown under its
    # first copy's link), and the article crawled across the kill arrived exactly once.
    links = [
        r[0] for r in world.db.rows("SELECT DISTINCT p.url FROM matches m JOIN posts p ON p.id = m.post_id")
    ]
    mails = [_bodies(m.message) for m in world.smtp.messages]
    for link in links:
        assert sum(link in body for body in mails) <= 1, (
            f"{link} arrived {sum(link in b for b in mails)} times"
        )
    assert sum(url in body for body in mails) == 1
