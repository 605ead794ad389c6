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
  whose body F1 it did not change).

On every other document the text is the same as `extract`'s (tests/crawler/test_extract_body.py
checks that on fixture pages, so an upgrade of trafilatura that changes its passes shows there).
"""

from __future__ import annotations

import re
import unicodedata
from copy import copy

from lxml.html import HtmlElement
from trafilatura.baseline import baseline
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor
from trafilatura.xml import xmltotxt
from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

OPTIONS = Extractor(output_format="txt", fast=True, comments=False, tables=True, dedup=False)

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
    tree = prune_unwanted_nodes(document, RAW_TREE_PRUNE_XPATH)
    if not forum:
        tree = prune_unwanted_nodes(tree, REMOVE_COMMENTS_AND_LISTS_XPATH)
    cleaned = convert_tags(tree_cleaning(copy(tree), OPTIONS), OPTIONS, url)
    body, text = extract_content(cleaned, OPTIONS)
    if len(text) < OPTIONS.min_extracted_size:
        # trafilatura's rescue: a plain reading of the uncleaned tree, when it gives more text.
        rescued, rescued_text, rescued_len = baseline(tree)
        if rescued_len > len(text):
            body, text = rescued, rescued_text
    if len(text) < OPTIONS.min_output_size:
        return ""
    return unicodedata.normalize("NFC", xmltotxt(body, OPTIONS.formatting)).strip()
