"""The store stage writes posts in batches: copies across batches, URLs stored meanwhile, counts.

Run on the real pipelines, a real Scrapy crawler and a real database (SQLite and PostgreSQL);
only the crawl around them is left out, so that the batch boundaries are where the test puts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import scrapy
from scrapy.utils.test import get_crawler

from crawler.context import JobContext
from crawler.items import Candidate
from crawler.normalise import content_hash
from crawler.pipelines import DedupePipeline, StorePipeline
from tests.crawler.crawl_world import by_path, posts, write_settings
from yuqing.records import Post
from yuqing.storage import PostRow, open_database

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
STORY = "镇政府对辖区内十二个行政村的集体资产进行了全面清查，并通报了清查结果。"
OTHER = "镇纪委表示，将督促相关村在六月底前完成整改，并将整改情况向村民公开。"


class _Spider(scrapy.Spider):
    name = "store-test"


def _candidate(path: str, text: str) -> Candidate:
    url = f"http://news.example.org{path}"
    return Candidate(Post(source_id="news", url=url, title=path, text=text, fetched_at=NOW,
                          content_hash=content_hash(text)))


def test_copies_point_at_their_original_across_batches_and_stored_urls_are_skipped(db_url, tmp_path: Path):
    settings = write_settings(tmp_path, db_url, "  - {id: news, kind: news, start_urls: ['http://news.example.org/']}\n")
    db = open_database(settings.database_url())
    with db.session() as s:  # stored by an earlier crawl of another source
        s.add(PostRow(source_id="other", url="http://news.example.org/9.html", title="旧", text=OTHER,
                      fetched_at=NOW, kind="article", content_hash=content_hash(OTHER), extra={}))
    crawler = get_crawler(_Spider)
    spider = _Spider()
    spider.job = JobContext(settings=settings, source=settings.source("news"), db=db, now=NOW)  # type: ignore[attr-defined]
    crawler.spider = spider
    dedupe, store = DedupePipeline(crawler), StorePipeline(crawler)
    store.BATCH_POSTS = 2

    pages = (("/1.html", STORY), ("/2.html", OTHER), ("/3.html", STORY), ("/9.html", OTHER), ("/5.html", STORY))
    for path, text in pages:
        store.process_item(dedupe.process_item(_candidate(path, text)))
    # Two batches written (/9.html was stored already, so the second wrote one post); /5.html waits.
    assert sorted(by_path(posts(db, "news"))) == ["/1.html", "/2.html", "/3.html"]
    assert crawler.stats.get_value("yuqing/new_posts") == 3
    store.close_spider()

    stored = by_path(posts(db, "news"))
    assert sorted(stored) == ["/1.html", "/2.html", "/3.html", "/5.html"]
    assert stored["/1.html"].duplicate_of is None
    assert stored["/3.html"].duplicate_of == stored["/1.html"].id  # its original was in the batch before
    assert stored["/5.html"].duplicate_of == stored["/1.html"].id
    [earlier] = posts(db, "other")
    assert stored["/2.html"].duplicate_of == earlier.id  # a copy of a body stored by another source
    assert crawler.stats.get_value("yuqing/new_posts") == 4
    assert crawler.stats.get_value("yuqing/duplicates") == 3
    assert crawler.stats.get_value("yuqing/already_stored") == 1
    assert spider.job.known_urls >= {"http://news.example.org/1.html", "http://news.example.org/3.html"}  # type: ignore[attr-defined]
