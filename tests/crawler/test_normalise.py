"""Normalisation and the small decisions around it: clean text, canonical URLs, the content hash,
a source's forced encoding, and misspelt selector keys refused before any fetch."""

from __future__ import annotations

import hashlib
import random
import re
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from crawler.normalise import canonical_url, clean_text, clean_title, content_hash
from crawler.pages import decode_html
from crawler.run import crawl
from tests.crawler.crawl_world import write_settings
from tests.crawler.fixture_site import PAGES
from yuqing.errors import ConfigError
from yuqing.storage import open_database


def test_clean_text_keeps_the_words_and_paragraphs_and_drops_invisible_characters():
    raw = "\ufeff  第一段\u200b文字，\u3000\u3000全角空格\r\n\r\n\r\n\r\n第二段\u00a0文字  \n"
    assert clean_text(raw) == "第一段文字， 全角空格\n\n第二段 文字"
    assert clean_text("繁體字保持原樣") == "繁體字保持原樣"  # folding to Simplified is matching's job, not storage's
    assert clean_title(" 标题\n第二行 ") == "标题 第二行"


def test_content_hash_ignores_layout_only():
    assert content_hash("甲乙丙\n\n丁") == content_hash("甲 乙丙丁")
    assert content_hash("甲乙丙丁") != content_hash("甲乙丙戊")
    assert content_hash(" \n ") == ""  # empty bodies are never duplicates of each other


def _clean_text_plainly(text: str) -> str:
    """clean_text as its steps read, each applied to the whole text or line in turn."""
    invisible = re.compile("[\u200b-\u200f\u2028\u2029\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    text = invisible.sub("", unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n"))
    lines = [re.sub(r"[ \t\u00a0\u3000]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def test_clean_text_and_content_hash_equal_their_plain_steps_on_random_mixes():
    # The fast paths skip a step when a substring search finds nothing for it to do: they must
    # never change the result.
    pieces = ["甲", "乙。", "a", "Ab", " ", "  ", "\t", "\u00a0", "\u3000", "\n", "\n\n\n", "\r", "\r\n", "\u200b",
              "\ufeff", "\x85", "\u2028", "\x0b", "\x1f", "e\u0301", "\u2003", "\x1c"]
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert clean_text(text) == _clean_text_plainly(text), repr(text)
        squeezed = re.sub(r"\s+", "", text)
        assert content_hash(text) == (hashlib.sha256(squeezed.encode()).hexdigest() if squeezed else ""), repr(text)


def test_str_split_and_the_regex_agree_on_what_whitespace_is():
    spaces = {chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))}
    assert spaces == {chr(c) for c in range(sys.maxunicode + 1) if len(("a" + chr(c) + "b").split()) == 2}


def test_canonical_url_sorts_the_query_and_keeps_fragments_only_when_asked():
    url = "http://bbs.example.org/forum.php?tid=5&mod=viewthread#pid77"
    assert canonical_url(url) == "http://bbs.example.org/forum.php?mod=viewthread&tid=5"
    assert canonical_url(url, keep_fragment=True) == "http://bbs.example.org/forum.php?mod=viewthread&tid=5#pid77"


def test_a_forced_encoding_overrides_detection():
    body = (PAGES / "article_1004.big5.html").read_bytes()
    text, used = decode_html(body, "text/html; charset=utf-8", forced="big5")
    assert used == "big5" and "村集體經濟組織資產清查" in text


def test_misspelt_selector_keys_are_refused_when_the_settings_load(tmp_path: Path):
    # Before any fetch, and with the line of the key: the settings file is refused (exit 2).
    with pytest.raises(ConfigError, match=r"settings.yaml:\d+:\d+: sources.0.selectors: 'titel' is not read by news sources \(did you mean \"title\"\?\)"):
        write_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'y.db'}",
            "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/list.html'], selectors: {titel: h1, body: '.content'}}\n",
        )


