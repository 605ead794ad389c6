"""trafilatura's reading through its own passes (`crawler.extract_trafilatura`) against its `extract`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import trafilatura

from crawler.encoding import decode_html
from crawler.extract import _parse
from crawler.extract_trafilatura import trafilatura_text

HERE = Path(__file__).parent
FIXTURES = sorted([*(HERE / "pages_extract").glob("*.html"), *(HERE / "pages").glob("*.html")])


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_the_same_text_as_trafilatura_extract(path: Path) -> None:
    # The passes are trafilatura's own functions called in its order: an upgrade that renames,
    # reorders or changes them shows here, not as a silent drift of the bodies we choose.
    html, _ = decode_html(path.read_bytes(), None)
    root = _parse(html)
    assert root is not None
    expected = trafilatura.extract(copy.copy(root), include_comments=False, include_tables=True, fast=True,
                                   output_format="txt", deduplicate=False) or ""
    assert trafilatura_text(copy.copy(root), None) == expected
    assert expected  # the fixtures are pages with text: an empty reading would prove nothing


def test_a_document_without_text_reads_as_empty() -> None:
    root = _parse("<html><body><div><img src='a.png'></div></body></html>")
    assert root is not None
    assert trafilatura_text(root, None) == ""
