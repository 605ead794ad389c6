"""Forum reading: the fixture forum's layouts, the real forum pages of ../shared/corpus/forum_html
(Discuz!, Tieba, Flarum, ruby-china, Douban comments, and unknown layouts), and a forum crawl of
those corpus threads served on a local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from parsel import Selector

from crawler.pages import decode_html
from crawler.run import crawl
from crawler.threads import board_threads, parse_time, thread_page
from tests.conftest import corpus_dir
from tests.crawler.crawl_world import posts, write_settings
from tests.crawler.fixture_site import PAGES
from tests.support.site import LocalSite, Page

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def page(path: Path) -> Selector:
    text, _ = decode_html(path.read_bytes(), None)
    return Selector(text=text, type="html")


def bigrams(text: str) -> set[str]:
    s = "".join(text.split())
    return {s[i : i + 2] for i in range(len(s) - 1)}


def test_discuz_thread_floors_authors_times_and_anchors():
    found = thread_page(page(PAGES / "thread_101.html"), {})
    assert found.style == "discuz"
    assert found.title == "村里的集体资产被低价处置了，有人管吗？"
    assert [(r.floor, r.author, r.anchor) for r in found.replies] == [
        (1, "老王头", "post_5001"), (2, "热心网友", "post_5002"), (3, "路人甲", "post_5003"),
    ]  # fmt: skip
    first = found.replies[0]
    assert parse_time(first.time_text, now=NOW, tz=TZ) == datetime(2024, 5, 3, 20, 15, 2, tzinfo=TZ)
    assert first.text.split("\n")[0] == "我们村的集体仓库和两亩集体建设用地，上个月被村干部以很低的价格租给了亲戚，"
    assert [r.floor for r in thread_page(page(PAGES / "thread_101_2.html"), {}).replies] == [4, 5]


def test_unknown_layout_falls_back_to_repeated_blocks():
    found = thread_page(page(PAGES / "thread_103.html"), {})
    assert found.style == "generic"
    assert [(r.author, r.time_text) for r in found.replies] == [("硕士小张", "2024-05-01 09:00"), ("同批引进", "2024-05-01 11:20")]
    assert found.replies[1].text == "我也是，已经快一年了。建议大家一起写信给县人才办反映一下。"


def test_configured_selectors_win_over_the_known_layouts():
    selectors = {"reply": "article.msg", "reply_body": ".words", "reply_author": ".who", "reply_time": ".when", "thread_title": "h1"}
    found = thread_page(page(PAGES / "thread_103.html"), selectors)
    assert found.style == "configured" and [r.author for r in found.replies] == ["硕士小张", "同批引进"]


def test_board_lists_its_threads():
    urls = board_threads(page(PAGES / "board.html"), "http://bbs.example.org/forum.php?mod=forumdisplay&fid=7", {}, None)
    assert urls == [
        "http://bbs.example.org/forum.php?mod=viewthread&tid=101",
        "http://bbs.example.org/forum.php?mod=viewthread&tid=102",
    ]


@pytest.mark.parametrize("name, least", [("gne__test_list_page_netease_forum_1.html", 30), ("gne__test_list_page_tieba_1.html", 30)])
def test_real_board_pages_list_their_threads(name: str, least: int):
    urls = board_threads(page(corpus_dir("forum_html") / name), "https://bbs.example.org/board", {}, None)
    assert len(urls) >= least and len(set(urls)) == len(urls)


# corpus page (hash prefix) -> layout expected, least replies, least share of the gold's bigrams found
CORPUS_THREADS = {
    "8cf0af42": ("discuz", 4, 0.9),
    "eaddae4e": ("discuz", 2, 0.8),
    "6db2e2d6": ("tieba", 6, 0.9),
    "3a43c342": ("flarum", 10, 0.9),
    "81abaa70": ("flarum", 6, 0.95),
    "6897d6ef": ("replies", 10, 0.45),
    "b5bb3713": ("comments", 20, 0.95),
    "bc87ae62": ("generic", 1, 0.9),
    "ad412ab2": ("generic", 1, 0.85),
}


def corpus_thread(prefix: str) -> Path:
    [path] = corpus_dir("forum_html").glob(f"magic-html__forum__{prefix}*.html")
    return path


@pytest.mark.parametrize("prefix", sorted(CORPUS_THREADS))
def test_real_forum_threads_give_their_replies(prefix: str):
    style, least, recall = CORPUS_THREADS[prefix]
    path = corpus_thread(prefix)
    gold = json.loads(path.with_name(path.name.replace(".html", ".gold.json")).read_text(encoding="utf-8"))
    found = thread_page(page(path), {})
    assert found.style == style
    assert len(found.replies) >= least
    assert len({r.anchor for r in found.replies}) == len(found.replies)  # every reply its own URL
    got = bigrams("\n".join(r.text for r in found.replies))
    want = bigrams(gold["content"])
    assert len(got & want) / len(want) >= recall
    if style != "generic":
        assert all(r.author for r in found.replies)
        assert all(r.time_text for r in found.replies)


@pytest.mark.slow
def test_forum_crawl_of_real_threads_served_locally(site: LocalSite, tmp_path: Path):
    chosen = {"discuz": "8cf0af42", "tieba": "6db2e2d6", "flarum": "3a43c342", "ruby": "6897d6ef"}
    rows = ""
    for name, prefix in chosen.items():
        site.add(f"/t/{name}.html", Page(corpus_thread(prefix).read_bytes(), headers={"Content-Type": "text/html"}))
        rows += f'<tbody id="normalthread_{name}"><tr><th><a class="s xst" href="/t/{name}.html">{name}</a></th></tr></tbody>'
    site.add("/board.html", f"<html><body><table>{rows}</table></body></html>")
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", f"  - {{id: bbs, kind: forum, start_urls: ['{site.url('/board.html')}']}}\n")
    [summary] = crawl(settings)
    assert summary.status == "ok" and summary.errors == 0
    from yuqing.storage import open_database

    db = open_database(settings.database_url())
    stored = posts(db, "bbs")
    db.dispose()
    per_thread: dict[str, list] = {}
    for p in stored:
        per_thread.setdefault(p.thread_url.rsplit("/", 1)[-1], []).append(p)
    assert {k: len(v) >= 4 for k, v in per_thread.items()} == {f"{n}.html": True for n in chosen}
    tieba = sorted(per_thread["tieba.html"], key=lambda p: p.floor)
    assert tieba[0].thread_title == "什么样的人才算是佛系？在线等，挺急的"
    assert tieba[0].author and tieba[0].published_at is not None
    assert all("#" in p.url and p.kind == "reply" for p in stored)
    discuz = sorted(per_thread["discuz.html"], key=lambda p: p.floor)
    assert [p.floor for p in discuz][:2] == [1, 2] and discuz[0].author == "前程往事"


@pytest.mark.slow
def test_a_changed_board_reads_new_threads_and_asks_known_ones_if_they_changed(site: LocalSite, tmp_path: Path):
    from tests.crawler.fixture_site import mount

    mount(site)
    board = "/forum.php?mod=forumdisplay&fid=7"
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", f"  - {{id: bbs, kind: forum, start_urls: ['{site.url(board)}']}}\n")
    [first] = crawl(settings)
    assert first.new_posts == 8

    # A new thread appears on the board; the known threads are as they were.
    forum = site.routes["/forum.php"]
    changed = (PAGES / "board.html").read_text(encoding="utf-8").replace(
        '<tbody id="normalthread_101">',
        '<tbody id="normalthread_104"><tr><th><a href="forum.php?mod=viewthread&amp;tid=104" class="s xst">新帖</a></th></tr></tbody>'
        '<tbody id="normalthread_101">',
    )
    thread_104 = (PAGES / "thread_102.html").read_text(encoding="utf-8").replace("post_5101", "post_5401").replace("pid5101", "pid5401")

    def board_changed(request):  # type: ignore[no-untyped-def]
        if "forumdisplay" in request.path and "page=2" not in request.path:
            return Page(changed.encode(), headers={"Content-Type": "text/html; charset=utf-8"}, etag='"board-2"')
        if "tid=104" in request.path:
            return Page(thread_104.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
        return forum(request)

    site.add("/forum.php", board_changed)
    mark = len(site.requests)
    [second] = crawl(settings)
    assert second.new_posts == 1
    asked = {r.path: r.headers.get("if-none-match") for r in site.requests[mark:]}
    # known threads: only their last stored page, and conditionally (answered 304)
    assert asked["/forum.php?mod=viewthread&page=2&tid=101"] == '"thread_101_2.html-1"'
    assert asked["/forum.php?mod=viewthread&tid=102"] == '"thread_102.html-1"'
    assert "/forum.php?mod=viewthread&tid=101" not in asked  # page 1 of a known thread is not read again
    assert "/forum.php?mod=viewthread&tid=104" in asked
