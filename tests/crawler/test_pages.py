"""read_article: a page's bytes to its article, as decode_html then extract_article would give it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from crawler.extract import _parse
from crawler.pages import decode_html, extract_article, read_article

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 1, 1, tzinfo=TZ)
PAGES = sorted((Path(__file__).parent / "pages").glob("*.html")) + sorted(
    (Path(__file__).parent / "pages_extract").glob("*.html")
)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_read_article_is_decode_then_extract(page: Path) -> None:
    # UTF-8 pages read without a replacement are parsed from their bytes (faster in lxml): the
    # article must be the one extracted from the decoded text.
    body = page.read_bytes()
    html, _ = decode_html(body, "text/html")
    url = f"http://127.0.0.1/{page.name}"
    assert read_article(body, "text/html", url, forced=None, now=NOW, tz=TZ) == extract_article(html, url, now=NOW, tz=TZ)


def test_a_page_parsed_from_its_utf8_bytes_is_the_page_parsed_from_its_text() -> None:
    # Declarations of another charset (an XML one, a <meta>) do not change how its bytes are read.
    html = ('<?xml version="1.0" encoding="gb2312"?><html><head><meta charset="gb2312"><title>村务公开</title>'
            "</head><body><p>镇政府通报了清查结果。</p><!-- 注释 --></body></html>")
    from_text, from_bytes = _parse(html), _parse(html, html.encode())
    assert from_text is not None and from_bytes is not None
    assert etree.tostring(from_bytes, encoding="unicode") == etree.tostring(from_text, encoding="unicode")
    assert from_bytes.findtext(".//title") == "村务公开"


def test_the_crawl_process_modules_leave_the_extractor_unimported() -> None:
    # A crawl process that hands its articles to workers, or finds nothing new, decodes only list
    # pages: importing the spiders, the worker pool and the pipelines must not import trafilatura
    # (some 0.27 s of CPU a crawl). A fresh interpreter, since this one has imported it already.
    import subprocess
    import sys

    probe = (
        "import sys, crawler.extract_pool, crawler.pipelines, spiders.news, spiders.rss, spiders.forum\n"
        "print(sorted(m for m in ('trafilatura', 'crawler.extract') if m in sys.modules))\n"
        "from crawler.pages import Article\n"
        "print(Article.__module__)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "crawler.article"]


def test_an_article_from_a_worker_unpickles_without_the_extractor() -> None:
    # Workers send Articles back pickled; unpickling imports the class's module, which must not be
    # the extractor's (that would import trafilatura into every crawl process that uses workers).
    import pickle
    import subprocess
    import sys

    sent = pickle.dumps(extract_article("<html><body><h1>标题</h1><p>正文。</p></body></html>", "http://127.0.0.1/a",
                                        now=NOW, tz=TZ))
    probe = (
        "import pickle, sys\n"
        f"article = pickle.loads({sent!r})\n"
        "print(type(article).__name__, sorted(m for m in ('trafilatura', 'crawler.extract') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "Article []"
