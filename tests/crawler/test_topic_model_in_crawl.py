"""The crawl's match and store stages with the topic confirmation model: a topic it withdraws is not
stored for any unit and is logged with its probability; the others are stored as the rules decide.

Real pipelines, a real Scrapy crawler and a real database (SQLite and PostgreSQL), as
tests/crawler/test_store_batches.py runs them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import scrapy
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler.context import JobContext
from crawler.items import Candidate
from crawler.normalise import content_hash
from crawler.pipelines import MatchPipeline, StorePipeline
from tests.crawler.crawl_world import write_settings
from yuqing.records import Post
from yuqing.storage import MatchRow, PostRow, open_database

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
# Money the village committee holds as a body: collective assets, not village affairs, by the
# conventions the pack follows (rules/README.md, The topic confirmation model).
HELD = "补偿款打到村委会账上一年了，到现在还没分下来。"
# A village cadre's own dealing with the property: both.
SOLD = "村支书把集体土地低价租给亲戚，谁同意的？"


class _Spider(scrapy.Spider):
    name = "topic-model-test"


def _stored_topics(db_url: str, tmp_path: Path, topic_model: bool) -> dict[str, set[str]]:
    source = "  - {id: bbs, kind: forum, start_urls: ['http://bbs.example.org/']}\n"
    settings = write_settings(tmp_path, db_url, source + ("" if topic_model else "rules:\n  topic_model: false\n"))
    assert settings.rules.topic_model is topic_model
    db = open_database(settings.database_url())
    crawler = get_crawler(_Spider)
    spider = _Spider()
    spider.job = JobContext(settings=settings, source=settings.source("bbs"), db=db, now=NOW)  # type: ignore[attr-defined]
    crawler.spider = spider
    match, store = MatchPipeline(crawler), StorePipeline(crawler)
    for path, text in (("/t/1", HELD), ("/t/2", SOLD)):
        post = Post(source_id="bbs", url=f"http://bbs.example.org{path}", title="", text=text, fetched_at=NOW, content_hash=content_hash(text))
        store.process_item(match.process_item(Candidate(post)))
    store.close_spider()
    with db.session() as s:
        rows = s.execute(select(PostRow.url, MatchRow.topic, MatchRow.unit_id).join(MatchRow, MatchRow.post_id == PostRow.id))
        out: dict[str, set[str]] = {}
        for url, topic, unit in rows:
            assert unit == "nyb"
            out.setdefault(url.rsplit("/", 1)[1], set()).add(topic)
    return out


def test_a_withdrawn_topic_is_not_stored_and_is_logged(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="crawler.pipelines"):
        stored = _stored_topics(db_url, tmp_path, topic_model=True)
    assert stored == {"1": {"collective_assets"}, "2": {"collective_assets", "village_affairs"}}
    [line] = [r.getMessage() for r in caplog.records if "topic model withdrew" in r.getMessage()]
    assert line.startswith("topic model withdrew village_affairs (rule village.core, probability 0.") and line.endswith("http://bbs.example.org/t/1")


def test_with_the_model_off_the_rules_alone_decide(db_url: str, tmp_path: Path) -> None:
    stored = _stored_topics(db_url, tmp_path, topic_model=False)
    assert stored == {"1": {"collective_assets", "village_affairs"}, "2": {"collective_assets", "village_affairs"}}
