"""trafilatura's reading through its own passes (`crawler.extract_trafilatura`) against its `extract`."""

from __future__ import annotations

import copy
import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
import trafilatura
import trafilatura.htmlprocessing
import trafilatura.main_extractor
from lxml.etree import tostring
from trafilatura.htmlprocessing import convert_tags, tree_cleaning

from crawler import extract_trafilatura, extract_xpath
from crawler.encoding import decode_html
from crawler.extract import _parse
from crawler.extract_trafilatura import OPTIONS, trafilatura_text
from tests.conftest import corpus_dir

HERE = Path(__file__).parent
FIXTURES = sorted([*(HERE / "pages_extract").glob("*.html"), *(HERE / "pages").glob("*.html")])

# The functions `crawler.extract_trafilatura` replicates, by the digest of their source.
REPLICATED: dict[Callable[..., object], str] = {
    trafilatura.main_extractor.extract_content: "f0270c94ac5f30b5",
    trafilatura.main_extractor._extract: "3e0e39ed3e03e8e4",
    trafilatura.main_extractor.prune_unwanted_sections: "e6eb7afcc64d3f37",
    trafilatura.main_extractor.recover_wild_text: "335f6d13321fd4e3",
    trafilatura.htmlprocessing.prune_unwanted_nodes: "4731f8e24ef86449",
}


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


def test_the_replicated_functions_are_those_of_the_installed_trafilatura() -> None:
    # The replicas are used only with the trafilatura version they were copied from; a function of
    # it edited in place (same version number) shows here: compare it with the replica, then re-pin.
    assert extract_trafilatura._REPLICA
    digests = {f.__name__: hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16] for f in REPLICATED}
    assert digests == {f.__name__: digest for f, digest in REPLICATED.items()}


def _same_content_as_extract_content(paths: list[Path]) -> int:
    """The replica of `extract_content` against trafilatura's on each page's cleaned tree: the same
    body, element for element, and the same text. Returns the number of pages compared."""
    compared = 0
    for path in paths:
        html, _ = decode_html(path.read_bytes(), "text/html")
        root = _parse(html)
        if root is None:
            continue
        cleaned = convert_tags(tree_cleaning(root, OPTIONS), OPTIONS, None)
        body, text = trafilatura.main_extractor.extract_content(copy.deepcopy(cleaned), OPTIONS)
        our_body, our_text = extract_trafilatura._extract_content(copy.deepcopy(cleaned))
        assert (tostring(our_body), our_text) == (tostring(body), text), path.name
        compared += 1
    return compared


def test_the_replica_reads_the_fixture_pages_as_extract_content() -> None:
    assert _same_content_as_extract_content(FIXTURES) == len(FIXTURES)


def test_the_replica_reads_the_corpus_pages_as_extract_content() -> None:
    paths = sorted(corpus_dir("news_html").glob("*.html")) + sorted(corpus_dir("forum_html").glob("*.html"))
    assert _same_content_as_extract_content(paths) > 100


def test_another_trafilatura_reads_through_its_own_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    # What runs with a trafilatura the replicas and fast paths were not written for: the same text.
    texts = []
    for path in FIXTURES:
        html, _ = decode_html(path.read_bytes(), None)
        root = _parse(html)
        assert root is not None
        texts.append(trafilatura_text(copy.copy(root), None))
    monkeypatch.setattr(extract_trafilatura, "_REPLICA", False)
    monkeypatch.setattr(extract_xpath, "_SELECT", {})
    monkeypatch.setattr(extract_xpath, "_FIRST", {})
    for path, text in zip(FIXTURES, texts, strict=True):
        html, _ = decode_html(path.read_bytes(), None)
        root = _parse(html)
        assert root is not None
        assert trafilatura_text(copy.copy(root), None) == text, path.name
