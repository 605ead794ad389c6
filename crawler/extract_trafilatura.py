"""trafilatura's reading of the density container: the second opinion `crawler.extract` asks for
when the density body is in doubt, as text lines for `crawler.extract_body.choose_body`.

The same passes, in the same order, as `trafilatura.extract(fast=True, include_comments=False,
include_tables=True, output_format="txt")`, called through trafilatura's own functions, minus what
costs time here and gives `choose_body` nothing:

- no copies of a tree we already own (`extract` copies its input once to load it, once to clean
  it and once more as a backup that only its slow mode reads): one copy, which its baseline rescue
  reads uncleaned;
- no recall escalation: on a short result covering under a fifth of the page's text, `extract`
  reads the page a second time in recall mode. Here the "page" is the container that our density
  scorer chose and whose whole text is the other candidate, so that second reading is already on
  the table. Measured when trafilatura was still asked on 59 documents of the corpus and forum
  pages: the escalation cost a third of its time and changed its text on 1 of them (a forum page
  whose body F1 it did not change);
- its XPath expressions evaluated by `crawler.extract_xpath` (the same node sets, a fraction of
  the time). For that, `extract_content` and the three functions under it (`_extract`,
  `prune_unwanted_sections`, `recover_wild_text`) are replicated below, one level down, for our
  OPTIONS only, calling trafilatura's helpers for everything else. They are used only with the
  trafilatura they were copied from (`_REPLICA`); with another, trafilatura's own run. They are
  adapted from trafilatura 2.3.1's `trafilatura/main_extractor.py` and `htmlprocessing.py`
  (Copyright Adrien Barbaresi and contributors, Apache License 2.0, as this project): changed to
  evaluate those expressions through `crawler.extract_xpath`, with the branches for other options
  left out.

On every other document the text is the same as `extract`'s (tests/crawler/test_extract_trafilatura.py
checks that on fixture pages, and pins the source of the replicated functions, so an upgrade of
trafilatura that changes its passes shows there).
"""

from __future__ import annotations

import re
import unicodedata
from copy import copy, deepcopy

import trafilatura
from lxml.etree import Element, XPath, _Element, strip_elements, strip_tags
from lxml.html import HtmlElement
from trafilatura.baseline import baseline
from trafilatura.htmlprocessing import (
    convert_tags,
    delete_by_link_density,
    link_density_test_tables,
    process_node,
    tree_cleaning,
)
from trafilatura.main_extractor import extract_content, handle_textelem
from trafilatura.settings import (
    DEDUPE_SCAN_CAP,
    INLINE_FORMATTABLE,
    MIN_DUPLICATE_LENGTH,
    TAG_CATALOG,
    Extractor,
)
from trafilatura.utils import SPACING_PROTECTED, text_chars_test, trim
from trafilatura.xml import delete_element, xmltotxt
from trafilatura.xpaths import (
    BODY_XPATH,
    DISCARD_IMAGE_ELEMENTS,
    OVERALL_DISCARD_XPATH,
    RAW_TREE_PRUNE_XPATH,
    REMOVE_COMMENTS_AND_LISTS_XPATH,
    TEASER_DISCARD_XPATH,
)

from crawler import extract_xpath

OPTIONS = Extractor(output_format="txt", fast=True, comments=False, tables=True, dedup=False)

# The replicas below are trafilatura 2.3.1's functions for these options (focus "balanced", fast,
# tables, no images, no links): the branches for other options are left out.
_REPLICA = (trafilatura.__version__ == extract_xpath.TRAFILATURA_VERSION and OPTIONS.focus == "balanced"
            and OPTIONS.fast and OPTIONS.tables and not OPTIONS.images and not OPTIONS.links)
try:  # module constants and a private helper of trafilatura's, gone in another version perhaps
    from trafilatura.main_extractor import NOT_AT_THE_END, REBUILT_BLOCKS, _elem_text
except ImportError:  # pragma: no cover - only with another trafilatura
    _REPLICA = False

# trafilatura keeps comment containers on a thread-forum page (schema.org DiscussionForumPosting),
# where the comments are the posts.
_FORUM_POSTING = re.compile(
    r'"@type"\s*:\s*"DiscussionForumPosting"|"@type"\s*:\s*\[[^\]]*"DiscussionForumPosting"'
)


