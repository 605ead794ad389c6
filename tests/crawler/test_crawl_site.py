"""A real crawl of the fixture county site: news, RSS/Atom and forum, each in its own process,
through the real pipelines into SQLite and PostgreSQL; then a second crawl that changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.run import crawl, due_sources
from tests.crawler.crawl_world import by_path, posts, write_settings
from tests.crawler.fixture_site import mount
from tests.support.site import LocalSite
from yuqing.cli import main as cli
from yuqing.storage import CrawlRun, MatchRow, SourceState, open_database, utcnow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county() -> Iterator[LocalSite]:
    site = mount(LocalSite()).start()
    yield site
    site.stop()


def sources(site: LocalSite) -> str:
    return (
        f"  - {{id: county-news, kind: news, start_urls: ['{site.url('/list.html')}'], follow: '/content/\\d+'}}\n"
        f"  - {{id: county-feed, kind: rss, start_urls: ['{site.url('/feed.xml')}', '{site.url('/atom.xml')}']}}\n"
        f"  - {{id: county-bbs, kind: forum, start_urls: ['{site.url('/forum.php?mod=forumdisplay&fid=7')}']}}\n"
    )


def test_first_crawl_stores_every_stage_and_second_crawl_adds_nothing(county, db_url, tmp_path: Path, capsys):
    settings = write_settings(tmp_path, db_url, sources(county))
    db = open_database(settings.database_url())
    before = len(county.requests)

    first = {s.source_id: s for s in crawl(settings, db=db)}
    first_requests = len(county.requests) - before
    assert {s: (x.status, x.errors) for s, x in first.items()} == {
        "county-news": ("ok", 0), "county-feed": ("ok", 0), "county-bbs": ("ok", 0),
    }  # fmt: skip

    news = by_path(posts(db, "county-news"))
    assert set(news) == {"/content/1001.html", "/content/1002.html", "/content/1003.html", "/content/1004.html"}
    # Undeclared GBK and declared Big5 come out as the right characters; Traditional stays Traditional.
    assert news["/content/1002.html"].title == "关于张某某等同志任前公示的公告"
    assert "拟提拔任用张某某、李某某同志" in news["/content/1002.html"].text
    assert "清產核資" in news["/content/1004.html"].text
    # The list's second page was read (1004 is only there); the time is 10:00 Shanghai in UTC.
    assert news["/content/1004.html"].published_at.isoformat() == "2024-04-28T02:00:00+00:00"
    # The same body under two URLs: the later one points at the earlier.
    copies = [news["/content/1001.html"], news["/content/1003.html"]]
    assert sorted(p.duplicate_of is None for p in copies) == [False, True]
    original = next(p for p in copies if p.duplicate_of is None)
    assert next(p for p in copies if p.duplicate_of is not None).duplicate_of == original.id

    feed = by_path(posts(db, "county-feed"))
    assert len(feed) == 5
    assert feed["/feed/2001.html"].title == "县委组织部发布一批干部任前公示"  # GB2312 feed
    assert feed["/feed/2001.html"].published_at.isoformat() == "2024-05-06T00:00:00+00:00"
    assert feed["/atom/1.html"].title == "村務公開欄更新：集體土地承包情況"  # Big5 Atom feed, relative link
    [linkless] = [p for path, p in feed.items() if path.startswith("/atom.xml#item-")]  # named by its id
    assert linkless.title == "村民議事會會議紀要"

    bbs = by_path(posts(db, "county-bbs"))
    thread = "/forum.php?mod=viewthread&tid=101"
    floors = {p.floor: p for p in bbs.values() if p.thread_url.endswith(thread)}
    assert sorted(floors) == [1, 2, 3, 4, 5]  # both pages of the thread, numbered across pages
    assert floors[1].author == "老王头" and floors[2].author == "热心网友"
    assert floors[1].url.endswith(thread + "#post_5001")
    assert floors[4].url.endswith("/forum.php?mod=viewthread&page=2&tid=101#post_5004")
    assert {p.thread_title for p in floors.values()} == {"村里的集体资产被低价处置了，有人管吗？"}
    assert floors[1].published_at.isoformat() == "2024-05-03T12:15:02+00:00"
    assert "<br" not in floors[1].text and "\n" in floors[1].text
    # Board page 2 was followed; its thread has an unknown layout, read by the generic finder.
    generic = sorted((p for p in bbs.values() if "tid=103" in p.url), key=lambda p: p.floor)
    assert [p.author for p in generic] == ["硕士小张", "同批引进"]
    assert generic[0].text.startswith("去年通过县里的人才引进计划")
    assert generic[0].published_at is not None

    with db.session() as s:
        matches = list(s.scalars(select(MatchRow)))
        runs = list(s.scalars(select(CrawlRun)))
        states = {st.source_id: st for st in s.scalars(select(SourceState))}
    topics = {(m.unit_id, m.topic) for m in matches}
    assert ("zzb", "cadre_appointment") in topics and ("zzb", "public_recruitment") in topics
    assert all(m.unit_id == "zzb" for m in matches if m.topic == "cadre_appointment")  # nyb does not follow it
    assert sum(x.new_matches for x in first.values()) == len(matches)
    assert {r.status for r in runs} == {"ok"} and len(runs) == 3
    assert all(st.status == "ok" and st.last_success_at is not None for st in states.values())
    assert due_sources(settings, db, utcnow()) == []

    # User-Agent names the project and the operator's contact.
    assert all(r.headers.get("user-agent", "").startswith("yuqing/") for r in county.requests[before:])
    assert "https://example.org/yuqing-test" in county.requests[-1].headers["user-agent"]

    # Second crawl of the unchanged site: conditional GETs answered 304, nothing new, few requests.
    mark = len(county.requests)
    second = crawl(settings, db=db)
    assert sum(x.new_posts for x in second) == 0 and all(x.status == "ok" for x in second)
    again = county.requests[mark:]
    assert {r.path.split("?")[0] for r in again} <= {"/robots.txt", "/list.html", "/feed.xml", "/atom.xml", "/forum.php"}
    assert all(r.headers.get("if-none-match") for r in again if r.path != "/robots.txt")
    assert len(again) < first_requests / 2
    assert len(posts(db)) == 17

    # export: every post with its topics, times in the configured zone (+08:00)
    out = tmp_path / "posts.jsonl"
    assert cli(["--config", settings.path, "export", "posts", "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 17 and set(rows[0]) == {"id", "source", "url", "title", "text", "published_at", "author", "fetched_at", "topics"}
    row = next(r for r in rows if r["url"].endswith("/content/1002.html"))
    assert row["published_at"] == "2024-05-05T16:20:00+08:00" and "cadre_appointment" in row["topics"]
    assert cli(["--config", settings.path, "export", "posts", "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.startswith("id,source,url,title,text,published_at,author,fetched_at,topics")
    assert "关于张某某等同志任前公示的公告" in csv_text

    assert cli(["--config", settings.path, "sources", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["sources"]
    assert [(x["source"], x["status"]) for x in listing] == [("county-news", "ok"), ("county-feed", "ok"), ("county-bbs", "ok")]
    db.dispose()


def test_a_crawl_runs_no_remote_control_server_and_no_telnet_console(tmp_path: Path):
    # Both would let a local process run code inside the crawl; Scrapy 2.19 turns the first on.
    from scrapy.extensions.remote_control import RemoteControl
    from scrapy.extensions.telnet import TelnetConsole
    from scrapy.utils.test import get_crawler

    from crawler.scrapy_settings import scrapy_settings

    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/']}\n")
    crawler = get_crawler(settings_dict=scrapy_settings(settings, settings.source("n")))
    crawler._apply_settings()
    built = {type(ext) for ext in crawler.extensions.middlewares}
    assert RemoteControl not in built and TelnetConsole not in built
    # Not even named (Scrapy imports every extension named): its module imports aiohttp, 0.1 s of
    # every crawl's CPU. The others are all still there.
    named = crawler.settings.getwithbase("EXTENSIONS")
    assert not any("remote_control" in str(name) for name in named)
    assert "scrapy.extensions.corestats.CoreStats" in named and "scrapy.extensions.throttle.AutoThrottle" in named
