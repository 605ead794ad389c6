"""A news page's title, body text, publish time and author: the generic extractor.

The news and forum spiders call `extract_article` on every article page after `decode_html`; the
result becomes a `yuqing.records.Post`. Each field is taken from the most trustworthy source that
has it:

- per-site `selectors` from settings.yaml (title, body, time, author), when configured and matching;
- `<meta>` / JSON-LD publication tags (`crawler.extract_meta`);
- the headline and the byline around it (`crawler.extract_byline`);
- the body from our block-density scorer or trafilatura, whichever covers the story better
  (`crawler.extract_body`), cleaned of bylines, share bars and copyright lines;
- a date in the URL (/2024-05/01/, /20240501/) as the last resort for the publish time.

`published_at` is None when no date is found: nothing is invented (the crawler orders such posts by
fetch time).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from crawler.article import Article
from crawler.dates import parse_date
from crawler.extract_blocks import Block, block_views, blocks, fold_page, squash
from crawler.extract_body import (
    choose_body,
    clean_lines,
    density_body,
    density_doubt,
    link_texts,
    without_link_lines,
)
from crawler.extract_byline import (
    EDITOR_PATTERNS,
    EXPLICIT_PATTERNS,
    author_in,
    byline_window,
    clean_name,
    credit_lines,
    find_title,
    page_date,
    site_parts,
)
from crawler.extract_meta import read_meta
from crawler.extract_select import select, select_text
from crawler.extract_trafilatura import trafilatura_text

# trafilatura logs a document it declines to read (a one-element fragment, an empty tree) at ERROR
# and WARNING. Here it is only a second opinion withheld, and the density body stands: not an
# error of the crawl, and a job log that says ERROR for it on every such page hides real ones.
# Its exceptions still reach us.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_URL_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})(?:[-/_]?)(?P<m>0[1-9]|1[0-2])(?:[-/_]?)(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"
)


# A byline time this close to the declared one is the same publication, told more plainly.
_SAME_STORY = timedelta(hours=24)


def extract_article(
    html: str,
    url: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    selectors: Mapping[str, str] | None = None,
    utf8: bytes | None = None,
) -> Article:
    """Extract one article page (already decoded); times come back aware, in the page's offset
    when it states one, else in `tz`; relative dates resolve against `now` (the fetch time).

    `utf8` may be the page's bytes when `html` is exactly their UTF-8 decoding: the page is then
    parsed from them, which lxml does faster than from a str (it converts a str's code units)."""
    root = _parse(html, utf8)
    if root is None:
        return Article("", "", None, None)
    selectors = selectors or {}
    meta = read_meta(root, html)
    page_title = meta.page_title

    # Bylines are read with page furniture kept: share bars and "info" boxes hold dates and authors;
    # the body is scored without it. One walk of the tree gives both.
    page_blocks, story_blocks = block_views(root)
    fold_page([b.text for b in page_blocks])
    title, title_index = find_title(page_blocks, page_title, meta.titles)
    if selectors.get("title"):
        title = select_text(root, selectors["title"]) or title
    window_lines = [b.text for b in byline_window(page_blocks, title_index)]

    text_lines = _body_lines(root, story_blocks, html, url, title, selectors)
    body_index = _find_line(page_blocks, text_lines[0]) if text_lines else None

    published_at = _published_at(root, meta.dates, page_blocks, title_index, body_index, url, now, tz, selectors)

    # <meta name="author"> often names the site ("网易" on "…_网易新闻"): that is no author.
    sites = [*meta.site_names, *site_parts(page_title)]
    meta_authors = [a.strip() for a in meta.authors if a.strip() and not any(a.strip() in s for s in sites)]
    author = _author(root, selectors, window_lines, text_lines, page_blocks, meta_authors)
    return Article(title=title.strip(), text="\n".join(text_lines), published_at=published_at, author=author)


def _html_parser(**options: str) -> lxml.html.HTMLParser:
    parser = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True,
                                  **options)
    # Every element a plain HtmlElement, chosen in C: lxml.html's default lookup is a Python method
    # run for each element proxy (about a tenth of extraction time), there to give <form>/<input>/
    # <label> their form-handling classes, which nothing here uses.
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    ))
    return parser


# The one parse of the page: our readers and trafilatura share this tree (trafilatura copies it before
# it prunes), so the parser drops what trafilatura's own would (comments, processing instructions).
_PARSER = _html_parser()
# The same parser for a page's UTF-8 bytes: told their encoding, it reads no declaration.
_UTF8_PARSER = _html_parser(encoding="utf-8")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_XML_DECLARATION_BYTES = re.compile(rb"^\s*<\?xml[^>]*\?>")
# A saved page, not a fragment: it has an <html>, <head> or <body> tag, wherever it starts (many
# saved pages open with a comment holding their URL, or with <head> and no <html>).
_DOCUMENT_TAG = re.compile(r"<(?:html|head|body)[\s>/]", re.IGNORECASE)


