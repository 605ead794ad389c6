"""Normalisation: variants fold to one form and spans map back to the original text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules.engine import RuleSet
from rules.normalise import _SPACES, Normaliser


@pytest.fixture(scope="module")
def norm() -> Normaliser:
    return Normaliser()


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("縣委組織部", "县委组织部"),  # Traditional -> Simplified
        ("ＯＦＦＥＲ到手１２３", "offer到手123"),  # full-width letters and digits, lower case
        ("干 部", "干部"),  # a space inside a word
        ("干\u200b部", "干部"),  # zero-width space
        ("干🙂部", "干部"),  # emoji inside a word
        ("干*部", "干部"),  # filler symbol
        ("干部，亲戚", "干部，亲戚"),  # sentence punctuation stays
        ("our village 村支书", "our village 村支书"),  # spaces between words of Latin text stay
        # Which kinds of character to fold are told from one scan: each kind, alone or mixed.
        ("酒店Ａ楼", "酒店a楼"),  # a full-width capital is a capital once half-width
        ("Hello 這個", "hello 这个"),  # a capital first, a Traditional character later
        ("１２３號", "123号"),  # full-width digits, no capital
        ("ＡＢＣ幹 部ｘ", "abc干部x"),
    ],
)
def test_folding(norm: Normaliser, raw: str, folded: str) -> None:
    assert norm.normalise(raw).text == folded


def test_offsets_map_back_to_the_original(norm: Normaliser) -> None:
    raw = "村 里 低 保 名 单"
    n = norm.normalise(raw)
    i = n.text.index("低保")
    start, end = n.to_original(i, i + 2)
    assert raw[start:end] == "低 保"


def test_hits_point_at_original_text(shipped: RuleSet) -> None:
    raw = "网友爆料：縣委組織部任前公示的張某曾受處分，帶病提拔！"
    hits = [h for t in shipped.analyse("", raw).topics for h in t.hits]
    assert hits and all(raw[h.start : h.end] == h.found for h in hits)
    assert any(h.found == "帶病提拔" and h.word == "带病提拔" for h in hits)


@pytest.mark.parametrize(
    "raw",
    [
        "ＡＢＣ１２３　干　部 and İstanbul 干 * 部",  # full-width, upper case, a letter lower() lengthens
        "a 干 部 b\n\n　　村 - 支 - 书。 x",  # runs next to non-Han characters stay
        "干 部" * 50 + "，干部",
        "plain text with no Han at all",
    ],
)
def test_every_position_maps_back(norm: Normaliser, raw: str) -> None:
    """Each normalised character maps back to the original character it came from (folding keeps
    one character for one, removal only drops junk between Han characters)."""
    n = norm.normalise(raw)
    assert norm.fold(raw) == (n.text, n.folded)
    for i, ch in enumerate(n.text):
        start, end = n.to_original(i, i + 1)
        assert end == start + 1
        assert norm.normalise(raw[start]).text == ch


def test_spaces_are_python_whitespace() -> None:
    # \s spelt out for speed: the same characters, all of them.
    spelt, category = re.compile(f"[{_SPACES}]"), re.compile(r"\s")
    assert all(bool(spelt.match(chr(c))) == bool(category.match(chr(c))) for c in range(0x110000))


def test_folding_equals_the_plain_steps(norm: Normaliser) -> None:
    """`fold` finds the characters to fold in one scan and skips the steps with nothing to do; the
    result must be that of every step applied in turn."""
    import random

    from rules.normalise import _FULLWIDTH, _JUNK_BETWEEN_HAN, _halfwidth

    cc = norm._folder._cc

    def plain(text: str) -> str:
        s = cc.convert(text) if any(c in norm._folder.traditional for c in text) else text
        s = _FULLWIDTH.sub(_halfwidth, s)
        if any("A" <= c <= "Z" for c in s):  # (other capitals, Ω, are lowered only along with an ASCII one)
            lowered = s.lower()
            s = lowered if len(lowered) == len(s) else "".join(c.lower() if c.isascii() else c for c in s)
        return _JUNK_BETWEEN_HAN.sub("", s)

    alphabet = list("干部村支书乾隆皇帝藉口，。！ \n*·-ABCxyz1İ縣組織這號Ω") + ["Ａ", "ｚ", "１", "\u3000", "＃", "🙂", "\u200b"]
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert norm.normalise(text).text == plain(text), text


def test_the_traditional_characters_are_kept_in_the_cache_folder_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list of characters OpenCC's t2s changes (20 ms to compute) is read from the cache folder;
    a torn or altered file is never used: the list is computed and written again."""
    from rules.normalise import _traditional_chars

    compute = _traditional_chars.__wrapped__  # the function without its per-process memo
    monkeypatch.setenv("YUQING_CACHE_DIR", "")
    uncached = compute()
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path))
    assert compute() == uncached  # computed, written
    [kept] = tmp_path.glob("opencc-*-t2s-chars.txt")
    assert compute() == uncached  # read
    digest, chars = kept.read_text(encoding="utf-8").split("\n", 1)
    kept.write_text(digest + "\n" + chars[: len(chars) // 2], encoding="utf-8")  # torn
    assert compute() == uncached
    assert kept.read_text(encoding="utf-8") == digest + "\n" + chars  # written again
    kept.write_bytes(b"\xff\xfe not utf-8")
    assert compute() == uncached