def test_a_page_whose_reading_fails_is_an_error_of_the_run(site, tmp_path: Path):
    from tests.crawler.fixture_site import mount

    mount(site)
    board = site.url("/forum.php?mod=forumdisplay&fid=7")
    settings = write_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'y.db'}",
        f"  - {{id: bbs, kind: forum, start_urls: ['{board}'], selectors: {{reply: '//div[@id=', reply_body: 'td'}}}}\n",
    )
    [summary] = crawl(settings)  # the XPath is broken: every thread page fails to read
    assert summary.new_posts == 0 and summary.errors >= 3
    db = open_database(settings.database_url())
    from sqlalchemy import select

    from yuqing.storage import CrawlRun

    with db.session() as s:
        errors = s.scalars(select(CrawlRun)).one().stats["error_list"]
    db.dispose()
    assert any("tid=101" in e and "ValueError" in e for e in errors)


def test_extraction_in_worker_processes_reads_the_same_as_inline():
    import asyncio
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def read(workers: int):  # type: ignore[no-untyped-def]
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), workers, inline_first=0)
        try:
            # GBK bytes with no charset in the header: the worker decodes them as inline reading does.
            return await extractor(body, "text/html", "http://example.org/content/1002.html", forced=None, now=now,
                                   selectors=None)
        finally:
            extractor.close()

    inline, pooled = asyncio.run(read(0)), asyncio.run(read(1))
    assert inline == pooled
    assert inline.title == "关于张某某等同志任前公示的公告" and "任前公示" in inline.text


def test_a_job_with_few_articles_starts_no_extraction_worker():
    import asyncio
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def read(n: int, inline_first: int) -> list[object]:
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=inline_first)
        try:
            articles = [await extractor(body, "text/html", f"http://example.org/{i}.html", forced=None, now=now,
                                        selectors=None) for i in range(n)]
            assert extractor.starter is not None
            return [articles, _workers_of(extractor.starter.pid)]
        finally:
            extractor.close()

    few, workers = asyncio.run(read(3, inline_first=3))
    assert workers == [] and len(few) == 3
    more, workers = asyncio.run(read(4, inline_first=3))
    assert len(workers) == 1  # the fourth article went to a worker
    assert more[3] == few[0]


def _workers_of(starter: int, expected: int = 1) -> list[int]:
    """The extraction workers the starter process forked (Linux: /proc lists a process's children),
    once there are `expected` (a worker may answer before the starter forked the next one)."""
    deadline = time.monotonic() + 10
    while True:
        pids = [int(pid) for pid in Path(f"/proc/{starter}/task/{starter}/children").read_text().split()]
        if len(pids) >= expected or time.monotonic() > deadline:
            return pids
        time.sleep(0.01)


def test_extraction_workers_are_fed_by_the_event_loop_without_threads():
    """The crawl process runs no thread for its workers (a thread waits up to 5 ms for the busy
    crawl to let it run, and the workers starve meanwhile): the pages go out and the articles come
    back through the loop. More pages than the workers take at once wait and all come back, each
    the article of its own page."""
    import asyncio
    import threading
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import IN_FLIGHT, Extractor
    from crawler.pages import read_article

    bodies = [(PAGES / name).read_bytes() for name in ("article_1002.gbk.html", "article_1001.html")]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tz = ZoneInfo("Asia/Shanghai")
    n = 2 * IN_FLIGHT + 3

    async def read() -> tuple[list[object], int]:
        extractor = Extractor(tz, 2, inline_first=0)
        try:
            pages = [extractor(bodies[i % 2], "text/html", f"http://example.org/{i}.html", forced=None, now=now,
                               selectors=None) for i in range(n)]
            articles = await asyncio.gather(*pages)
            return list(articles), threading.active_count()
        finally:
            extractor.close()

    articles, threads = asyncio.run(read())
    assert threads == 1
    inline = [read_article(b, "text/html", "http://example.org/x.html", forced=None, now=now, tz=tz) for b in bodies]
    assert articles == [inline[i % 2] for i in range(n)]


def test_a_dead_extraction_worker_turns_the_job_to_reading_inline():
    import asyncio
    import os
    import signal
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def read() -> list[object]:
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=0)
        try:
            first = await extractor(body, "text/html", "http://example.org/1.html", forced=None, now=now, selectors=None)
            assert extractor.starter is not None
            [worker] = _workers_of(extractor.starter.pid)
            os.kill(worker, signal.SIGKILL)
            # Its page fails over to inline reading, and so does every page after it.
            again = [await extractor(body, "text/html", f"http://example.org/{i}.html", forced=None, now=now,
                                     selectors=None) for i in (2, 3)]
            return [first, *again, extractor.workers, extractor.size]
        finally:
            extractor.close()

    first, second, third, workers, size = asyncio.run(read())
    assert first == second == third
    assert workers == [] and size == 0


