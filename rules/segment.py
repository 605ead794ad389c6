"""Word boundaries from jieba, cut only where a candidate keyword was found.

The second step of matching: the automaton has found candidate words in the normalised text; this
module confirms that a candidate is a word and not a substring straddling two words (干部 in
骨干|部门). It owns a private `jieba.Tokenizer` (never jieba's global one, which other code may
change) with the rule words and the operator's user dictionary added, so jieba keeps them whole
(仍未 instead of 仍/未).

jieba itself splits a text into blocks (its `re_han_default` runs of Han characters, letters and
digits) and segments each block on its own; so cutting only the blocks that hold a candidate gives
exactly the boundaries that cutting the whole text would. A block is cut with `dag_starts`, the same
route over the same dictionary as jieba's own no-HMM cut computed in one loop (about twice as fast);
`Boundaries(..., reference=True).cut_all()` cuts every block with jieba's `Tokenizer.cut` itself and
is the reference the benchmark compares the engine against.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import logging
import marshal
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import log
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

# jieba's own block pattern (jieba.re_han_default, the same: a test compares them), so that our
# blocks are jieba's blocks. Spelt out rather than taken from jieba: importing jieba imports
# pkg_resources (0.18 s CPU in all), which a crawl process then pays only when a post first needs
# word boundaries (`new_tokenizer`), and never in a crawl where none does.
BLOCK = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_log = logging.getLogger(__name__)

# Rule words are added with a frequency high enough to keep them whole, but not so high that they
# swallow their neighbours' characters (which would make 骨干部门 cut as 骨/干部/门).
_FLOOR_FREQ = 20


def cache_dir() -> Path | None:
    """Where yuqing keeps what is costly to rebuild and safe to lose (jieba's parsed dictionary, the
    parsed rule files): $YUQING_CACHE_DIR, else $XDG_CACHE_HOME/yuqing or ~/.cache/yuqing, created
    for this user only. None when it cannot be created (nothing is cached then) or when
    $YUQING_CACHE_DIR is set to the empty string (caching turned off)."""
    configured = os.environ.get("YUQING_CACHE_DIR")
    if configured == "":
        return None
    if configured:
        folder = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg) if xdg else Path.home() / ".cache") / "yuqing"
    if not folder.is_absolute():  # no home folder to be found ("~" left as it is): cache nothing
        return None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def write_cache_file(path: Path, data: bytes, *, keep: str | None = None, newest: int = 8) -> None:
    """Put `data` in the cache file `path`, written beside it and renamed into place (a reader never
    sees half a file); with `keep`, a glob of its kind, only the `newest` files of that kind stay (a
    few settings files may share the folder). A full disk or a read-only folder costs speed, never
    a load: nothing is raised."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        if keep is not None:
            entries = sorted(path.parent.glob(keep), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in entries[newest:]:
                old.unlink(missing_ok=True)
    except OSError as exc:
        _log.debug("cache file %s not written: %s", path, exc)


@functools.cache
def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's parsed default dictionary, read once per process.

    jieba keeps it parsed in a marshal cache file (two seconds to parse dict.txt otherwise). Ours
    lives in `cache_dir()`, where no cleaning of the temporary folder removes it, named after the
    jieba version (jieba itself reuses a default-dictionary cache whatever its version). It is read
    here with one `marshal.loads` of the file's bytes: jieba's `marshal.load(file)` reads the file
    piece by piece, object by object, and takes twice as long.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    folder = cache_dir()
    name = f"jieba-{jieba.__version__}.cache"
    if folder is not None:
        try:
            freq, total = marshal.loads((folder / name).read_bytes())
            if isinstance(freq, dict) and isinstance(total, int) and freq:
                return freq, total
        except (OSError, EOFError, ValueError, TypeError):
            pass  # absent or torn: jieba parses its dictionary and writes the file again
    base = jieba.Tokenizer()
    if folder is not None:
        base.tmp_dir, base.cache_file = str(folder), name
    base.initialize()
    return base.FREQ, base.total


def new_tokenizer(words: Iterable[str], user_dict: Path | None = None) -> tuple[jieba.Tokenizer, frozenset[str]]:
    """A private jieba tokenizer that knows the rule words and the operator's dictionary.

    Returns the tokenizer and the rule words that were added to it (not already jieba words).
    """
    import jieba

    tok = jieba.Tokenizer()
    freq, total = _base_dictionary()
    # A copy of jieba's parsed default dictionary: the same state `initialize()` would build, in
    # milliseconds instead of the half second of reading it again for every rule set (reloads, tests).
    tok.FREQ, tok.total, tok.initialized = dict(freq), total, True
    if user_dict is not None:
        tok.load_userdict(str(user_dict))
    wanted = sorted({w for w in words if w and " " not in w})
    key = _added_key(wanted, user_dict)
    added = _cached_added(key) if key is not None else None
    if added is None:
        added = []
        for w in wanted:
            # Raise a word's frequency only as far as needed to keep it whole (jieba knows 仍未, but
            # too rarely to keep it together); a word jieba already keeps whole is left as it is.
            f = max(tok.suggest_freq(w, tune=False), _FLOOR_FREQ)
            if tok.FREQ.get(w, 0) < f:
                tok.add_word(w, freq=f)
                added.append((w, f))
        if key is not None:
            _store_added(key, added)
    else:
        # The same additions in the same order: the same dictionary, without a jieba cut per word
        # to find each frequency (45 of the 65 ms of a tokenizer).
        for w, f in added:
            tok.add_word(w, freq=f)
    return tok, frozenset(w for w, _ in added)


# The rule words added to the tokenizer and their frequencies, kept in the cache folder under a hash
# of everything they depend on: jieba's version (its dictionary and its cut), the floor, the user
# dictionary's bytes and the words. The file holds that hash and the list; any other file is
# computed again (and overwritten), never used.
_ADDED_FORMAT = "jieba-added-1"


def _added_key(words: list[str], user_dict: Path | None) -> str | None:
    import jieba

    h = hashlib.sha256(f"{_ADDED_FORMAT}\0{jieba.__version__}\0{_FLOOR_FREQ}\0".encode())
    try:
        h.update(user_dict.read_bytes() if user_dict is not None else b"-")
    except OSError:
        return None
    h.update("\0".join(words).encode("utf-8"))
    return h.hexdigest()


def _added_file(key: str) -> Path | None:
    folder = cache_dir()
    return folder / f"jieba-added-{key[:32]}.marshal" if folder is not None else None


def _cached_added(key: str) -> list[tuple[str, int]] | None:
    path = _added_file(key)
    if path is None:
        return None
    try:
        stored_key, added = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None  # absent or torn: computed and written again
    if stored_key != key or not isinstance(added, list):
        return None
    if not all(isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str) and isinstance(a[1], int) for a in added):
        return None
    return added


