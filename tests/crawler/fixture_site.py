"""Mounts the crawler's own fixture pages (tests/crawler/pages/) on a LocalSite.

A small county site with every stage in it: a paged news list, articles in UTF-8, undeclared GBK
and Big5, a GB2312 RSS feed, a Big5 Atom feed, and a Discuz!-style forum with a paged board, a
two-page thread and a thread in an unknown layout. List pages, boards and feeds carry ETags.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.site import LocalSite, Page

PAGES = Path(__file__).parent / "pages"


def _html(name: str, ctype: str = "text/html; charset=utf-8", etag: str | None = None) -> Page:
    return Page((PAGES / name).read_bytes(), headers={"Content-Type": ctype}, etag=etag)


def mount(site: LocalSite) -> LocalSite:
    base = site.base.encode()
    site.add("/robots.txt", Page(b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}))
    site.add("/list.html", _html("list.html", etag='"list-1"'))
    site.add("/list_2.html", _html("list_2.html"))
    site.add("/content/1001.html", _html("article_1001.html"))
    site.add("/content/1002.html", _html("article_1002.gbk.html", ctype="text/html"))  # no charset anywhere
    site.add("/content/1003.html", _html("article_1001.html"))  # the same body under another URL
    site.add("/content/1004.html", _html("article_1004.big5.html", ctype="text/html; charset=big5"))
    feed = (PAGES / "feed.gb2312.xml").read_bytes().replace(b"{base}", base)
    site.add("/feed.xml", Page(feed, headers={"Content-Type": "application/rss+xml"}, etag='"feed-1"'))
    atom = (PAGES / "atom.big5.xml").read_bytes().replace(b"{base}", base)
    site.add("/atom.xml", Page(atom, headers={"Content-Type": "application/atom+xml"}, etag='"atom-1"'))
    site.add("/forum.php", _forum)
    return site


def _forum(request: object) -> Page:
    # Discuz! serves everything from forum.php, told apart by the query string.
    path = getattr(request, "path", "")
    query = path.split("?", 1)[1] if "?" in path else ""
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    if params.get("mod") == "forumdisplay":
        name = "board_2.html" if params.get("page") == "2" else "board.html"
        return _html(name, etag=f'"{name}-1"')
    if params.get("mod") == "viewthread":
        tid, page = params.get("tid", ""), params.get("page", "1")
        name = f"thread_{tid}.html" if page == "1" else f"thread_{tid}_{page}.html"
        if (PAGES / name).exists():
            return _html(name, etag=f'"{name}-1"')
    return Page(b"not found", 404, {"Content-Type": "text/plain"})
