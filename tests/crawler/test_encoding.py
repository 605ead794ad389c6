"""decode_html: the bytes decide, not the declaration (fixture pages, then every corpus page and feed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.encoding import common_character_share, decode_html
from tests.conftest import corpus_dir

PAGES = Path(__file__).parent / "pages_extract"
GBK_ONLY = "朱镕基、王喆"  # both characters are outside GB2312


def _page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type", "codec", "expected"),
    [
        ("gbk_undeclared.html", None, "gb18030", GBK_ONLY),
        ("gbk_undeclared.html", "text/html", "gb18030", GBK_ONLY),
        ("gb2312_declared_gbk_bytes.html", None, "gb18030", GBK_ONLY),
        ("meta_gb2312_utf8_bytes.html", None, "utf-8", GBK_ONLY),
        ("meta_utf8_gbk_bytes.html", None, "gb18030", GBK_ONLY),
        # The header lies too: it says UTF-8 over GBK bytes.
        ("meta_utf8_gbk_bytes.html", "text/html; charset=utf-8", "gb18030", GBK_ONLY),
        ("big5_declared.html", None, "big5hkscs", "縣政府今日公佈村務公開事項"),
        ("big5_undeclared.html", None, "big5hkscs", "集體資產處置與土地承包情況"),
        # A header naming GBK over Big5 bytes: Big5 decodes cleanly into common characters, GBK does not.
        ("big5_undeclared.html", "text/html; charset=gbk", "big5hkscs", "集體資產處置與土地承包情況"),
    ],
)
def test_fixture_pages_decode_to_the_written_text(name: str, content_type: str | None, codec: str,
                                                  expected: str) -> None:
    text, used = decode_html(_page(name), content_type)
    assert used == codec
    assert expected in text
    assert "\ufffd" not in text


def test_a_few_damaged_bytes_are_replaced_not_turned_into_mojibake() -> None:
    text, used = decode_html(_page("gbk_damaged.html"), None)
    assert used == "gb18030"
    assert text.count("\ufffd") <= 2
    # Everything around the damage reads as written.
    assert "公示期间，干部群众可以通过来信" in text
    assert GBK_ONLY in text


def test_byte_order_mark_wins_over_a_declaration() -> None:
    body = "\ufeff<meta charset='gbk'><p>村务公开</p>".encode("utf-8")
    text, used = decode_html(body, "text/html; charset=gbk")
    assert used == "utf-8"
    assert text.startswith("<meta") and "村务公开" in text


def test_ascii_and_empty_bodies() -> None:
    assert decode_html(b"", None) == ("", "utf-8")
    assert decode_html(b"<p>&#26449;</p>", "text/html; charset=gb2312") == ("<p>&#26449;</p>", "ascii")


def test_unknown_declared_charset_is_ignored() -> None:
    body = "<meta charset='x-no-such-charset'><p>干部任前公示</p>".encode("gbk")
    text, used = decode_html(body, None)
    assert used == "gb18030" and "干部任前公示" in text


def _corpus_entries() -> list[dict[str, object]]:
    root = corpus_dir()
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    # Holdout entries point outside the corpus folder; they are never opened.
    return [e for e in manifest if e.get("split") != "holdout"
            and e.get("folder") in ("news_html", "forum_html", "feeds")]


_FAMILY = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "utf-8": "utf-8",
           "utf-8-sig": "utf-8", "big5": "big5hkscs"}


def test_every_corpus_page_and_feed_decodes_without_mojibake() -> None:
    root = corpus_dir()
    checked = 0
    problems = []
    for entry in _corpus_entries():
        body = (root / str(entry["file"])).read_bytes()
        text, used = decode_html(body, None)
        actual = str(entry.get("byte_encoding") or "")
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        checked += 1
        if actual.startswith("mixed"):
            # Damaged files: a handful of replacements at most, the rest readable.
            if text.count("\ufffd") > 40 or (cjk > 50 and common_character_share(text) < 0.8):
                problems.append(f"{entry['file']}: damaged file decoded badly as {used}")
            continue
        # A few pages carry U+FFFD in their own UTF-8 bytes; only replacements we made count.
        made = text.count("\ufffd") - body.count("\ufffd".encode())
        if made:
            problems.append(f"{entry['file']}: {made} replacement characters with {used}")
        if cjk > 50 and common_character_share(text) < 0.8:
            problems.append(f"{entry['file']}: reads as mojibake with {used}")
        expected = _FAMILY.get(actual)
        # The manifest's byte_encoding is the first codec that decoded strictly; for two synthetic
        # Big5 feeds that is gb18030 (into rare characters), which the mojibake check above covers.
        if entry["folder"] != "feeds" and expected and used != expected:
            problems.append(f"{entry['file']}: bytes are {actual}, decoded as {used}")
    assert checked > 150
    assert problems == []


def test_damaged_utf8_stays_utf8() -> None:
    good = (PAGES / "meta_gb2312_utf8_bytes.html").read_bytes()  # declares gb2312, bytes are UTF-8
    i = good.index("公示期间".encode())
    damaged = good[:i] + b"\xe5\xbf" + good[i:]  # a truncated three-byte sequence
    text, used = decode_html(damaged, "text/html; charset=gb2312")
    assert used == "utf-8"
    assert text.count("\ufffd") == 1
    assert GBK_ONLY in text and "公示期间，干部群众" in text


def test_valid_utf8_with_its_own_replacement_characters_is_utf8() -> None:
    # A CMS that already lost a character stores U+FFFD itself: the bytes are valid UTF-8 (one strict
    # decode reads them), declared GBK or not.
    body = "<html><meta charset=gbk><body><p>村务公开\ufffd栏目：集体资产清查结果</p></body></html>".encode()
    text, used = decode_html(body, "text/html; charset=gbk")
    assert used == "utf-8"
    assert text == body.decode("utf-8")


def test_the_common_share_reads_past_the_first_sample_as_one_text() -> None:
    # Fewer CJK characters than the sample in the first 20,000 characters: the rest of the text
    # is read on from there, a run cut at the boundary included, as if read in one piece.
    rare = "\u9fa0"  # a CJK character outside both common sets
    text = "x" * 19_999 + "中" + rare * 3 + "y" * 50 + "国" * 4
    assert common_character_share(text) == 5 / 8