def _store_added(key: str, added: list[tuple[str, int]]) -> None:
    path = _added_file(key)
    if path is not None:
        write_cache_file(path, marshal.dumps((key, added)), keep="jieba-added-*.marshal")


# The characters of jieba's blocks, and a run of them (matched on the reversed text to find where
# the block around a position starts: Python's re cannot search backwards).
_BLOCK_CLASS = BLOCK.pattern[1:-2]
assert BLOCK.pattern == f"({_BLOCK_CLASS}+)" and _BLOCK_CLASS.startswith("[") and _BLOCK_CLASS.endswith("]")
_BLOCK_RUN = re.compile(f"{_BLOCK_CLASS}*")
# jieba.re_eng: a one-character token of these joins the ones around it (jieba's `buf`).
_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def dag_starts(freq: dict[str, int], total: int, block: str, offset: int = 0) -> list[int]:
    """Token start positions of one block as jieba's `cut(block, HMM=False)` cuts it, plus its end.

    The same maximum-probability route over the same dictionary as jieba's `get_DAG` + `calc` +
    `__cut_DAG_NO_HMM`, in one backward loop that builds neither the DAG dict, nor a generator and
    a tuple per candidate word, nor the tokens: about twice as fast, which matters because cutting
    is most of the cost of the posts a rule can fire on. Equality with jieba is checked by the
    tests and by bench/rules.py (its reference segments with jieba itself).
    """
    n = len(block)
    logtotal = log(total)
    score = [0.0] * (n + 1)  # jieba's route[i][0]; route[n] = (0, 0)
    last = [0] * (n + 1)  # jieba's route[i][1]: the last character of the best word starting at i
    get = freq.get
    for idx in range(n - 1, -1, -1):
        best = 0.0
        best_i = -1
        i = idx
        frag = block[idx]
        # jieba's "while frag in FREQ" (a prefix of some word), with one lookup: prefixes are stored
        # with frequency 0, so None means not in the dictionary at all.
        while (f := get(frag)) is not None:
            if f:
                s = log(f) - logtotal + score[i + 1]
                # max() over (score, i) tuples in jieba: a tie goes to the longer word.
                if best_i < 0 or s >= best:
                    best, best_i = s, i
            i += 1
            if i >= n:
                break
            frag = block[idx : i + 1]
        if best_i < 0:  # no dictionary word starts here: the character alone, frequency 1 (log 0)
            best, best_i = 0.0 - logtotal + score[idx + 1], idx
        score[idx] = best
        last[idx] = best_i
    starts = []
    x = 0
    joined = False  # the previous token was one ASCII letter or digit
    while x < n:
        y = last[x] + 1
        single = y == x + 1 and block[x] in _ENG
        if not (single and joined):
            starts.append(offset + x)
        joined = single
        x = y
    starts.append(offset + n)
    return starts


