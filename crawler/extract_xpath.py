"""trafilatura's costliest XPath expressions evaluated in Python, with the node sets lxml gives:
`select(expression, tree)` and `first(expression, tree)` for `crawler.extract_trafilatura`.

Why by hand: trafilatura's pruning and body expressions (`trafilatura.xpaths`) test ids and
classes with EXSLT `re:test(...)`, which libxml2 does not implement, so lxml calls back into
Python for every element, and with long `contains(...)` chains; on a page of 800 elements one of
them costs 1-5 ms. No library evaluates these faster (libxslt's EXSLT has no regular expressions;
CSS selector libraries have no regex). Here lxml walks the candidate tags in C (`iterdescendants`)
and each predicate runs once in Python on the attribute values, with the same compiled regexes,
the answers remembered per value (a page repeats its class names).

Each fast path is registered under the exact text of the expression it replaces (and only with
the trafilatura version it was written against): an expression whose text differs is evaluated
by lxml, so an upgrade of trafilatura changes nothing silently, it only costs the time again.
tests/crawler/test_extract_xpath.py compares the node sets with lxml's on pages and synthetic trees.

XPath 1.0 semantics kept:
- an absent attribute reads as "" (`re:test` and `contains` see ""), `@x` alone tests presence;
- `string(@id|@class)` is the attribute written FIRST in the element's markup (`_first_of`);
- `re:test(s, pattern, flags)` is lxml's EXSLT: `re.search` with re.IGNORECASE when "i" in flags;
- `.//` starts below the context element, results come in document order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import trafilatura
from lxml.etree import Element, XPath, _Element

# The trafilatura whose expression texts the fast paths below were written against.
TRAFILATURA_VERSION = "2.3.1"

Select = Callable[[_Element], list[_Element]]
First = Callable[[_Element], "_Element | None"]

_SELECT: dict[str, Select] = {}
_FIRST: dict[str, First] = {}

# Each store of remembered answers is emptied past this many (a worker reads many sites): a page has
# a few hundred distinct values, and the 18 stores stay within a few MB in a long-lived worker.
_REMEMBERED = 2048


def select(expression: XPath, tree: _Element) -> list[_Element]:
    """`expression(tree)`: its node set, by the fast path written for its text when there is one."""
    fast = _SELECT.get(expression.path)
    return fast(tree) if fast is not None else expression(tree)  # type: ignore[return-value]


def first(expression: XPath, tree: _Element) -> _Element | None:
    """The first node of `expression(tree)` in document order, as trafilatura's `_extract` takes it."""
    fast = _FIRST.get(expression.path)
    if fast is not None:
        return fast(tree)
    return next((s for s in expression(tree) if s is not None), None)  # type: ignore[union-attr]


def has_fast_path(expression: XPath) -> bool:
    return expression.path in _SELECT or expression.path in _FIRST


_F = TypeVar("_F", bound=Callable[[_Element], Any])


def _registers(registry: dict[str, Any], text: str) -> Callable[[_F], _F]:
    """Registers the decorated function as the fast path of the expression written exactly `text`,
    with the trafilatura it was written against only."""
    def register(function: _F) -> _F:
        if trafilatura.__version__ == TRAFILATURA_VERSION:
            registry[text] = function
        return function
    return register


class _Test:
    """`re:test(value, pattern[, flags])` as lxml's EXSLT evaluates it, remembered per value."""

    __slots__ = ("_search", "_seen")

    def __init__(self, pattern: str, flags: str = "") -> None:
        self._search = re.compile(pattern, re.IGNORECASE if "i" in flags else 0).search
        self._seen: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        seen = self._seen.get(value)
        if seen is None:
            if len(self._seen) >= _REMEMBERED:
                self._seen.clear()
            seen = self._seen[value] = self._search(value) is not None
        return seen


def _first_of(element: _Element, name: str, other: str) -> str:
    """XPath's string(@name|@other): the one of the two attributes written first in the markup."""
    value, other_value = element.get(name), element.get(other)
    if value is None:
        return other_value or ""
    if other_value is None:
        return value
    names = element.keys()
    return value if names.index(name) < names.index(other) else other_value


# --- crawler.extract_trafilatura's own passes over the raw tree ---------------------------------

_ADDED_POSTS = "mvp-post-add-(?:box|wrap)"
_SCROLL = f"{_ADDED_POSTS}|infinite-?scroll"
_scroll, _added_posts = _Test(_SCROLL), _Test(_ADDED_POSTS)


@_registers(_SELECT, f"""
        .//*[self::div or self::section or self::aside][
        re:test(@id, '{_SCROLL}') or
        re:test(@class, '{_SCROLL}')][
        not(.//h1) or re:test(@id, '{_ADDED_POSTS}') or re:test(@class, '{_ADDED_POSTS}')]
        """)