def test_a_job_that_asks_for_more_articles_than_it_reads_inline_hands_them_all_to_workers():
    import asyncio
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def read(asked: int) -> int:
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=3)
        try:
            extractor.expect(asked)
            await extractor(body, "text/html", "http://example.org/1.html", forced=None, now=now, selectors=None)
            return len(extractor.workers)
        finally:
            extractor.close()

    assert asyncio.run(read(3)) == 0  # three to come, three inline reads left: no worker
    assert asyncio.run(read(4)) == 1  # the first of four already goes to a worker


def test_workers_asked_for_by_expect_start_at_once_while_the_crawl_prepares(caplog: pytest.LogCaptureFixture):
    """Told that more articles are coming than it reads inline, the extractor starts its workers
    before the first page comes, and runs what the crawl registered meanwhile, once; an error of
    that is logged, not raised. A job that stays inline starts nothing and runs nothing."""
    import asyncio
    import logging
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def read(asked: int) -> tuple[int, list[int], int, object]:
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=3)
        ran: list[int] = []
        extractor.while_workers_start(lambda: ran.append(len(extractor.workers)))
        extractor.while_workers_start(lambda: 1 / 0)
        try:
            extractor.expect(asked)
            started = len(extractor.workers)
            assert extractor.starter is not None
            forked = len(_workers_of(extractor.starter.pid)) if started else 0
            article = await extractor(body, "text/html", "http://example.org/1.html", forced=None, now=now,
                                      selectors=None)
            await extractor(body, "text/html", "http://example.org/2.html", forced=None, now=now, selectors=None)
            return started, ran, forked, article
        finally:
            extractor.close()

    with caplog.at_level(logging.DEBUG, logger="crawler.extract_pool"):
        inline = asyncio.run(read(3))
        pooled = asyncio.run(read(4))
    assert inline[:3] == (0, [], 0)
    assert pooled[:3] == (1, [1], 1)  # started by expect(), the task run once, after the workers were asked for
    assert pooled[3] == inline[3]
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)


def test_the_match_stage_builds_the_rule_sets_dictionary_while_the_workers_start(tmp_path: Path, monkeypatch):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import scrapy
    from scrapy.utils.test import get_crawler

    import rules.engine
    from crawler.context import JobContext
    from crawler.extract_pool import Extractor
    from crawler.pipelines import MatchPipeline

    built: list[object] = []
    real = rules.engine.new_tokenizer
    monkeypatch.setattr(rules.engine, "new_tokenizer", lambda *a, **k: built.append(a) or real(*a, **k))

    class _Spider(scrapy.Spider):
        name = "prepare-test"

    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}",
                              "  - {id: news, kind: news, start_urls: ['http://news.example.org/']}\n")
    db = open_database(settings.database_url())
    crawler = get_crawler(_Spider)
    spider = _Spider()
    spider.job = JobContext(settings=settings, source=settings.source("news"), db=db,  # type: ignore[attr-defined]
                            now=datetime(2026, 1, 5, tzinfo=UTC))
    spider.extractor = Extractor(ZoneInfo("Asia/Shanghai"), 0)  # type: ignore[attr-defined]
    crawler.spider = spider
    match = MatchPipeline(crawler)
    match.open_spider()
    [task] = spider.extractor.meanwhile  # type: ignore[attr-defined]
    assert built == []
    task()
    assert len(built) == 1
    analysis = match.ruleset.analyse("关于村干部任前公示", "镇党委研究决定，拟提拔任用村干部，现予公示。")
    assert analysis.topics and len(built) == 1  # the first post needing word boundaries built nothing more
    db.dispose()


