"""Incremental crawling on a site of 60 articles: a second crawl of the unchanged site makes at most
5% of the first crawl's requests and adds nothing; new articles are found without re-reading the
older list pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.run import crawl
from tests.crawler.crawl_world import posts, write_settings
from tests.crawler.fixture_site import PAGES
from tests.support.site import LocalSite, Page, html_page
from yuqing.storage import open_database

pytestmark = pytest.mark.slow

TEMPLATE = (PAGES / "article_1001.html").read_text(encoding="utf-8")


def article(n: int) -> Page:
    # Each article its own body: the number goes into the heading and the first paragraph.
    return html_page(TEMPLATE.replace("招聘事业单位工作人员46名", f"招聘事业单位工作人员{n}名").replace("公告</h1>", f"公告（第{n}号）</h1>"))


def list_page(numbers: list[int], page: int, last: bool, etag: str | None = None) -> Page:
    items = "".join(f'<li><a href="/big/a/{n}.html">公告第{n}号</a></li>' for n in numbers)
    nxt = "" if last else f'<a href="/big/list_{page + 1}.html">下一页</a>'
    p = html_page(f"<html><body><ul>{items}</ul>{nxt}</body></html>")
    p.etag = etag
    return p


def build(site: LocalSite, newest: int) -> None:
    numbers = list(range(newest, 0, -1))
    pages = [numbers[i : i + 20] for i in range(0, len(numbers), 20)]
    for i, chunk in enumerate(pages, start=1):
        site.add(f"/big/list_{i}.html", list_page(chunk, i, i == len(pages), etag=f'"{newest}-{i}"' if i == 1 else None))
    for n in numbers:
        site.add(f"/big/a/{n}.html", article(n))


def test_second_crawl_is_at_most_five_percent_and_paging_stops_at_known_items(site: LocalSite, tmp_path: Path):
    build(site, 60)
    settings = write_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'y.db'}",
        f"  - {{id: big, kind: news, start_urls: ['{site.url('/big/list_1.html')}'], follow: '/big/a/\\d+'}}\n",
        crawl="concurrency_per_domain: 4",
    )
    [first] = crawl(settings)
    first_requests = len(site.requests)
    assert first.status == "ok" and first.new_posts == 60
    assert first.requests == first_requests == 1 + 3 + 60  # robots.txt, three list pages, 60 articles

    [second] = crawl(settings)
    second_requests = len(site.requests) - first_requests
    assert second.new_posts == 0
    assert second_requests <= 0.05 * first_requests
    assert [r.path for r in site.requests[first_requests:]] == ["/robots.txt", "/big/list_1.html"]

    # Two new articles on top: page 1 has news so page 2 is read; page 2 holds only known items,
    # so page 3 is not.
    build(site, 62)
    mark = len(site.requests)
    [third] = crawl(settings)
    fetched = [r.path for r in site.requests[mark:]]
    assert third.new_posts == 2
    assert sorted(p for p in fetched if p.startswith("/big/a/")) == ["/big/a/61.html", "/big/a/62.html"]
    assert "/big/list_2.html" in fetched and "/big/list_3.html" not in fetched
    db = open_database(settings.database_url())
    assert len(posts(db)) == 62
    db.dispose()


def test_an_article_that_failed_is_retried_next_crawl_even_if_the_list_is_unchanged(site: LocalSite, tmp_path: Path):
    state = {"down": True}

    def flaky(request):  # type: ignore[no-untyped-def]
        return Page(b"oops", 500, {"Content-Type": "text/plain"}) if state["down"] else article(2)

    site.add("/f/list.html", list_page([], 1, True, etag='"f-1"'))
    site.routes["/f/list.html"].body = b'<html><body><a href="/f/a/1.html">1</a><a href="/f/a/2.html">2</a></body></html>'
    site.add("/f/a/1.html", article(1))
    site.add("/f/a/2.html", flaky)
    settings = write_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'y.db'}",
        f"  - {{id: f, kind: news, start_urls: ['{site.url('/f/list.html')}'], follow: '/f/a/'}}\n",
        crawl="retries: 0",
    )
    [first] = crawl(settings)
    assert (first.status, first.new_posts, first.errors) == ("ok", 1, 1)
    state["down"] = False
    mark = len(site.requests)
    [second] = crawl(settings)
    assert second.new_posts == 1
    list_request = next(r for r in site.requests[mark:] if r.path == "/f/list.html")
    assert "if-none-match" not in list_request.headers  # no validators kept from a crawl with errors
    assert [r.path for r in site.requests[mark:] if r.path.startswith("/f/a/")] == ["/f/a/2.html"]
