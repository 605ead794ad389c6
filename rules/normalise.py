"""Text normalisation before matching, keeping a way back to the original offsets.

The first step of `RuleSet.analyse`: a post's title and body are folded so that one rule word
catches its variants (Traditional -> Simplified with OpenCC, full-width -> half-width, ASCII lower
case, spaces / zero-width characters / emoji / filler symbols *inside* words removed: "干 部",
"幹部", "干*部" all become 干部). Every step but the removal keeps one character for one character,
so a position in the normalised text maps back to the original by adding the number of characters
removed before it; hits shown to users therefore point at the post as it was written.

Speed matters here (every crawled post passes through): each step first checks with one C-level
regex search whether it has anything to do, so a plain Simplified post costs a few searches.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from typing import NamedTuple

import opencc

from .segment import cache_dir, write_cache_file

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Python's \s spelt out (str.isspace(), all in the BMP): a category in a character class is one
# more test for every character searched, and these classes are searched in every post (the
# may-need-work search over the bench posts: 3.9 -> 2.2 ms).
_SPACES = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What may be dropped when it sits between two Han characters: spaces, zero-width characters,
# emoji and the filler symbols people put into a word to get it past keyword filters.
_JUNK = (
    _SPACES + r"\u200b-\u200f\u2060\ufeff\ufe0f\u20e3"
    r"*·•・.\-_~|/\\^+=#@$%&`'\"<>\u2022\u2027\u30fb\uff0a\uff3f\uff5e\uff5c\uff0f\uff3c"
    r"\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
)
# A run of junk between two Han characters: removed with one C-level re.sub. Where the removals were
# is worked out again only when a hit's position is mapped back to the original (`_removals`), which
# few posts ever need.
# Written to start with a character class (the Han character before the run is checked by a
# look-behind after the run's first character): re then skips to candidate characters at C speed,
# where a leading look-behind is tried at every position (twice as slow, the same matches).
_JUNK_BETWEEN_HAN = re.compile(f"[{_JUNK}](?<=[{_HAN}][{_JUNK}])[{_JUNK}]*(?=[{_HAN}])")
_JUNK_BEFORE_HAN = re.compile(f"[{_JUNK}](?=[{_HAN}])")  # the first test of a converted text: one character, no backtracking
# Full-width letters, digits, the ideographic space and a few symbols fold to ASCII. Full-width
# punctuation (，！？) stays: it is in nearly every Chinese post, and folding it would cost a
# translate() per post for nothing a rule needs.
_FULLWIDTH_CHARS = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\uff03-\uff06\uff20"
_FULLWIDTH = re.compile(f"[{_FULLWIDTH_CHARS}]")
_FULLWIDTH_TABLE = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), *range(0xFF03, 0xFF07), 0xFF20]} | {
    0x3000: 0x20
}
_FULLWIDTH_MAP = {chr(k): chr(v) for k, v in _FULLWIDTH_TABLE.items()}


def _halfwidth(m: re.Match[str]) -> str:
    # re.sub on the full-width characters only: str.translate looks every character of a long
    # post up in the table, ten times the cost when a post has a few full-width digits.
    return _FULLWIDTH_MAP[m.group()]
_FULLWIDTH_SET = frozenset(_FULLWIDTH_MAP)
# Upper-case letters, full-width ones included (they are upper case once half-width).
_UPPER_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ") | frozenset(map(chr, range(0xFF21, 0xFF3B)))


class Folder:
    """Traditional -> Simplified folding with OpenCC, done only when a Traditional character is present.

    OpenCC converts by phrase (乾隆 stays, 乾燥 -> 干燥), which a character table cannot; it is also the
    slowest step, so a regex of every character that t2s changes decides whether to call it.
    """

    def __init__(self) -> None:
        self._cc = opencc.OpenCC("t2s")
        self.traditional = frozenset(_traditional_chars())
        self.traditional_chars = "".join(map(re.escape, _traditional_chars()))  # for a regex character class
        # Compiled on first use (5 ms of every load): `Normaliser` has its own searches.
        self._traditional: re.Pattern[str] | None = None

    def fold(self, text: str, pos: int = 0) -> str:
        """Simplified text; pos: where to start looking for a Traditional character (none before)."""
        if self._traditional is None:
            self._traditional = re.compile(f"[{self.traditional_chars}]")
        if not self._traditional.search(text, pos):
            return text
        return self.convert(text)

    def convert(self, text: str) -> str:
        """`fold` of a text known to hold a Traditional character."""
        out = self._cc.convert(text)
        if len(out) == len(text):
            return out
        # A phrase changed length (rare): convert character by character so positions still line up,
        # keeping any character whose conversion is not exactly one character.
        pieces = (self._cc.convert(ch) for ch in text)
        return "".join(p if len(p) == 1 else ch for p, ch in zip(pieces, text, strict=True))


@functools.cache
def _traditional_chars() -> str:
    """Every character OpenCC's t2s changes on its own.

    Found by converting every CJK character, 20 ms of every process that builds a rule set (a
    tenth of a warm load), so the list is kept in the cache folder (`segment.cache_dir()`) under
    OpenCC's version, with a hash of the list on its first line: a torn or altered file is
    computed again, never used.
    """
    folder = cache_dir()
    path = folder / f"opencc-{opencc.__version__}-t2s-chars.txt" if folder is not None else None
    if path is not None:
        try:
            digest, chars = path.read_text(encoding="utf-8").split("\n", 1)
            if hashlib.sha256(chars.encode("utf-8")).hexdigest() == digest:
                return chars
        except (OSError, ValueError):  # absent, torn, not UTF-8: computed and written again
            pass
    cc = opencc.OpenCC("t2s")
    every = [chr(c) for c in range(0x3400, 0xA000)] + [chr(c) for c in range(0xF900, 0xFB00)]
    converted = cc.convert("\n".join(every)).split("\n")
    chars = "".join(c for c, d in zip(every, converted, strict=True) if c != d)
    if path is not None:
        write_cache_file(path, (hashlib.sha256(chars.encode("utf-8")).hexdigest() + "\n" + chars).encode("utf-8"))
    return chars


class Normalised(NamedTuple):
    """A normalised text, and what it was before inner junk was removed (to map positions back).

    A NamedTuple rather than a frozen dataclass: one is built per field of every post, and a
    frozen dataclass costs several times more to create.
    """

    original: str
    text: str
    folded: str = ""  # the folded text before junk removal; empty when nothing was removed

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised span [start, end)."""
        if not self.folded:
            return start, end
        at, before = _removals(self.folded)
        first = _orig(at, before, start)
        return first, (_orig(at, before, end - 1) + 1 if end > start else first)

    def sentence_ends(self) -> list[int]:
        """Positions of the sentence ends (used by `near: sentence`, with bisect)."""
        return [m.start() for m in _SENTENCE_END.finditer(self.text)]


