"""A page as text blocks: the unit that body extraction scores and the lines it returns.

Used by `crawler.extract_body` only. A block is the text between two block-level boundaries (a
`<p>`, `<div>`, `<li>`, `<br>`, ...), with how much of it sits inside links and which element
holds it. Scripts, styles, forms and elements whose class or id names them as navigation, share
bars, comments or footers are dropped before blocks are cut, so their text never reaches a body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import opencc
from lxml import etree
from lxml.html import HtmlElement

# Elements that never hold article text. Not <form>: ASP.NET pages wrap the whole page in one.
_DROP_TAGS = frozenset({
    "script", "style", "noscript", "iframe", "button", "select", "option", "textarea",
    "input", "nav", "footer", "aside", "svg", "canvas", "object", "embed", "template", "head",
    "label", "map", "audio", "video",
})
# Tags that end a line of text.
_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "tr", "td", "th", "table", "tbody", "thead", "section", "article", "main", "header",
    "blockquote", "pre", "figure", "figcaption", "center", "hr", "body", "html",
})
# class/id words that name page furniture (matched as whole words inside the attribute).
_NOISE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|breadcrumbs?|crumbs?|share|sharing|bshare|jiathis|social|"
    r"comments?|reply|footer|foot|copyright|sidebar|side|related|recommend|hot|rank|ads?|advert|"
    r"banner|login|search|pager|pagination|tags?|toolbar|print|qrcode|weixin|subscribe|"
    r"modal|popup|cookie)(?:$|[\s_\d-])",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000\u2002\u2003\u200b\ufeff]+")
_SENTENCE_END = re.compile(r"[。！？]")
# A furniture-named element holding at least this share of the page's sentences is kept.
_KEEP_SHARE = 0.4
_CJK_PUNCT = re.compile(r"[，。！？；：、“”,.!?;]")


@dataclass(frozen=True)
class Block:
    """One line of page text and where it came from."""

    text: str
    link_chars: int
    owner: HtmlElement
    heading: bool

    @property
    def chars(self) -> int:
        return len(self.text.replace(" ", ""))

    @property
    def link_density(self) -> float:
        return self.link_chars / max(1, self.chars)

    @property
    def punctuation(self) -> int:
        return len(_CJK_PUNCT.findall(self.text))


def prune(root: HtmlElement, *, furniture: bool) -> None:
    """Drop scripts, styles and comments, in place; with `furniture`, also elements whose class or
    id names them as navigation, share bars, comments or footers.

    A furniture-named element that holds a large share of the page's sentences is kept: some
    templates call the article box "main-side" or "hot-content", and losing the story is worse
    than keeping a sidebar (the density scorer still weighs it).
    """
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.tag.lower() in _DROP_TAGS:
            _drop(el)  # comments and processing instructions too; their tail text stays
    if not furniture:
        return
    total = len(_SENTENCE_END.findall(root.text_content()))
    for el in list(root.iter()):
        if el.getparent() is None or not _is_furniture(el) or not _attached(el, root):
            continue
        if total >= 5 and len(_SENTENCE_END.findall(el.text_content())) >= _KEEP_SHARE * total:
            continue
        _drop(el)


def _attached(el: HtmlElement, root: HtmlElement) -> bool:
    for ancestor in el.iterancestors():
        if ancestor is root:
            return True
    return False


def _is_furniture(el: HtmlElement) -> bool:
    if el.tag in ("body", "html", "article", "main"):
        return False
    names = f"{el.get('class', '')} {el.get('id', '')}"
    return bool(names.strip()) and bool(_NOISE_WORDS.search(names))


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    prev = el.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def blocks(root: HtmlElement) -> list[Block]:
    """The text of `root` cut into blocks, in reading order."""
    out: list[Block] = []
    parts: list[str] = []
    link_chars = 0
    owner: list[HtmlElement] = [root]

    def flush() -> None:
        nonlocal link_chars
        text = _SPACES.sub(" ", "".join(parts)).strip()
        if text:
            el = owner[-1]
            heading = el.tag in ("h1", "h2", "h3", "h4", "h5", "h6")
            out.append(Block(text, min(link_chars, len(text.replace(" ", ""))), el, heading))
        parts.clear()
        link_chars = 0

    def walk(el: HtmlElement, in_link: bool) -> None:
        nonlocal link_chars
        tag = el.tag if isinstance(el.tag, str) else ""
        is_block = tag in _BLOCK_TAGS
        if is_block:
            flush()
            owner.append(el)
        link = in_link or tag == "a"
        if el.text:
            parts.append(el.text.replace("\n", " "))
            if link:
                link_chars += len("".join(el.text.split()))
        for child in el:
            walk(child, link)
            if child.tail:
                parts.append(child.tail.replace("\n", " "))
                if link:
                    link_chars += len("".join(child.tail.split()))
        if is_block:
            flush()
            owner.pop()

    walk(root, False)
    flush()
    return out


_T2S = opencc.OpenCC("t2s")


def fold(line: str) -> str:
    """Traditional to Simplified, so that 責任編輯 and 相關新聞 meet the same patterns as 责任编辑."""
    return line if line.isascii() else _T2S.convert(line)
