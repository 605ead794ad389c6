"""`crawler.extract_xpath` gives the node sets lxml gives for trafilatura's expressions: on pages, on
the documents `crawler.extract` hands trafilatura, on every tree the passes evaluate them on, and
on random trees built from the expressions' own vocabulary."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
import trafilatura.xpaths
from lxml.etree import SubElement, XPath, _Element
from lxml.html import HtmlElement

import crawler.extract
from crawler import extract_xpath
from crawler.encoding import decode_html
from crawler.extract import _parse
from crawler.extract_trafilatura import trafilatura_text
from crawler.pages import read_article
from tests.conftest import corpus_dir

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
FIXTURES = sorted([*(HERE / "pages_extract").glob("*.html"), *(HERE / "pages").glob("*.html"),
                   *(ROOT / "yuqing" / "demo_site").rglob("*.html")])

EXPRESSIONS = [
    expression
    for name in ("RAW_TREE_PRUNE_XPATH", "REMOVE_COMMENTS_AND_LISTS_XPATH", "OVERALL_DISCARD_XPATH",
                 "TEASER_DISCARD_XPATH", "DISCARD_IMAGE_ELEMENTS", "BODY_XPATH")
    for expression in getattr(trafilatura.xpaths, name)
]
_FIRST_ONLY = {expression.path for expression in trafilatura.xpaths.BODY_XPATH}


def _lxml_first(expression: XPath, tree: _Element) -> _Element | None:
    return next((s for s in expression(tree) if s is not None), None)  # type: ignore[union-attr]


def _assert_same(expression: XPath, tree: _Element) -> None:
    if expression.path in _FIRST_ONLY:
        assert extract_xpath.first(expression, tree) is _lxml_first(expression, tree), expression.path
    else:
        assert extract_xpath.select(expression, tree) == expression(tree), expression.path


class _Checked:
    """`extract_xpath.select` and `first` comparing every answer with lxml's, while the passes run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        select, first = extract_xpath.select, extract_xpath.first

        def checked_select(expression: XPath, tree: _Element) -> list[_Element]:
            self.calls += 1
            found = select(expression, tree)
            assert found == expression(tree), expression.path
            return found

        def checked_first(expression: XPath, tree: _Element) -> _Element | None:
            self.calls += 1
            found = first(expression, tree)
            assert found is _lxml_first(expression, tree), expression.path
            return found

        monkeypatch.setattr(extract_xpath, "select", checked_select)
        monkeypatch.setattr(extract_xpath, "first", checked_first)


def _documents(paths: list[Path]) -> Iterator[tuple[Path, HtmlElement]]:
    for path in paths:
        html, _ = decode_html(path.read_bytes(), "text/html")
        root = _parse(html)
        if root is not None:
            yield path, root


def _check_pages(paths: list[Path], monkeypatch: pytest.MonkeyPatch, whole_pages: bool) -> tuple[int, int]:
    """Every expression on each whole page and on each document `crawler.extract` hands trafilatura,
    and every evaluation inside the passes (over whole pages too with `whole_pages`); returns
    (documents handed over, evaluations checked)."""
    for _, root in _documents(paths):
        for expression in EXPRESSIONS:
            _assert_same(expression, root)
    handed: list[int] = []

    def checking_trafilatura_text(document: HtmlElement, url: str | None) -> str:
        handed.append(1)
        for expression in EXPRESSIONS:
            _assert_same(expression, document)
        return trafilatura_text(document, url)

    checked = _Checked(monkeypatch)
    monkeypatch.setattr(crawler.extract, "trafilatura_text", checking_trafilatura_text)
    tz = ZoneInfo("Asia/Shanghai")
    for path in paths:
        read_article(path.read_bytes(), "text/html", f"http://127.0.0.1/{path.name}", forced=None,
                     now=datetime(2026, 12, 1, tzinfo=tz), tz=tz)
    if whole_pages:  # the passes over each whole page, as trafilatura would read it
        for _, root in _documents(paths):
            trafilatura_text(root, None)
    return len(handed), checked.calls


def test_every_expression_has_its_fast_path() -> None:
    # A fast path is found by the expression's exact text: one that no longer matches (an edited
    # expression, another trafilatura) falls back to lxml, correct but slow, and shows here.
    assert trafilatura.__version__ == extract_xpath.TRAFILATURA_VERSION
    assert [e.path[:60] for e in EXPRESSIONS if not extract_xpath.has_fast_path(e)] == []