@functools.lru_cache(maxsize=16)
def _removals(folded: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where junk was removed: the positions in the normalised text where removed runs were, and
    the number of characters removed up to and including each run (cached: a post's hits all
    map through the same text)."""
    at: list[int] = []
    before: list[int] = []
    removed = 0
    for m in _JUNK_BETWEEN_HAN.finditer(folded):
        b, e = m.span()
        at.append(b - removed)
        removed += e - b
        before.append(removed)
    return tuple(at), tuple(before)


def _orig(at: tuple[int, ...], before: tuple[int, ...], pos: int) -> int:
    k = bisect.bisect_right(at, pos)
    return pos + (before[k - 1] if k else 0)


_SENTENCE_END = re.compile("[。！？!?；;\n…]")


class Normaliser:
    """Folds texts and rule words the same way (one instance per rule set: OpenCC is loaded once)."""

    def __init__(self) -> None:
        self._folder = Folder()
        trad = self._folder.traditional_chars
        self._traditional = self._folder.traditional
        # Every character to fold from a position on, found in one scan: which kinds are among them
        # (Traditional, full-width, upper case) is then told by set tests, where a search per kind
        # scanned the rest of the text up to four times (a post with a capital letter and no
        # full-width one was scanned to its end for the latter).
        self._to_fold = re.compile(f"[{trad}{_FULLWIDTH_CHARS}A-Z]").findall
        # Any character that needs folding or may be junk: one charset is the cheapest search there is.
        self.may_need_work = re.compile(f"[{trad}{_FULLWIDTH_CHARS}A-Z{_JUNK}]").search

    def word(self, word: str) -> str:
        """A rule word as it will be searched for: folded, and without any inner junk."""
        return self.fold(word.strip())[0]

    def normalise(self, text: str) -> Normalised:
        """The folded text with the way back to the original's positions."""
        return Normalised(text, *self.fold(text))

    def fold(self, text: str) -> tuple[str, str]:
        """(normalised text, the folded text before junk removal or "" when nothing was removed):
        `normalise` without building a `Normalised`, for the engine's scan of every post."""
        # One search for any character that may need work (most posts: none, or late in the text);
        # nothing before it does, so the step tests below start there.
        first = self.may_need_work(text)
        if first is None:
            return text, ""
        return self.fold_from(text, first.start())

    def fold_from(self, text: str, pos: int) -> tuple[str, str]:
        """`fold` of a text whose first character that may need work is at `pos` (`may_need_work`):
        the engine searches for it itself, so that a text with none costs no call here."""
        s = text
        converted = False
        to_fold = self._to_fold(s, pos)
        if to_fold:
            kinds = set(to_fold)
            converted = not self._traditional.isdisjoint(kinds)
            if converted:
                s = self._folder.convert(s)
            # (OpenCC makes no full-width or upper-case letters, nor removes an ASCII one, so what
            # the text held before it tells.)
            if not _FULLWIDTH_SET.isdisjoint(kinds):
                s = _FULLWIDTH.sub(_halfwidth, s)
            if not _UPPER_SET.isdisjoint(kinds):
                lowered = s.lower()
                # str.lower() changes the length of a few non-ASCII letters (İ); positions must not move.
                s = lowered if len(lowered) == len(s) else "".join(c.lower() if c.isascii() else c for c in s)
        if converted:
            # OpenCC converts by phrase: what it makes of the text before `pos` is not known in
            # advance, so junk is looked for, and removed, over the whole text.
            if not _JUNK_BEFORE_HAN.search(s, pos):
                return s, ""
            removed = _JUNK_BETWEEN_HAN.sub("", s)
            return (s, "") if len(removed) == len(s) else (removed, s)
        # Nothing before `pos` needed work, and neither half-width folding (of characters at or
        # after `pos`) nor lower case (letters into letters) puts junk before it: a run to remove,
        # if any, starts at or after `pos`. One search finds the first, and the sub reads the text
        # from the Han character before it (its look-behind's), not from the start; a text with
        # junk before a Han character but none between two (573 of the 1,919 such texts among the
        # bench sample's 3,526 that need work) needs no sub at all. fold_from over those 3,526:
        # callgrind 102.2M -> 100.3M instructions (searches and subs 48.7M -> 44.3M, the slices
        # 2.4M back; the same search with a sub of the whole text took 100.9M).
        run = _JUNK_BETWEEN_HAN.search(s, pos)
        if run is None:
            return s, ""
        start = run.start() - 1
        return s[:start] + _JUNK_BETWEEN_HAN.sub("", s[start:]), s
