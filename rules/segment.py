"""Word boundaries from jieba, cut only where a candidate keyword was found.

The second step of matching: the automaton has found candidate words in the normalised text; this
module confirms that a candidate is a word and not a substring straddling two words (干部 in
骨干|部门). It owns a private `jieba.Tokenizer` (never jieba's global one, which other code may
change) with the rule words and the operator's user dictionary added, so jieba keeps them whole
(仍未 instead of 仍/未).

jieba itself splits a text into blocks (its `re_han_default` runs of Han characters, letters and
digits) and segments each block on its own; so cutting only the blocks that hold a candidate gives
exactly the boundaries that cutting the whole text would. `Segmenter.boundaries_all` does the latter
and is the reference the benchmark compares against.
"""

from __future__ import annotations

import bisect
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jieba

# jieba's own block pattern (jieba.re_han_default), so that our blocks are jieba's blocks.
BLOCK = jieba.re_han_default
_log = logging.getLogger(__name__)

# Rule words are added with a frequency high enough to keep them whole, but not so high that they
# swallow their neighbours' characters (which would make 骨干部门 cut as 骨/干部/门).
_FLOOR_FREQ = 20


@functools.cache
def _base_dictionary() -> tuple[dict[str, int], int]:
    jieba.setLogLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total


def new_tokenizer(words: Iterable[str], user_dict: Path | None = None) -> tuple[jieba.Tokenizer, frozenset[str]]:
    """A private jieba tokenizer that knows the rule words and the operator's dictionary.

    Returns the tokenizer and the rule words that were added to it (not already jieba words).
    """
    tok = jieba.Tokenizer()
    freq, total = _base_dictionary()
    # A copy of jieba's parsed default dictionary: the same state `initialize()` would build, in
    # milliseconds instead of the half second of reading it again for every rule set (reloads, tests).
    tok.FREQ, tok.total, tok.initialized = dict(freq), total, True
    if user_dict is not None:
        tok.load_userdict(str(user_dict))
    added: set[str] = set()
    for w in sorted(set(words)):
        if not w or " " in w:
            continue
        # Raise a word's frequency only as far as needed to keep it whole (jieba knows 仍未, but too
        # rarely to keep it together); a word jieba already keeps whole is left as it is.
        wanted = max(tok.suggest_freq(w, tune=False), _FLOOR_FREQ)
        if tok.FREQ.get(w, 0) < wanted:
            tok.add_word(w, freq=wanted)
            added.add(w)
    return tok, frozenset(added)


@dataclass
class Boundaries:
    """Token boundaries of one normalised text, filled block by block as candidates ask for them."""

    text: str
    tokenizer: jieba.Tokenizer
    hmm: bool
    # Rule words we added to the dictionary. A token that is one of them does not hide a shorter
    # rule word at its start or end (党支部 in 村党支部, 招聘 in 教师招聘): the words were added so
    # that jieba would not split them, not so that they would swallow each other.
    added: frozenset[str] = frozenset()
    _blocks: list[tuple[int, int]] | None = None
    _cut: dict[int, list[int]] = field(default_factory=dict)  # block index -> token start positions

    def blocks(self) -> list[tuple[int, int]]:
        if self._blocks is None:
            self._blocks = [m.span() for m in BLOCK.finditer(self.text)]
        return self._blocks

    def block_of(self, pos: int) -> int | None:
        blocks = self.blocks()
        k = bisect.bisect_right(blocks, (pos, len(self.text) + 1)) - 1
        if k >= 0 and blocks[k][0] <= pos < blocks[k][1]:
            return k
        return None

    def starts(self, k: int) -> list[int]:
        """Token start positions of block k (absolute), plus the block end."""
        cached = self._cut.get(k)
        if cached is None:
            start, end = self.blocks()[k]
            cached = [start]
            pos = start
            for tok in self.tokenizer.cut(self.text[start:end], HMM=self.hmm):
                pos += len(tok)
                cached.append(pos)
            self._cut[k] = cached
        return cached

    def cut_all(self) -> None:
        for k in range(len(self.blocks())):
            self.starts(k)

    def is_boundary(self, pos: int, k: int) -> bool:
        starts = self.starts(k)
        i = bisect.bisect_left(starts, pos)
        return i < len(starts) and starts[i] == pos

    def check(self, start: int, end: int) -> tuple[bool, bool]:
        """(whole word, does not cross a boundary) for the span [start, end).

        Whole: the span starts and ends on token boundaries (it may cover several tokens).
        Not crossing: it is whole, or it lies inside one token (青年 in 中青年).
        A span outside any block (punctuation, emoji) counts as whole.
        """
        k = self.block_of(start)
        if k is None:
            return True, True
        block_start, block_end = self.blocks()[k]
        if start == block_start and end == block_end:
            return True, True  # the word is the whole block (#考编#, “两委”): no need to cut it
        starts = self.starts(k)
        if end > block_end:
            # Spans running past the block's end (a word with a symbol jieba splits on) still have
            # to start on a boundary; what lies after belongs to other blocks.
            whole = self.is_boundary(start, k)
            return whole, whole
        whole = self.is_boundary(start, k) and self.is_boundary(end, k)
        if whole:
            return True, True
        i = bisect.bisect_right(starts, start)
        inside = i < len(starts) and starts[i] >= end
        if inside and self.added:
            ts, te = starts[i - 1], starts[i]
            if (ts == start or te == end) and self.text[ts:te] in self.added:
                return True, True
        return False, inside

    def distance(self, p: int, q: int, limit: int) -> int:
        """How many words apart positions p <= q are (0: same word), counting at most limit + 1.

        Only the blocks between the two positions are cut, and counting stops past `limit`.
        """
        kp, kq = self._block_at_or_after(p), self._block_at_or_after(q)
        if kp is None or kq is None:
            return limit + 1
        if kp == kq:
            starts = self.starts(kp)
            return bisect.bisect_right(starts, q) - bisect.bisect_right(starts, p)
        starts = self.starts(kp)
        n = len(starts) - bisect.bisect_right(starts, p)
        for j in range(kp + 1, kq):
            if n > limit:
                return n
            n += len(self.starts(j)) - 1
        return n + bisect.bisect_right(self.starts(kq), q)

    def _block_at_or_after(self, pos: int) -> int | None:
        blocks = self.blocks()
        k = bisect.bisect_right(blocks, (pos, len(self.text) + 1)) - 1
        if k >= 0 and blocks[k][0] <= pos < blocks[k][1]:
            return k
        return k + 1 if k + 1 < len(blocks) else None


def all_tokens(tokenizer: jieba.Tokenizer, text: str, hmm: bool) -> list[str]:
    """Plain segmentation of a whole text (the benchmark's baseline)."""
    return list(tokenizer.cut(text, HMM=hmm))