def trafilatura_text(document: HtmlElement, url: str | None) -> str:
    """trafilatura's main text of `document` ("" when it finds none). `document` is consumed:
    pass a tree nothing else reads afterwards."""
    forum = any(script.text and _FORUM_POSTING.search(script.text)
                for script in document.iterfind('.//script[@type="application/ld+json"]'))
    tree = _prune(document, RAW_TREE_PRUNE_XPATH)
    if not forum:
        tree = _prune(tree, REMOVE_COMMENTS_AND_LISTS_XPATH)
    cleaned = convert_tags(tree_cleaning(copy(tree), OPTIONS), OPTIONS, url)
    body, text = _extract_content(cleaned) if _REPLICA else extract_content(cleaned, OPTIONS)
    if len(text) < OPTIONS.min_extracted_size:
        # trafilatura's rescue: a plain reading of the uncleaned tree, when it gives more text.
        rescued, rescued_text, rescued_len = baseline(tree)
        if rescued_len > len(text):
            body, text = rescued, rescued_text
    if len(text) < OPTIONS.min_output_size:
        return ""
    return unicodedata.normalize("NFC", xmltotxt(body, OPTIONS.formatting)).strip()


def _prune(tree: HtmlElement, expressions: list[XPath]) -> HtmlElement:
    """trafilatura's `prune_unwanted_nodes(tree, expressions)`."""
    for expression in expressions:
        for subtree in extract_xpath.select(expression, tree):
            delete_element(subtree)  # the tail text is preserved
    return tree


def _prune_guarded(tree: HtmlElement, expressions: list[XPath]) -> HtmlElement:
    """trafilatura's `prune_unwanted_nodes(tree, expressions, with_backup=True)`: nothing is pruned
    when it would remove too much of the text."""
    matches = dict.fromkeys(elem for expression in expressions for elem in extract_xpath.select(expression, tree))
    outer = [elem for elem in matches if not any(a in matches for a in elem.iterancestors())]
    old_len = len(tree.text_content())
    if old_len - sum(len(elem.text_content()) for elem in outer) > old_len / 7:
        for elem in outer:
            delete_element(elem)
    return tree


# --- trafilatura.main_extractor's passes, with the expressions of `crawler.extract_xpath` ----------

def _extract_content(cleaned_tree: HtmlElement) -> tuple[_Element, str]:
    """trafilatura's `extract_content(cleaned_tree, OPTIONS)`."""
    backup_tree = deepcopy(cleaned_tree)
    # source order before the main pass moves elements, the backup keeps it
    order = list(cleaned_tree.iter())
    result_body, temp_text, potential_tags = _extract(cleaned_tree)
    if len(result_body) == 0 or len(temp_text) < OPTIONS.min_extracted_size:
        # copies of what the main pass consumed are not recovered again
        consumed = {twin for elem, twin in zip(order, backup_tree.iter(), strict=True) if elem.tag == "done"}
        result_body = _recover_wild_text(backup_tree, result_body, potential_tags, consumed)
        temp_text = " ".join(result_body.itertext()).strip()
    # drop substantial elements repeating the previous one
    previous = None
    for el in list(result_body):
        current = _elem_text(el)
        if current and current == previous and len(current) > MIN_DUPLICATE_LENGTH:
            delete_element(el, keep_tail=False)
        else:
            previous = current
    strip_elements(result_body, "done")
    strip_tags(result_body, "div")
    # an <lb> left carrying only the indentation of the stripped divs, outside code/pre
    for linebreak in result_body.iter("lb"):
        if (
            linebreak.tail
            and not text_chars_test(linebreak.tail)
            and not any(anc.tag in SPACING_PROTECTED for anc in linebreak.iterancestors())
        ):
            linebreak.tail = None
    return result_body, temp_text