def test_an_unknown_expression_is_evaluated_by_lxml() -> None:
    root = lxml.html.fromstring("<div><p class='a'>x</p><p class='b'>y</p><p class='a'>z</p></div>")
    expression = XPath(".//p[@class='a']")
    assert not extract_xpath.has_fast_path(expression)
    assert extract_xpath.select(expression, root) == expression(root)
    assert extract_xpath.first(expression, root) is root[0]


def test_the_same_nodes_on_the_fixture_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    _, calls = _check_pages(FIXTURES, monkeypatch, whole_pages=True)
    assert calls > len(FIXTURES)  # the passes ran and asked


def test_the_same_nodes_on_the_corpus_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted(corpus_dir("news_html").glob("*.html")) + sorted(corpus_dir("forum_html").glob("*.html"))
    handed, calls = _check_pages(paths, monkeypatch, whole_pages=False)
    assert handed > 20 and calls > 10 * handed


# ---- random trees from the expressions' vocabulary ----

# The words of the expressions (regex pieces included) and values that decide their edge cases.
_WORDS = sorted({word for expression in EXPRESSIONS for word in re.findall(r"[A-Za-z][\w-]*", expression.path)})
_VALUES = ["", " ", "post", "entry", "content", "main", "main-content", "Main-Content", "page-content",
           "PAGE-content", "reply-to", "hidden", "display:none", "display: none", "color: red", "true", "false",
           "navigation", "NAV", "Nav", "teaser", "Teaser", "TEASER", "caption", "MostPopularStories",
           "fulltext", "FullText", "commentary", "comment-list", "Comments", "comments-title", "article ",
           "article", "story", "text", "cell", "x ad y", "mvp-post-add-box", "infinite-scroll", "cookie",
           "articleBody", "primary", "elementor-share-buttons"]
_ATTRIBUTES = ["class", "id", "role", "style", "aria-hidden", "itemprop", "data-component",
               "data-lp-replacement-content"]
_TAGS = ["div", "section", "aside", "article", "main", "span", "p", "item", "list", "ol", "ul", "details",
         "h1", "a", "table", "head"]


def _value(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(_VALUES)
    words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
    value = rng.choice(["", " ", "-", "_"]).join(words)
    case = rng.random()
    if case < 0.15:
        value = value.upper()
    elif case < 0.3:
        value = value.swapcase()
    elif case < 0.4:
        value = value.capitalize()
    return rng.choice(["", "x-", " ", "a "]) + value + rng.choice(["", "-y", " ", " b"])


def _random_tree(rng: random.Random, size: int) -> HtmlElement:
    root = lxml.html.fromstring("<div></div>")
    elements = [root]
    for _ in range(size):
        element = SubElement(rng.choice(elements), rng.choice(_TAGS))
        names = rng.sample(_ATTRIBUTES, rng.randint(0, 4))
        if rng.random() < 0.5:  # both of id and class, in either order
            names = [n for n in names if n not in ("id", "class")] + rng.sample(["id", "class"], 2)
            rng.shuffle(names)
        for name in names:
            element.set(name, _value(rng))
        element.text = "t"
        elements.append(element)
    return root


@pytest.mark.parametrize("seed", range(40))
def test_the_same_nodes_on_random_trees(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(10):
        tree = _random_tree(rng, rng.randint(1, 80))
        for expression in EXPRESSIONS:
            _assert_same(expression, tree)
            _assert_same(expression, copy.deepcopy(tree))  # a parsed-then-copied tree, as the passes see


def test_the_same_nodes_when_the_remembered_answers_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_xpath, "_REMEMBERED", 3)
    rng = random.Random(1000)
    for _ in range(20):
        tree = _random_tree(rng, rng.randint(1, 80))
        for expression in EXPRESSIONS:
            _assert_same(expression, tree)


def test_the_first_of_two_attributes_is_the_one_written_first() -> None:
    # XPath's string(@id|@class) is the attribute first in the markup, not the first asked for.
    cookie = next(e for e in trafilatura.xpaths.OVERALL_DISCARD_XPATH if "'cookie'" in e.path)
    for markup, matched in (("<div><p id='x' class='cookie'>a</p></div>", False),
                            ("<div><p class='cookie' id='x'>a</p></div>", True),
                            ("<div><p class='cookie'>a</p></div>", True)):
        root = lxml.html.fromstring(markup)
        assert (extract_xpath.select(cookie, root) == [root[0]]) is matched
        _assert_same(cookie, root)
