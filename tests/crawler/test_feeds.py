"""Feeds from ../shared/corpus/feeds and the fixture feeds: GB2312, GBK and Big5, declared or not,
come out as the right characters, with dates in UTC."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crawler.feeds import read_feed
from tests.conftest import CORPUS, corpus_dir
from tests.crawler.fixture_site import PAGES

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u4e00-\u9fff]")
# What GB or Big5 bytes look like when read as Latin-1 / windows-1252.
MOJIBAKE = re.compile(r"[\u00c0-\u00ff\u00a1-\u00bf]{3,}")


def chinese_feeds() -> list[str]:
    manifest = CORPUS / "manifest.json"
    if not manifest.exists():
        return []
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    legacy = ("gb2312", "gbk", "gb18030", "big5")
    return sorted(
        e["file"].split("/", 1)[1]
        for e in entries
        if e["folder"] == "feeds"
        and e["file"].startswith("feeds/")
        and e["file"].endswith(".xml")
        and "__failed__" not in e["file"]  # feeds that are broken on purpose
        and (e.get("byte_encoding") in legacy or e.get("declared_charset") in legacy)
    )


@pytest.mark.parametrize("name", chinese_feeds() or ["(corpus absent)"])
def test_legacy_chinese_feeds_decode_to_chinese_text(name: str):
    folder = corpus_dir("feeds")
    feed = read_feed((folder / name).read_bytes(), None, now=NOW, tz=TZ)
    assert feed.problem is None
    text = feed.title + " ".join(e.title + e.text for e in feed.entries)
    assert "\ufffd" not in text and not MOJIBAKE.search(text)
    if CJK.search(text) is None:
        # ASCII-only bytes declared gb2312 (feedparser's own encoding tests) have no Chinese to find
        assert text.isascii()


def test_gb2312_rss_and_big5_atom_fixture_feeds():
    rss = read_feed((PAGES / "feed.gb2312.xml").read_bytes(), "application/rss+xml", now=NOW, tz=TZ)
    assert [e.title for e in rss.entries] == ["县委组织部发布一批干部任前公示", "全县引进高层次人才签约仪式举行", "城关镇举办广场舞比赛"]
    assert rss.entries[0].published_at == datetime(2024, 5, 6, 0, 0, tzinfo=UTC)
    assert rss.entries[0].author == "县委组织部"
    atom = read_feed((PAGES / "atom.big5.xml").read_bytes(), None, now=NOW, tz=TZ)
    assert atom.entries[0].title == "村務公開欄更新：集體土地承包情況"
    assert atom.entries[0].text.startswith("本村集體土地承包合同共十二份")


def test_a_page_that_is_not_a_feed_says_so():
    feed = read_feed(b"<html><body><p>not a feed</p>", "text/html", now=NOW, tz=TZ)
    assert feed.entries == () and feed.problem is not None and feed.problem.startswith("not a feed")


def test_entry_dates_in_the_future_are_not_trusted():
    future = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title><link>http://e.org/1</link><pubDate>Mon, 06 May 2030 08:00:00 +0800</pubDate></item></channel></rss>'
    assert read_feed(future, None, now=NOW, tz=TZ).entries[0].published_at is None