def _extract(tree: HtmlElement) -> tuple[_Element, str, set[str]]:
    """trafilatura's `_extract(tree, OPTIONS)`: the first BODY_XPATH frame that yields content."""
    potential_tags = set(TAG_CATALOG) | {"table", "td", "th", "tr"}
    result_body = Element("body")
    for expr in BODY_XPATH:
        subtree = extract_xpath.first(expr, tree)
        if subtree is None:
            continue
        subtree = _prune_sections(subtree, potential_tags)
        if len(subtree) == 0:
            continue
        # no paragraphs containing text, or not enough
        ptest = subtree.xpath("//p//text()")
        if not ptest or len("".join(ptest)) < OPTIONS.min_extracted_size * 3:
            potential_tags.add("div")
        subelems = subtree.xpath(".//*")
        # a single text run (only lb or inline elements): process the frame itself
        tags = {e.tag for e in subelems}
        if tags == {"lb"} or (subtree.tag == "div" and "div" in potential_tags and tags <= INLINE_FORMATTABLE | {"lb"}):
            subelems = [subtree]
        # the frame's own text before its first child, kept if the frame is accepted
        lead, start = None, len(result_body)
        if subelems != [subtree] and text_chars_test(subtree.text):
            lead = Element("p")
            lead.text = subtree.text
            lead = process_node(lead, OPTIONS)
        for elem in subelems:
            # already moved into result_body with an element emitted whole
            if elem.getroottree().getroot() is result_body:
                continue
            # handlers may rename the element to "done", so read these first
            tag, tail = elem.tag, elem.tail
            processed_elem = handle_textelem(elem, potential_tags, OPTIONS)
            if processed_elem is not None:
                result_body.append(processed_elem)
                # a copy leaves its source behind for a later, wider subtree
                if elem.getroottree().getroot() is not result_body:
                    elem.tag = "done"
            # text right after a rebuilt block is a paragraph of its own
            if tag in REBUILT_BLOCKS and text_chars_test(tail) and (processed_elem is None or processed_elem.tail is None):
                tail_elem = Element("p")
                tail_elem.text = tail
                if process_node(tail_elem, OPTIONS) is not None:
                    result_body.append(tail_elem)
        while len(result_body) > 0 and (result_body[-1].tag in NOT_AT_THE_END):
            delete_element(result_body[-1], keep_tail=False)
        # exit once there is real content, not just a lone image
        if sum(e.tag != "graphic" for e in result_body) > 1:
            if lead is not None:
                result_body.insert(start, lead)
            break
    temp_text = " ".join(result_body.itertext()).strip()
    return result_body, temp_text, potential_tags


def _prune_sections(tree: HtmlElement, potential_tags: set[str], keep_teasers: bool = False) -> HtmlElement:
    """trafilatura's `prune_unwanted_sections(tree, potential_tags, OPTIONS, keep_teasers)`."""
    tree = _prune_guarded(tree, OVERALL_DISCARD_XPATH)
    if "graphic" not in potential_tags:
        tree = _prune(tree, DISCARD_IMAGE_ELEMENTS)
    if not keep_teasers:
        tree = _prune(tree, TEASER_DISCARD_XPATH)
    for _ in range(2):
        tree = delete_by_link_density(tree, "div", backtracking=True, favor_precision=False)
        tree = delete_by_link_density(tree, "list", backtracking=False, favor_precision=False)
        tree = delete_by_link_density(tree, "p", backtracking=False, favor_precision=False)
    if "table" in potential_tags:
        # collected before deleting, which could make tree.iter() skip a table
        boilerplate_tables = [elem for elem in tree.iter("table") if link_density_test_tables(elem) is True]
        for elem in boilerplate_tables:
            delete_element(elem, keep_tail=False)
    strip_tags(tree, "span", *(() if "ref" in potential_tags else ("ref",)))
    return tree


def _recover_wild_text(tree: HtmlElement, result_body: _Element, potential_tags: set[str],
                       consumed: set[_Element]) -> _Element:
    """trafilatura's `recover_wild_text(tree, result_body, OPTIONS, potential_tags, consumed)`: the
    text elements of the whole (pruned) tree that the main pass did not take."""
    potential_tags = set(potential_tags)
    # fast mode keeps teaser-class blocks on this last-resort path
    search_tree = _prune_sections(tree, potential_tags, keep_teasers=True)
    subelems = search_tree.xpath(".//code|.//p|.//quote|.//table|.//div[contains(@class, 'w3-code')]")
    # dedup against the pre-main-pass snapshot: exact, or a length-gated substring
    elem_texts = [_elem_text(el) for el in result_body]
    existing = "\n".join(filter(None, elem_texts))
    existing_elems = set(elem_texts)
    # elements emitted or deduped whole: their descendants are covered
    handled: set[_Element] = set()
    for subelem in subelems:
        if (consumed and subelem in consumed) or any(a in handled for a in subelem.iterancestors()):
            continue
        processed = handle_textelem(subelem, potential_tags, OPTIONS)
        if processed is None:
            continue
        if processed is subelem:
            handled.add(subelem)
        text = _elem_text(processed)
        # image-only blocks have no text to compare, check their sources against the live body
        images = {img.get("src") for img in processed.iter("graphic")}
        if not text and images and images <= {g.get("src") for g in result_body.iter("graphic")}:
            continue
        # past the cap, the substring scan is skipped and `existing` stops growing
        under_cap = len(existing) <= DEDUPE_SCAN_CAP
        # a copy carrying its source tail is a fragment of a text run: no length gate
        fragment = trim(text + (processed.tail or "")) if text_chars_test(processed.tail) else ""
        if text and (
            text in existing_elems
            or (under_cap and ((len(text) > MIN_DUPLICATE_LENGTH and text in existing) or (fragment and fragment in existing)))
        ):
            continue
        result_body.append(processed)
        if under_cap:
            existing += "\n" + (fragment or text)
        existing_elems.add(text)
    return result_body