def _infinite_scroll(tree: _Element) -> list[_Element]:
    found = []
    for element in tree.iterdescendants("div", "section", "aside"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        if (_scroll(id_) or _scroll(class_)) and (
            next(element.iterdescendants("h1"), None) is None or _added_posts(id_) or _added_posts(class_)
        ):
            found.append(element)
    return found


@_registers(_SELECT, ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]")
def _elementor_share(tree: _Element) -> list[_Element]:
    return [element for element in tree.iterdescendants("div", "section", "aside")
            if "elementor-share-buttons" in element.get("class", "")]


_COMMENTS_ID = "[Cc]omment(?!ary)|comol"
_COMMENTS_CLASS = "^[Cc]omment(?!ary)|(?:article|post)-comments"
_comments_id_or_thread = _Test(f"^(?:{_COMMENTS_ID}|disqus_thread|dsq-comments)")
_comments_id, _comments_class = _Test(f"^(?:{_COMMENTS_ID})"), _Test(_COMMENTS_CLASS)


@_registers(_SELECT, f"""
        .//*[self::div or self::list or self::section or self::details or self::ol or self::ul][
        re:test(@id, '^(?:{_COMMENTS_ID}|disqus_thread|dsq-comments)') or
        re:test(@class, '{_COMMENTS_CLASS}')][
        not(self::ol or self::ul) or re:test(@id, '^(?:{_COMMENTS_ID})') or re:test(@class, '{_COMMENTS_CLASS}')]
        """)
def _comments_and_lists(tree: _Element) -> list[_Element]:
    found = []
    for element in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        id_, class_ = element.get("id", ""), element.get("class", "")
        # the class test is the same in both predicates
        if _comments_class(class_) or (
            _comments_id_or_thread(id_) and (element.tag not in ("ol", "ul") or _comments_id(id_))
        ):
            found.append(element)
    return found


# --- trafilatura's prune_unwanted_sections --------------------------------------------------------

_DISCARD_BOTH = "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author"
_DISCARD_ID = (
    f"{_DISCARD_BOTH}|^(?:jp-|dpsp-content)|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|"
    "message-container|premium|^ad-"
)
_DISCARD_CLASS = (
    f"{_DISCARD_BOTH}|^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|"
    "(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|"
    "sociable|embedded|embed|tag-list|consent|modal-content|permission|elated|next-|-stories|most-popular|"
    "more-on|meta|rating|attachment|timestamp|user-info|user-profile|-icon|article-infos|message-container|"
    "slide|viewport|overlay|options|expand|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline"
)
_cookie, _discard_id, _discard_class = _Test("cookie"), _Test(_DISCARD_ID), _Test(_DISCARD_CLASS)
_BLOCKS = ("div", "item", "list", "p", "section", "span")


@_registers(_SELECT, f"""
        .//*[self::div or self::item or self::list or self::p or self::section or self::span][
        @data-lp-replacement-content or
        contains(translate(@role, 'N', 'n'), 'nav') or
        contains(@data-component, 'MostPopularStories') or
        re:test(@id|@class, 'cookie') or
        re:test(@id, '{_DISCARD_ID}') or
        re:test(@class, '{_DISCARD_CLASS}')]
        """)
def _overall_discard(tree: _Element) -> list[_Element]:
    found = []
    for element in tree.iterdescendants(*_BLOCKS):
        get = element.get
        if (
            _discard_class(get("class", ""))
            or _discard_id(get("id", ""))
            or _cookie(_first_of(element, "id", "class"))
            or "nav" in get("role", "").replace("N", "n")
            or "MostPopularStories" in get("data-component", "")
            or get("data-lp-replacement-content") is not None
        ):
            found.append(element)
    return found


_HIDDEN_CLASS = (
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|"
    "noprint|notloaded"
)
_hidden, _hidden_id, _hidden_class = _Test("hidden"), _Test("reader-comments|akismet"), _Test(_HIDDEN_CLASS)


@_registers(_SELECT, f"""
        .//*[@class='comments-title' or
        starts-with(@id|@class, 'reply-') or
        re:test(@id|@style, 'hidden') or
        contains(@style, 'display:none') or contains(@style, 'display: none') or
        re:test(@id, 'reader-comments|akismet') or
        re:test(@class, '{_HIDDEN_CLASS}') or @aria-hidden='true']
        """)
def _hidden_or_replies(tree: _Element) -> list[_Element]:
    found = []
    # every element: the expression names no tag (`Element` selects elements, not comments)
    for element in tree.iterdescendants(Element):
        get = element.get
        class_, id_, style = get("class", ""), get("id", ""), get("style", "")
        if (
            _hidden_class(class_)  # 'comments-title' is one of its alternatives
            or _hidden_id(id_)
            or "display:none" in style
            or "display: none" in style
            or get("aria-hidden") == "true"
            or ((id_ or class_) and _first_of(element, "id", "class").startswith("reply-"))
            or ((id_ or style) and _hidden(_first_of(element, "id", "style")))
        ):
            found.append(element)
    return found


@_registers(_SELECT, """
    .//*[self::div or self::item or self::list or self::p or self::section or self::span][
    contains(translate(@id, 'T', 't'), 'teaser') or contains(translate(@class, 'T', 't'), 'teaser')]
    """)
def _teasers(tree: _Element) -> list[_Element]:
    return [element for element in tree.iterdescendants(*_BLOCKS)
            if "teaser" in element.get("id", "").replace("T", "t")
            or "teaser" in element.get("class", "").replace("T", "t")]


@_registers(_SELECT, """
    .//*[self::div or self::item or self::list or self::p or self::section or self::span][
    contains(@id, 'caption') or contains(@class, 'caption')]
    """)
def _captions(tree: _Element) -> list[_Element]:
    return [element for element in tree.iterdescendants(*_BLOCKS)
            if "caption" in element.get("id", "") or "caption" in element.get("class", "")]


# --- trafilatura's BODY_XPATH: `_extract` takes the first node of each -----------------------------
# BODY_XPATH[0] is `.//*[...][1]` (the first match among each element's children): its first node in
# document order is the first match of all, as for the `(...)[1]` forms.

_CONTAINERS = ("article", "div", "main", "section")
_ARTICLE_ID = "(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text"
_ARTICLE_CLASS = (
    "post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|article-?text|"
    "articleText|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|articleBody|"
    "ArticleContent|body-text|article__container"
)
_article_id, _article_class = _Test(_ARTICLE_ID), _Test(_ARTICLE_CLASS)


@_registers(_FIRST, f"""
        .//*[self::article or self::div or self::main or self::section][
        @class='post' or @class='entry' or
        @itemprop='articleBody' or @id='articleContent' or
        re:test(@id, '{_ARTICLE_ID}') or
        re:test(@class, '{_ARTICLE_CLASS}')
        ][1]
        """)
def _article_body(tree: _Element) -> _Element | None:
    for element in tree.iterdescendants(*_CONTAINERS):
        get = element.get
        class_, id_ = get("class", ""), get("id", "")
        if (class_ in ("post", "entry") or id_ == "articleContent" or get("itemprop") == "articleBody"
                or _article_id(id_) or _article_class(class_)):
            return element
    return None


@_registers(_FIRST, "(.//article)[1]")
def _first_article(tree: _Element) -> _Element | None:
    return next(tree.iterdescendants("article"), None)


_STORY_CLASS = (
    "^article |post-bodycopy|story-?content|(?:theme|blog|section|single)-content|single-post|main-column|"
    "wpb_text_column|story-body|field-body"
)
_story_id, _full_text, _story_class = _Test("^primary|story-body"), _Test("fulltext", "i"), _Test(_STORY_CLASS)


@_registers(_FIRST, f"""
        (.//*[self::article or self::div or self::main or self::section][
        @role='article' or
        @id='article' or @id='story' or
        @class='postarea' or @class='art-postcontent' or @class='text' or @class='cell' or @class='story' or
        re:test(@id, '^primary|story-body') or
        re:test(@class, 'fulltext', 'i') or
        re:test(@class, '{_STORY_CLASS}')
        ])[1]
        """)
def _story(tree: _Element) -> _Element | None:
    for element in tree.iterdescendants(*_CONTAINERS):
        get = element.get
        class_, id_ = get("class", ""), get("id", "")
        if (class_ in ("postarea", "art-postcontent", "text", "cell", "story") or id_ in ("article", "story")
                or get("role") == "article" or _story_id(id_) or _full_text(class_) or _story_class(class_)):
            return element
    return None


_main_id, _main_class = _Test("content-main|content-body|contentBody"), _Test("content[-_]main|content(?:-|__)body")


@_registers(_FIRST, """
        (.//*[self::article or self::div or self::main or self::section][
        @id='content' or @class='content' or
        re:test(@id, 'content-main|content-body|contentBody') or
        re:test(@class, 'content[-_]main|content(?:-|__)body') or
        contains(translate(@id, 'CM','cm'), 'main-content') or contains(translate(@class, 'CM','cm'), 'main-content') or
        contains(translate(@class, 'CP','cp'), 'page-content')
        ])[1]
        """)
def _main_content(tree: _Element) -> _Element | None:
    for element in tree.iterdescendants(*_CONTAINERS):
        get = element.get
        class_, id_ = get("class", ""), get("id", "")
        if (id_ == "content" or class_ == "content" or _main_id(id_) or _main_class(class_)
                or "main-content" in id_.replace("C", "c").replace("M", "m")
                or "main-content" in class_.replace("C", "c").replace("M", "m")
                or "page-content" in class_.replace("C", "c").replace("P", "p")):
            return element
    return None


@_registers(_FIRST, """
        (.//*[self::article or self::div or self::section][
        starts-with(@class, 'main') or starts-with(@id, 'main') or starts-with(@role, 'main')])[1]|(.//main)[1]
        """)
def _main(tree: _Element) -> _Element | None:
    # the union of two first nodes, both below `tree`: its first is whichever comes first
    for element in tree.iterdescendants(*_CONTAINERS):
        get = element.get
        if (element.tag == "main" or get("class", "").startswith("main") or get("id", "").startswith("main")
                or get("role", "").startswith("main")):
            return element
    return None
