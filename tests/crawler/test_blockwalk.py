"""The compiled block walk (crawler/_blockwalk.pyx) gives exactly the Python walk's blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lxml.html
import pytest
from lxml import etree

from crawler import extract_blocks
from crawler.encoding import decode_html
from crawler.extract import _parse
from crawler.extract_blocks import Block, block_views, python_block_views
from tests.conftest import CORPUS, ROOT

OWN_PAGES = sorted((ROOT / "tests").rglob("*.html")) + sorted((ROOT / "yuqing" / "demo_site").rglob("*.html"))


def compiled() -> Any:
    if extract_blocks._compiled is None:
        pytest.skip("crawler/_blockwalk.pyx is not built here (no C compiler when installed): pages are walked in Python")
    return extract_blocks._compiled


def walk(root: Any, furniture: bool) -> tuple[list[Block], list[Block]]:
    module = compiled()
    return module.walk(root, furniture, Block, extract_blocks._ODD_SPACES, extract_blocks._SPACES,  # type: ignore[no-any-return]
                       extract_blocks._FurnitureNames(), extract_blocks._Boxes(root).hides)


def described(views: tuple[list[Block], list[Block]]) -> list[list[tuple[Any, ...]]]:
    # The owner by identity: both walks must name the same element of the same tree.
    return [[(b.text, b.link_chars, id(b.owner), b.heading, b.chars, b.link_density) for b in view] for view in views]


def assert_same(root: Any) -> int:
    for furniture in (True, False):
        expected = python_block_views(root, furniture=furniture)
        assert described(walk(root, furniture)) == described(expected)
        assert described(block_views(root, furniture=furniture)) == described(expected)
    return len(python_block_views(root)[0])


def page_root(path: Path) -> Any:
    root = _parse(decode_html(path.read_bytes(), None)[0])
    assert root is not None, path
    return root


def test_same_blocks_on_the_projects_own_pages() -> None:
    assert len(OWN_PAGES) > 20
    blocks = sum(assert_same(page_root(path)) for path in OWN_PAGES)
    assert blocks > 250  # pages with real text, not empty shells


def test_same_blocks_on_the_corpus_pages() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present (the third-party corpus lives beside the repo)")
    paths = sorted((CORPUS / "news_html").glob("*.html")) + sorted((CORPUS / "forum_html").glob("*.html"))
    assert len(paths) > 100
    for path in paths:
        assert_same(page_root(path))


@pytest.mark.parametrize("body", [
    # comments and processing instructions give no text; their tails do
    "<p>一<!-- 注释 -->二<?php echo 1 ?>三</p><div>四<!--x--></div>五",
    # links, nested and at the edges of blocks; a link's tail is no link
    "<p><a href='/x'>链接<b>加粗<a>内层</a></b>尾</a>之后</p><a>开头</a><div>块<a>末</a></div>",
    # dropped elements (scripts, forms' controls) keep their tails
    "<p>前<script>var a = 1;</script>后<select><option>选项</option></select>再<style>p{}</style></p>",
    # headings own their blocks; <br> cuts lines; whitespace only after some text
    "<h2> 标题 </h2>\n  <p>第一行<br>第二行<br/>  </p><h3><span>小</span>标题</h3>  \n ",
    # furniture: a share bar hidden from the second view, a large "side" box kept
    "<div class='share'>分享到微博</div><div class='main-side'>" + "。".join(["一句话"] * 12) + "。</div>"
    "<div id='footer'>版权所有。</div><p>正文。</p>",
    # furniture inside furniture, and a story box never furniture
    "<div class='nav'><ul><li class='menu'>首页</li></ul>尾</div><article class='related'>文章。</article>",
    # odd spaces that str.split() does not cut at
    "<p>甲\u2002乙\u3000丙\u00a0丁\u200b戊</p><p>\ufeff己\u205f庚</p>",
    # empty and space-only elements, a table
    "<div></div><p> </p><table><tr><td>格一</td><td>格二<br></td></tr></table><p>完</p>",
    # Traditional script and entities decoded by the parser
    "<p>幹部&nbsp;任命&amp;公示 &lt;通知&gt;</p>",
])
def test_same_blocks_on_hand_made_pages(body: str) -> None:
    assert assert_same(lxml.html.document_fromstring(f"<html><head><title>t</title></head><body>{body}</body></html>")) > 0


def test_tags_the_html_parser_never_makes() -> None:
    # Upper-case tags (made by hand: the HTML parser lowercases): a SCRIPT is still dropped, a P is
    # not a block, as in the Python walk.
    root = lxml.html.document_fromstring("<html><body><div>甲</div></body></html>")
    body = root.find("body")
    script = etree.SubElement(body, "SCRIPT")
    script.text, script.tail = "var x;", "乙"
    para = etree.SubElement(body, "P")
    para.text, para.tail = "丙", "丁"
    assert assert_same(root) > 0
    assert "var x;" not in " ".join(b.text for b in block_views(root)[0])


def test_a_namespaced_element_is_walked_in_python() -> None:
    module = compiled()
    root = lxml.html.document_fromstring("<html><body><p>甲</p></body></html>")
    extra = etree.SubElement(root.find("body"), "{urn:x}note")
    extra.text = "乙"
    with pytest.raises(module.Unsupported):
        walk(root, True)
    assert [b.text for b in block_views(root)[0]] == [b.text for b in python_block_views(root)[0]] == ["甲", "乙"]


def test_the_walk_starts_from_any_element() -> None:
    # The root's tail is not read; an element that is no block tag is its own blocks' owner.
    root = lxml.html.document_fromstring("<html><body><span>甲<i>乙</i></span>尾<div>丙</div></body></html>")
    span = root.find(".//span")
    assert assert_same(span) == 1
    assert [(b.text, b.owner) for b in block_views(span)[0]] == [("甲乙", span)]


def test_a_walk_built_for_another_lxml_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    module = compiled()
    monkeypatch.setattr(module, "LXML_VERSION", "99.0.0")
    walk_module, why = extract_blocks._load_compiled()
    assert walk_module is None
    assert why == f"Python (crawler/_blockwalk.pyx was built for lxml 99.0.0, not {etree.__version__})"
    monkeypatch.undo()
    assert extract_blocks._load_compiled() == (module, "compiled")


def test_deep_nesting_and_many_tag_names() -> None:
    # Made by hand (the parser caps its depth): blocks 2,000 inline elements deep, and a page of
    # 5,000 made-up tag names (more than the compiled walk keeps kinds of: its cache starts afresh).
    root = lxml.html.document_fromstring("<html><body><div>甲</div></body></html>")
    inner = root.find("body")
    for depth in range(2000):
        inner = etree.SubElement(inner, "span")
        if depth % 100 == 0:
            etree.SubElement(inner, "div").text = f"层{depth}"
            inner.text = "内"
    inner.text = "底"
    tags = etree.SubElement(root.find("body"), "section")
    for n in range(5000):
        etree.SubElement(tags, f"x-tag{n}").text = f"名{n}"
    assert assert_same(root) > 20


def test_a_walk_older_than_its_source_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    module = compiled()
    built = Path(module.__file__)
    # A copy of the build, older than the .pyx beside it: a checkout pulled without a rebuild.
    old = tmp_path / built.name
    old.write_bytes(b"")
    os.utime(old, (0, 0))
    monkeypatch.setattr(module, "__file__", str(old))
    assert extract_blocks._load_compiled() == (
        None, "Python (crawler/_blockwalk.pyx changed since it was built: `make install` rebuilds it)")
    monkeypatch.undo()
    assert extract_blocks._load_compiled() == (module, "compiled")


def test_the_python_walk_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    # YUQING_BLOCK_WALK=python: the way out should the compiled walk misbehave on some site.
    monkeypatch.setenv(extract_blocks.WALK_ENV, "python")
    assert extract_blocks._load_compiled() == (None, "Python (YUQING_BLOCK_WALK=python)")
    monkeypatch.setenv(extract_blocks.WALK_ENV, "")
    assert extract_blocks._load_compiled()[1] in ("compiled", "Python (crawler/_blockwalk.pyx not built)")