def test_a_page_goes_to_a_worker_as_its_bytes_not_inside_a_pickle(monkeypatch: pytest.MonkeyPatch):
    # Pickled with its details, a page's bytes cost the crawl process a copy (33 us a corpus page).
    import asyncio
    import pickle
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler import extract_pool

    pickled: list[int] = []

    class Recording:
        HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
        loads = staticmethod(pickle.loads)

        @staticmethod
        def dumps(value: object, protocol: int | None = None) -> bytes:
            data = pickle.dumps(value, protocol)
            pickled.append(len(data))
            return data

    monkeypatch.setattr(extract_pool, "pickle", Recording)
    body = (PAGES / "article_1002.gbk.html").read_bytes() + b"<!-- " + b"x" * 100_000 + b" -->"

    async def read() -> str:
        extractor = extract_pool.Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=0)
        try:
            article = await extractor(body, "text/html", "http://example.org/1.html", forced=None,
                                      now=datetime(2026, 1, 1, tzinfo=UTC), selectors=None)
            return article.title
        finally:
            extractor.close()

    assert asyncio.run(read()) == "关于张某某等同志任前公示的公告"
    assert pickled and max(pickled) < 1_000  # the details only; the 100 kB went as they were


def test_extraction_workers_are_forked_by_a_starter_that_holds_none_of_the_crawls_files(tmp_path: Path):
    """The workers are forked from one process (started before the crawl's reactor), not each
    spawned to import everything again; neither holds a file of the crawl's (a database, another
    socket) open. Closed, the extractor leaves no process behind."""
    import asyncio
    import os
    import sqlite3
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    crawl_db = sqlite3.connect(tmp_path / "crawl.db")  # a file the crawl process has open

    def files(pid: int) -> list[str]:
        # Read once the process holds one socket: a worker just forked (or the starter between a
        # fork and closing that worker's socket) holds more for a moment, longer on a loaded
        # machine. A file it never closes still shows after the deadline.
        # A descriptor listed and closed before it is read is such a moment too: read again.
        deadline = time.monotonic() + 10
        while True:
            try:
                held = sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
            except FileNotFoundError:
                if time.monotonic() > deadline:
                    raise  # not a moment: the process is gone
            else:
                if sum(f.startswith("socket:") for f in held) <= 1 or time.monotonic() > deadline:
                    return held
            time.sleep(0.01)

    async def read() -> tuple[int, list[int], list[str], list[list[str]]]:
        extractor = Extractor(ZoneInfo("Asia/Shanghai"), 2, inline_first=0)
        try:
            await extractor(body, "text/html", "http://example.org/1.html", forced=None,
                            now=datetime(2026, 1, 1, tzinfo=UTC), selectors=None)
            assert extractor.starter is not None
            starter = extractor.starter.pid
            workers = _workers_of(starter, 2)
            return starter, workers, files(starter), [files(w) for w in workers]
        finally:
            extractor.close()

    starter, workers, starter_files, worker_files = asyncio.run(read())
    crawl_db.close()
    assert len(workers) == 2
    assert not any("crawl.db" in f for f in starter_files + sum(worker_files, []))
    assert sum(f.startswith("socket:") for f in starter_files) == 1  # the crawl's requests
    assert all(sum(f.startswith("socket:") for f in fs) == 1 for fs in worker_files)  # its own pages
    for pid in (starter, *workers):
        assert not Path(f"/proc/{pid}").exists()  # ended, and reaped


def test_a_crawl_process_that_dies_takes_its_extraction_workers_with_it():
    import asyncio
    import os
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from crawler.extract_pool import Extractor

    body = (PAGES / "article_1002.gbk.html").read_bytes()
    read_end, write_end = os.pipe()
    crawl = os.fork()
    if crawl == 0:  # a crawl process that dies without closing its extractor
        try:
            async def read() -> list[int]:
                extractor = Extractor(ZoneInfo("Asia/Shanghai"), 1, inline_first=0)
                await extractor(body, "text/html", "http://example.org/1.html", forced=None,
                                now=datetime(2026, 1, 1, tzinfo=UTC), selectors=None)
                assert extractor.starter is not None
                return [extractor.starter.pid, *_workers_of(extractor.starter.pid)]

            os.write(write_end, " ".join(map(str, asyncio.run(read()))).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    left = [int(pid) for pid in os.read(read_end, 100).split()]
    os.close(read_end)
    os.waitpid(crawl, 0)
    assert len(left) == 2
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in left) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(_running(pid) for pid in left)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