@dataclass
class Boundaries:
    """Token boundaries of one normalised text, filled block by block as candidates ask for them.

    A block is identified by its start position; only the blocks around candidates are ever
    located (a forward match and a match on the reversed text), never every block of a long post.
    """

    text: str
    tokenizer: jieba.Tokenizer
    hmm: bool
    # Rule words we added to the dictionary. A token that is one of them does not hide a shorter
    # rule word at its start or end (党支部 in 村党支部, 招聘 in 教师招聘): the words were added so
    # that jieba would not split them, not so that they would swallow each other. A single character
    # counts only when the rest of the token is a word of its own (村 in 村|党支部): in 考编 neither
    # 考 nor 编 is a word, the two characters are one abbreviation.
    added: frozenset[str] = frozenset()
    # Cut with jieba's own `Tokenizer.cut` instead of `dag_starts`: the reference the benchmark
    # compares the engine with.
    reference: bool = False
    _reversed: str | None = None
    _cut: dict[int, list[int]] = field(default_factory=dict)  # block start -> token start positions

    def block_at(self, pos: int) -> tuple[int, int] | None:
        """The block (start, end) holding position pos, or None (punctuation, space, emoji)."""
        m = BLOCK.match(self.text, pos)
        if m is None:
            return None
        if self._reversed is None:
            self._reversed = self.text[::-1]
        back = _BLOCK_RUN.match(self._reversed, len(self.text) - pos)  # always matches (maybe empty)
        return pos - (back.end() - back.start()) if back is not None else pos, m.end()

    def starts(self, block: tuple[int, int]) -> list[int]:
        """Token start positions of a block (absolute), plus the block end."""
        start, end = block
        cached = self._cut.get(start)
        if cached is None:
            if self.reference or self.hmm:
                cached = [start]
                pos = start
                for tok in self.tokenizer.cut(self.text[start:end], HMM=self.hmm):
                    pos += len(tok)
                    cached.append(pos)
            else:
                cached = dag_starts(self.tokenizer.FREQ, self.tokenizer.total, self.text[start:end], start)
            self._cut[start] = cached
        return cached

    def cut_all(self) -> None:
        for m in BLOCK.finditer(self.text):
            self.starts(m.span())

    @staticmethod
    def _on(starts: list[int], pos: int) -> bool:
        i = bisect.bisect_left(starts, pos)
        return i < len(starts) and starts[i] == pos

    def check(self, start: int, end: int) -> tuple[bool, bool]:
        """(whole word, does not cross a boundary) for the span [start, end).

        Whole: the span starts and ends on token boundaries (it may cover several tokens).
        Not crossing: it is whole, or it lies inside one token (青年 in 中青年).
        A span outside any block (punctuation, emoji) counts as whole.
        """
        block = self.block_at(start)
        if block is None:
            return True, True
        block_start, block_end = block
        if start == block_start and end == block_end:
            return True, True  # the word is the whole block (#考编#, “两委”): no need to cut it
        starts = self.starts(block)
        if end > block_end:
            # Spans running past the block's end (a word with a symbol jieba splits on) still have
            # to start on a boundary; what lies after belongs to other blocks.
            whole = self._on(starts, start)
            return whole, whole
        whole = self._on(starts, start) and self._on(starts, end)
        if whole:
            return True, True
        i = bisect.bisect_right(starts, start)
        inside = i < len(starts) and starts[i] >= end
        if inside and self.added:
            ts, te = starts[i - 1], starts[i]
            if (ts == start or te == end) and self.text[ts:te] in self.added:
                if end - start > 1:
                    return True, True
                rest = self.text[end:te] if ts == start else self.text[ts:start]
                if len(rest) > 1 and self.tokenizer.FREQ.get(rest):
                    return True, True
        return False, inside

    def distance(self, p: int, q: int, limit: int) -> int:
        """How many words apart positions p <= q are (0: same word), counting at most limit + 1.

        Only the blocks between the two positions are cut, and counting stops past `limit`.
        """
        bp, bq = self._block_at_or_after(p), self._block_at_or_after(q)
        if bp is None or bq is None:
            return limit + 1
        if bp == bq:
            starts = self.starts(bp)
            return bisect.bisect_right(starts, q) - bisect.bisect_right(starts, p)
        starts = self.starts(bp)
        n = len(starts) - bisect.bisect_right(starts, p)
        for m in BLOCK.finditer(self.text, bp[1], bq[0]):
            if n > limit:
                return n
            n += len(self.starts(m.span())) - 1
        return n + bisect.bisect_right(self.starts(bq), q)

    def _block_at_or_after(self, pos: int) -> tuple[int, int] | None:
        block = self.block_at(pos)
        if block is not None:
            return block
        m = BLOCK.search(self.text, pos)
        return m.span() if m else None


def all_tokens(tokenizer: jieba.Tokenizer, text: str, hmm: bool) -> list[str]:
    """Plain segmentation of a whole text (the benchmark's baseline)."""
    return list(tokenizer.cut(text, HMM=hmm))
