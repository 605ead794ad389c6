"""A page as text blocks: the unit that body extraction scores and the lines it returns.

Used by `crawler.extract_body` and `crawler.extract_byline`. A block is the text between two
block-level boundaries (a `<p>`, `<div>`, `<li>`, `<br>`, ...), with how much of it sits inside
links and which element holds it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
_SPACES = re.compile(r"[ \n\t\r\f\v\u00a0\u3000\u2002\u2003\u200b\ufeff]+")
# The characters that one of `_SPACES` and str.split() takes for a space and the other does not (a
# test checks it): a block's text holding none of them, nearly every one, is tidied by split() and
# join() in C, for less than half of what the substitution costs (the walk's instructions on the
# corpus pages: 15.57M -> 14.88M a page, callgrind).
_ODD_SPACES = re.compile("[\x1c-\x1f\x85\u1680\u2000\u2001\u2004-\u200b\u2028\u2029\u202f\u205f\ufeff]")
# A furniture-named element holding at least this share of the page's sentences is kept.
_KEEP_SHARE = 0.4
# ...on a page of at least this many sentences.
_KEEP_MIN_SENTENCES = 5
_CJK_PUNCT = re.compile(r"[，。！？；：、“”,.!?;]")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that are the page or its story whatever their class says.
_NEVER_FURNITURE = frozenset({"body", "html", "article", "main"})


class _Punctuation:
    """A block's count of sentence punctuation, counted when first read and then kept in the
    block's __dict__ (which, this being a non-data descriptor, is read first from then on).
    functools.cached_property does the same behind a lock, which costs more than the count."""

    def __get__(self, block: Block, owner: type | None = None) -> int:
        count = block.__dict__["punctuation"] = len(_CJK_PUNCT.findall(block.text))
        return count


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, and a page
# has hundreds of blocks (the walk's instructions on the corpus pages: 14.88M -> 13.48M a page,
# callgrind). No reader changes a block.
@dataclass
class Block:
    """One line of page text and where it came from."""

    text: str
    link_chars: int
    owner: HtmlElement
    heading: bool
    # Characters without spaces, and the share of them inside links: fields, not properties, as
    # the scorer, the title finder and the byline reader each ask every block again.
    chars: int
    link_density: float

    punctuation = _Punctuation()


def blocks(root: HtmlElement, *, furniture: bool = False) -> list[Block]:
    """The text of `root` cut into blocks, in reading order.

    Scripts, styles, forms' controls and comments never give text. With `furniture`, elements whose
    class or id names them as navigation, share bars, comments or footers are skipped too, unless
    one holds a large share of the page's sentences: some templates call the article box
    "main-side" or "hot-content", and losing the story is worse than keeping a sidebar (the
    density scorer still weighs it). The tree is only read, never changed.
    """
    every, kept = block_views(root, furniture=furniture)
    return kept if furniture else every


def block_views(root: HtmlElement, *, furniture: bool = True) -> tuple[list[Block], list[Block]]:
    """Both views of `blocks` from one walk of the tree: (every block, furniture skipped).

    `extract_article` needs both (bylines are read with the furniture, the body without), and the
    walk is a large part of extraction's time. Text inside a skipped furniture element still goes
    to the first view; the second view reads exactly what `blocks(root, furniture=True)` always
    read: the skipped element gives no text and no block boundary, its tail stays with its parent.
    Without `furniture` nothing is skipped and both lists hold the same blocks.

    The walk is `crawler._blockwalk`'s, compiled, where the install built it (half the cost); else,
    or on a node that it leaves to Python, `python_block_views`, which gives the same blocks.
    """
    if _compiled is not None:
        try:
            return _compiled.walk(root, furniture, Block, _ODD_SPACES, _SPACES, _FurnitureNames(), _Boxes(root).hides)
        except _compiled.Unsupported:
            pass
    return python_block_views(root, furniture=furniture)


def python_block_views(root: HtmlElement, *, furniture: bool = True) -> tuple[list[Block], list[Block]]:
    """`block_views` walked in Python (lxml's iterwalk): the reference the compiled walk follows."""
    every: list[Block] = []
    kept: list[Block] = []
    # Pending text of the current block in each view, and its link characters. Whitespace is kept
    # only after some text (most text nodes are the indentation between tags, and a block's
    # leading whitespace is stripped anyway): an empty list is a block with nothing to cut.
    parts: list[str] = []
    kept_parts: list[str] = []
    links = [0, 0]  # [every view, kept view]
    owner: list[HtmlElement] = [root]

    def make(pieces: list[str], link_chars: int) -> Block | None:
        text = "".join(pieces)
        text = " ".join(text.split()) if _ODD_SPACES.search(text) is None else _SPACES.sub(" ", text).strip()
        if not text:
            return None
        el = owner[-1]
        heading = el.tag in _HEADINGS
        chars = len(text) - text.count(" ")
        link_chars = min(link_chars, chars)
        return Block(text, link_chars, el, heading, chars, link_chars / max(1, chars))

    def flush(hidden: bool) -> None:
        shared = None
        if parts:
            same = not hidden and links[0] == links[1] and parts == kept_parts
            block = make(parts, links[0])
            if block is not None:
                every.append(block)
            parts.clear()
            links[0] = 0
            if same:
                # Nothing was hidden since the last cut: the kept view's block is the same one.
                shared = block
                kept_parts.clear()
                links[1] = 0
                if block is not None:
                    kept.append(block)
        if not hidden and kept_parts:
            block = shared or make(kept_parts, links[1])
            if block is not None:
                kept.append(block)
            kept_parts.clear()
            links[1] = 0

    # lxml's iterwalk walks the tree in C; the Python below runs once per event, and keeps no
    # stack of its own: an element ends a block when it is the innermost open block (`owner`),
    # and ends the link or the hidden furniture it opened when it is the element that opened it.
    # Comments and processing instructions come as events of their own: they give no text, their
    # tails do.
    drop_tags, block_tags = _DROP_TAGS, _BLOCK_TAGS
    named, boxes = _FurnitureNames(), _Boxes(root)
    link, hidden = False, False  # inside the element being read
    link_opener: HtmlElement | None = None  # the outermost open <a>
    hider: HtmlElement | None = None  # the open furniture element that hides its text
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        if event == "start":
            tag = el.tag
            if tag in drop_tags or (not tag.islower() and tag.lower() in drop_tags):
                walker.skip_subtree()  # its "end" still comes, for its tail
                continue
            if furniture and not hidden and el is not root and tag not in _NEVER_FURNITURE:
                cls, ident = el.get("class"), el.get("id")
                if (cls or ident) and named[f"{cls or ''} {ident or ''}"] and boxes.hides(el, every, parts):
                    hider, hidden = el, True
            if tag in block_tags:
                if parts or kept_parts:
                    flush(hidden)
                owner.append(el)
            if not link and tag == "a":
                link, link_opener = True, el
            text = el.text
        else:
            if event == "end":
                if el is root:
                    break  # its blocks are cut below
                if el is owner[-1]:
                    if parts or kept_parts:
                        flush(hidden)
                    owner.pop()
                if el is hider:
                    hidden, hider = False, None
                if el is link_opener:
                    link, link_opener = False, None
            text = el.tail  # an element's, a comment's or a processing instruction's
        # The text goes to the pending block of each view that reads it (inline: once per event).
        if not text:
            continue
        if text.isspace():
            if parts:
                parts.append(text)
            if kept_parts and not hidden:
                kept_parts.append(text)
            continue
        parts.append(text)
        if not hidden:
            kept_parts.append(text)
        if link:
            n = len("".join(text.split()))
            links[0] += n
            if not hidden:
                links[1] += n
    flush(False)
    return every, kept


class _Boxes:
    """Whether a furniture-named element of one page (`block_views`) hides its text: not when it
    holds a large share of the page's sentences. The page's count is counted only as far as a box's
    decision needs it."""

    def __init__(self, root: HtmlElement) -> None:
        self.root = root
        self.sentences = -1  # the page's sentence count, counted when first needed
        self.read_ends, self.counted = 0, 0  # the sentence count of the first `counted` blocks of `every`

    def hides(self, box: HtmlElement, every: list[Block], parts: list[str]) -> bool:
        """`every`: the blocks cut so far; `parts`: the pending block's text."""
        ends = _sentence_ends(_text_of(box))
        # A box too small to hold the share of any page that counts is not held: the page's own
        # count (all of its text) is then never needed, as on most pages.
        held = ends >= _KEEP_SHARE * _KEEP_MIN_SENTENCES
        if held and self.sentences < 0:
            # The text read so far lies outside the box: with the box's own count, a lower bound of
            # the page's, which for most boxes already says that the box holds too small a share
            # (166 of the 217 on the corpus pages). The page's count, all of its text with its
            # scripts, is then never needed on 30 of the 58 corpus pages that needed it (the walk:
            # 13.50M -> 13.17M instructions a page).
            self.read_ends += _sentence_ends("".join(b.text for b in every[self.counted :]))
            self.counted = len(every)
            held = ends >= _KEEP_SHARE * (self.read_ends + _sentence_ends("".join(parts)) + ends)
        if held:
            if self.sentences < 0:
                self.sentences = _sentence_ends(_text_of(self.root))
            held = self.sentences >= _KEEP_MIN_SENTENCES and ends >= _KEEP_SHARE * self.sentences
        return not held


# Set to "python" in the environment, the Python walk is used even where the compiled one is built:
# the way out should the compiled walk ever misbehave on a site, and the benchmark's comparison.
WALK_ENV = "YUQING_BLOCK_WALK"


def _load_compiled() -> tuple[Any, str]:
    """The compiled walk and "compiled", or None and why the Python walk is used."""
    if os.environ.get(WALK_ENV, "").strip().lower() == "python":
        return None, f"Python ({WALK_ENV}=python)"
    try:
        from crawler import _blockwalk
    except ImportError:  # not built: no compiler where it was installed (see setup.py)
        return None, "Python (crawler/_blockwalk.pyx not built)"
    source = Path(__file__).with_name("_blockwalk.pyx")
    if source.exists() and source.stat().st_mtime > Path(_blockwalk.__file__).stat().st_mtime:
        # A checkout whose walk changed since it was built (a pull without `make install`): the
        # old build may not take what this module passes.
        return None, "Python (crawler/_blockwalk.pyx changed since it was built: `make install` rebuilds it)"
    if _blockwalk.LXML_VERSION.split(".")[0] != etree.__version__.split(".")[0]:
        # Built against another major version of lxml, whose element layout may differ: rebuild
        # (`make install`, or `pip install -e .`) to have it again.
        return None, f"Python (crawler/_blockwalk.pyx was built for lxml {_blockwalk.LXML_VERSION}, not {etree.__version__})"
    _blockwalk.configure(_DROP_TAGS, _BLOCK_TAGS, _HEADINGS, _NEVER_FURNITURE)
    return _blockwalk, "compiled"


_compiled, WALK = _load_compiled()  # WALK: which walk `block_views` takes, for the benchmark's report


def _text_of(el: HtmlElement) -> str:
    # The text of `el` and its descendants, as text_content() gives it, through lxml's serializer:
    # text_content() runs an XPath and wraps its answer in a "smart" string, which costs more.
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def _sentence_ends(text: str) -> int:
    # Three counts in C, not a regex's list of matches: the page's text and each furniture box's
    # are counted (tens of thousands of characters a page).
    return text.count("。") + text.count("！") + text.count("？")


class _FurnitureNames(dict[str, bool]):
    """Whether an element's "class id" names furniture, for each pair seen on one page: each
    pair is matched once (list items and cards repeat theirs by the dozen), and a pair already
    seen is answered by the dict's own lookup, in C."""

    def __missing__(self, names: str) -> bool:
        found = self[names] = bool(_NOISE_WORDS.search(names))
        return found


def squash(text: str) -> str:
    """`text` without any whitespace: the key on which lines, titles and links are compared.
    Not re.sub(r"\\s+", "", text): split() cuts at exactly what a regex's \\s matches (a test
    checks it), and split() and join() cost half of the substitution."""
    return "".join(text.split())


_T2S = opencc.OpenCC("t2s")


# The same lines are folded again by each pattern family (furniture, stop lines, credits): OpenCC is
# the costly part of those matches. The folds are kept for one page: `fold_page` starts a page
# afresh, so that a crawl (or a benchmark that serves one page under many URLs) gains nothing from
# pages seen before.
_folded: dict[str, str] = {}
_MAX_FOLDED = 4096


def fold(line: str) -> str:
    """Traditional to Simplified, so that 責任編輯 and 相關新聞 meet the same patterns as 责任编辑."""
    if line.isascii():
        return line
    folded = _folded.get(line)
    if folded is None:
        if len(_folded) >= _MAX_FOLDED:  # a caller outside `extract_article` never starts a page
            _folded.clear()
        folded = _folded[line] = _T2S.convert(line)
    return folded


def fold_page(lines: list[str]) -> None:
    """Forget the previous page's folds and fold this page's `lines` in one call to OpenCC (a call
    per line costs twice as much: OpenCC's phrases never span a line break, so the result is the
    same)."""
    _folded.clear()
    todo = [line for line in dict.fromkeys(lines) if not line.isascii() and "\n" not in line]
    if not todo:
        return
    folded = _T2S.convert("\n".join(todo)).split("\n")
    if len(folded) == len(todo):
        _folded.update(zip(todo, folded, strict=True))