def _parse(html: str, utf8: bytes | None = None) -> HtmlElement | None:
    if not html or html.isspace():
        return None
    try:
        # An XML declaration with an encoding makes lxml refuse a str; it is irrelevant after decoding.
        if utf8 is not None:
            return lxml.html.document_fromstring(_XML_DECLARATION_BYTES.sub(b"", utf8), parser=_UTF8_PARSER)
        return lxml.html.document_fromstring(_XML_DECLARATION.sub("", html), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


def _body_lines(root: HtmlElement, story_blocks: list[Block], html: str, url: str, title: str,
                selectors: Mapping[str, str]) -> list[str]:
    if selectors.get("body"):
        chosen = [hit for hit in select(root, selectors["body"]) if isinstance(hit, HtmlElement)]
        lines = [b.text for el in chosen for b in blocks(el)]
        cleaned = clean_lines(lines, title=title)
        if cleaned:
            return cleaned
    found = density_body(story_blocks)
    density = clean_lines((b.text for b in found.blocks), title=title)
    if density_doubt(found, density) is None:
        # One story box, or one run of paragraphs, mostly prose: trafilatura would only cost time.
        return density
    # In doubt, trafilatura reads the container our density scorer chose, not the page: its part in
    # `choose_body` is a second opinion on where the story starts and ends inside that container
    # and on its paragraphs; the rest of the page only costs time (its pruning pass over a whole
    # page is most of its cost) and offers it sidebars to pick. Measured on the dev gold pages:
    # body F1 the same either way, at two thirds of its time. A saved fragment (a `<div>`, a
    # `<text>` dump) it parses itself, because it judges those by its own parse (it drops
    # one-element fragments, which are mostly navigation) and our parser wraps them in <html><body>.
    if _DOCUMENT_TAG.search(html) is not None:
        extracted = trafilatura_text(_story_document(root, found.container), url or None)
    else:
        extracted = trafilatura.extract(html, url=url or None, include_comments=False, include_tables=True,
                                        fast=True, output_format="txt", deduplicate=False) or ""
    theirs = without_link_lines(clean_lines(extracted.splitlines(), title=title), link_texts(root))
    return choose_body({"density": density, "trafilatura": theirs})


def _story_document(root: HtmlElement, container: HtmlElement | None) -> HtmlElement:
    """A document holding only a copy of `container` (trafilatura prunes what it is given), or a
    copy of the whole page when density found no container or chose the whole body."""
    if container is None or container.tag in ("html", "body"):
        return copy.copy(root)
    # Made by our parser, so its elements keep the cheap class lookup (see _PARSER).
    document = _PARSER.makeelement("html")
    body = etree.SubElement(document, "body")
    story = copy.deepcopy(container)
    story.tail = None  # the text after the container is not in it
    body.append(story)
    return document


def _find_line(page_blocks: list[Block], line: str) -> int | None:
    key = squash(line)[:15]
    for i, block in enumerate(page_blocks):
        if key and key in squash(block.text):
            return i
    return None


def _published_at(
    root: HtmlElement,
    meta_dates: tuple[str, ...],
    page_blocks: list[Block],
    title_index: int | None,
    body_index: int | None,
    url: str,
    now: datetime,
    tz: ZoneInfo,
    selectors: Mapping[str, str],
) -> datetime | None:
    """Selector, then <meta> (made precise by a visible time on the same day), then the byline
    around the headline, then the URL."""
    if selectors.get("time"):
        raw = select_text(root, selectors["time"])
        when = parse_date(raw, now=now, tz=tz) if raw else None
        if when is not None:
            return when
    declared = next((w for w in (parse_date(raw, now=now, tz=tz) for raw in meta_dates) if w), None)
    found = page_date(page_blocks, title_index, body_index, now=now, tz=tz)
    visible = found.when if found else None
    if declared is None:
        return visible or _url_date(url, now, tz)
    if found is None or visible is None:
        return declared
    if _is_midnight(declared) and visible.date() == declared.astimezone(tz).date():
        return visible  # a declared day, and the visible byline gives its time
    if (found.has_time and not found.relative and declared.utcoffset() == visible.utcoffset()
            and abs(declared - visible) <= _SAME_STORY):
        # Both in the configured zone and hours apart: <meta> is often the last update or the
        # syndication time, the byline under the headline is the publication time readers see.
        return visible
    return declared


def _is_midnight(when: datetime) -> bool:
    return (when.hour, when.minute, when.second) == (0, 0, 0)


def _url_date(url: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    m = _URL_DATE.search(url or "")
    if not m:
        return None
    return parse_date(f"{m['y']}-{m['m']}-{m['d']}", now=now, tz=tz)


def _author(root: HtmlElement, selectors: Mapping[str, str], window_lines: list[str], text_lines: list[str],
            page_blocks: list[Block], meta_authors: list[str]) -> str | None:
    """Selector; credits around the headline and at the story's ends; explicit credits anywhere
    ("作者：", "本帖由…于"); reporters in short lines; <meta name="author">; last, the editor."""
    if selectors.get("author"):
        found = select_text(root, selectors["author"])
        if found:
            return found
    near = [*window_lines, *text_lines[:2], *_raw_tail(page_blocks, text_lines)]
    # The page's lines are read up to three times below: only the few that hold a credit word can
    # give a name, and they are picked once.
    page_lines = credit_lines(b.text for b in page_blocks)
    credited = set(page_lines)
    # "记者" in a long paragraph is usually prose ("记者了解到"); in a short line, a credit. Link
    # lists (sidebars, related stories) credit other stories' authors.
    short_lines = [b.text for b in page_blocks if len(b.text) <= 50 and b.link_density < 0.5 and b.text in credited]
    return (
        author_in(near)
        or author_in(page_lines, EXPLICIT_PATTERNS)
        or author_in(short_lines)
        # CMSs often fill <meta name="author"> with the editor or the site; visible credits first.
        or next((n for n in map(clean_name, meta_authors) if n), None)
        or author_in([*near, *page_lines], EDITOR_PATTERNS)
    )


def _raw_tail(page_blocks: list[Block], text_lines: list[str]) -> list[str]:
    """The last lines of the story plus the credit lines right after it (stripped from the body)."""
    if not text_lines:
        return []
    last = text_lines[-1]
    for i, block in enumerate(page_blocks):
        if last[:20] and last[:20] in block.text:
            return [b.text for b in page_blocks[max(0, i - 1) : i + 4]]
    return text_lines[-2:]
