"""What a page says about itself in machine-readable form: `<meta>` tags, JSON-LD, `<time>`, and
its `<title>`.

Used by `crawler.extract.extract_article` before it looks at visible text: a publication time or
author declared here is more reliable than one guessed from the page body, when present. Values are
returned raw (strings); dates are parsed by `crawler.dates`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml.html import HtmlElement

# Names seen on Chinese news sites and in the common standards, most specific first.
_DATE_KEYS = (
    "article:published_time", "og:article:published_time", "og:published_time", "og:release_date",
    "published_time", "publishdate", "publish_date", "publishtime", "publish-date", "pubdate",
    "pubtime", "datepublished", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.created",
    "sailthru.date", "article.published", "bytedance:published_time", "weibo:article:create_at",
    "firstpublishedtime", "date",
)
_AUTHOR_KEYS = ("article:author", "og:article:author", "author", "dc.creator", "byl", "sailthru.author")
_SPACES = re.compile(r"\s+")
_TITLE_KEYS = ("og:title", "twitter:title", "title", "headline", "articletitle", "contenttitle")


@dataclass(frozen=True)
class PageMeta:
    """Raw metadata values, in order of trust, and the text of the page's <title>."""

    titles: tuple[str, ...]
    dates: tuple[str, ...]
    authors: tuple[str, ...]
    site_names: tuple[str, ...]
    page_title: str = ""


def read_meta(root: HtmlElement, source: str | None = None) -> PageMeta:
    """The metadata of the parsed page `root`. With `source`, the page's HTML, the elements that
    the text does not contain are not looked for (most pages have no JSON-LD or
    itemprop="datePublished")."""
    # One walk of the tree (in C) for every element read here: each lxml walk costs about as much
    # whichever elements it picks, and there would otherwise be one per kind of element.
    # <time> elements are few and cost the walk nothing; every page has <script>s, read only for
    # JSON-LD.
    with_ld = source is None or "ld+json" in source
    wanted = ["meta", "title", "time"] + ["script"] * with_ld
    tags: dict[str, list[str]] = {}
    title: HtmlElement | None = None
    scripts: list[HtmlElement] = []
    times: list[HtmlElement] = []
    for el in root.iter(*wanted):
        if el.tag == "meta":
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            value = (el.get("content") or "").strip()
            if key and value:
                tags.setdefault(key, []).append(value)
        elif el.tag == "title":
            title = el if title is None else title
        elif el.tag == "script":
            if el.get("type") == "application/ld+json":
                scripts.append(el)
        else:
            times.append(el)
    ld = list(_json_ld(scripts))

    dates = [v for k in _DATE_KEYS for v in tags.get(k, [])]
    dates += [str(d[k]) for d in ld for k in ("datePublished", "dateCreated") if d.get(k)]
    for el in times:
        if el.get("datetime") and (el.get("itemprop") or "").lower() in ("", "datepublished", "pubdate"):
            dates.append(el.get("datetime", ""))
    if source is None or "datePublished" in source:
        for el in root.xpath("//*[@itemprop='datePublished' and not(self::meta)]"):
            dates.append(el.get("content") or el.text_content())

    authors = [v for k in _AUTHOR_KEYS for v in tags.get(k, []) if not v.startswith("http")]
    for d in ld:
        authors.extend(_names(d.get("author")))

    titles = [v for k in _TITLE_KEYS for v in tags.get(k, [])]
    titles += [str(d["headline"]) for d in ld if d.get("headline")]
    sites = [v for k in ("og:site_name", "application-name", "site_name") for v in tags.get(k, [])]
    page_title = _SPACES.sub(" ", title.text_content()).strip() if title is not None else ""
    return PageMeta(tuple(titles), tuple(d.strip() for d in dates if d.strip()), tuple(authors), tuple(sites),
                    page_title)


def _json_ld(scripts: list[HtmlElement]) -> Iterator[dict[str, Any]]:
    for script in scripts:
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(v for v in item.get("@graph", []) if isinstance(v, dict))
                yield item


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return [value["name"]]
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []
