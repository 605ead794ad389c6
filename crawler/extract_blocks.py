"""A page as text blocks: the unit that body extraction scores and the lines it returns.

Used by `crawler.extract_body` and `crawler.extract_byline`. A block is the text between two
block-level boundaries (a `<p>`, `<div>`, `<li>`, `<br>`, ...), with how much of it sits inside
links and which element holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import opencc
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

    # Cached: the scorer, the title finder and the byline reader each ask every block again.
    @cached_property
    def chars(self) -> int:
        return len(self.text.replace(" ", ""))

    @property
    def link_density(self) -> float:
        return self.link_chars / max(1, self.chars)

    @cached_property
    def punctuation(self) -> int:
        return len(_CJK_PUNCT.findall(self.text))


def blocks(root: HtmlElement, *, furniture: bool = False) -> list[Block]:
    """The text of `root` cut into blocks, in reading order.

    Scripts, styles, forms' controls and comments never give text. With `furniture`, elements whose
    class or id names them as navigation, share bars, comments or footers are skipped too, unless
    one holds a large share of the page's sentences: some templates call the article box
    "main-side" or "hot-content", and losing the story is worse than keeping a sidebar (the
    density scorer still weighs it). The tree is only read, never changed.
    """
    total = len(_SENTENCE_END.findall(root.text_content())) if furniture else 0

    def skipped(el: HtmlElement) -> bool:
        if not isinstance(el.tag, str) or el.tag.lower() in _DROP_TAGS:
            return True
        if furniture and el is not root and _is_furniture(el):
            kept = total >= 5 and len(_SENTENCE_END.findall(el.text_content())) >= _KEEP_SHARE * total
            return not kept
        return False

    out: list[Block] = []
    parts: list[str] = []
    link_chars = 0
    owner: list[HtmlElement] = [root]

    def flush() -> None:
        nonlocal link_chars
        if not parts:
            return  # most block boundaries follow another one: nothing to cut
        text = _SPACES.sub(" ", "".join(parts)).strip()
        if text:
            el = owner[-1]
            heading = el.tag in ("h1", "h2", "h3", "h4", "h5", "h6")
            out.append(Block(text, min(link_chars, len(text.replace(" ", ""))), el, heading))
        parts.clear()
        link_chars = 0

    def walk(el: HtmlElement, in_link: bool) -> None:
        nonlocal link_chars
        if skipped(el):
            return  # its tail text belongs to the parent and is still read there
        tag = el.tag
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


def _is_furniture(el: HtmlElement) -> bool:
    if el.tag in ("body", "html", "article", "main"):
        return False
    names = f"{el.get('class', '')} {el.get('id', '')}"
    return bool(names.strip()) and bool(_NOISE_WORDS.search(names))


_T2S = opencc.OpenCC("t2s")


# The same lines are folded again by each pattern family (furniture, stop lines, credits): OpenCC is
# the costly part of those matches. `extract_article` empties the cache per page, so that a crawl
# (or a benchmark that serves one page under many URLs) gains nothing from pages seen before.
@lru_cache(maxsize=4096)
def fold(line: str) -> str:
    """Traditional to Simplified, so that 責任編輯 and 相關新聞 meet the same patterns as 责任编辑."""
    return line if line.isascii() else _T2S.convert(line)
