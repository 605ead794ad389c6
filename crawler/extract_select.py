"""Per-site selectors from settings.yaml: CSS or XPath expressions for title, body, time, author.

Used by `crawler.extract.extract_article` (a configured selector that matches wins over every
generic guess; one that matches nothing falls back to the guess, so a site redesign degrades
instead of emptying posts) and by settings validation through `selector_problems`, so a typo is
reported at load with its key rather than on the first crawl.

An expression starting with "/" or "(" is XPath, anything else CSS (cssselect, as Scrapy uses).
"""

from __future__ import annotations

from collections.abc import Mapping

from cssselect import GenericTranslator, SelectorError
from lxml import etree
from lxml.html import HtmlElement

KNOWN_KEYS = frozenset({"title", "body", "time", "author"})


def selector_problems(selectors: Mapping[str, str]) -> list[str]:
    """One message per selector that is not valid CSS or XPath (unknown keys are the caller's)."""
    problems = []
    for key, expr in selectors.items():
        if key not in KNOWN_KEYS:
            continue
        try:
            _compile(expr)
        except (SelectorError, etree.XPathSyntaxError) as exc:
            problems.append(f"selectors.{key}: {expr!r} is neither valid CSS nor XPath ({exc})")
    return problems


def select(root: HtmlElement, expr: str) -> list[HtmlElement | str]:
    """Elements (or attribute/text strings, for XPath) matched by `expr`."""
    result = _compile(expr)(root)
    if not isinstance(result, list):
        return [str(result)] if result else []
    return [r if isinstance(r, HtmlElement) else str(r) for r in result]


def _compile(expr: str) -> etree.XPath:
    expr = expr.strip()
    if expr.startswith(("/", "(", "./")):
        return etree.XPath(expr)
    return etree.XPath(GenericTranslator().css_to_xpath(expr))


def select_text(root: HtmlElement, expr: str) -> str | None:
    """The text of the first match; for `<time>`/`<meta>` their datetime/content attribute."""
    for hit in select(root, expr):
        if isinstance(hit, str):
            text = hit.strip()
        else:
            text = (hit.get("datetime") or hit.get("content") or hit.text_content()).strip()
        if text:
            return " ".join(text.split())
    return None
