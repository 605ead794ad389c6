"""Negativity: does a post complain, accuse, air a grievance or expose wrongdoing, and why.

Scored by `RuleSet.analyse` on the normalised title and body: at once for a post with a topic, for
any other post when its negativity is first read (`rules.engine.Analysis`). A domain lexicon
(`rules/negativity.yaml`: accusations of misconduct, grievances, rhetorical questions, exposure and
discipline wording, with negative weights for rebuttals of rumours, routine notices and positive
publicity) is searched with one Aho-Corasick pass; a cue preceded in its clause by a negator (未发现
违规, 不存在内定, 防止, 杜绝) does not count; a question counts only through cues that imply
wrongdoing (谁同意的？ 钱去哪了？), so a plain consultation stays neutral. Negativity is about the
post's target, not its mood: a shop review's bad mood has no cue here. The verdict carries the cues
that drove it as its reasons.

A small learned model (`rules/negativity_model.json`, trained offline by bench/train_negativity.py)
then corrects the lexicon's verdict for posts that hold at least one cue: a logistic regression
over the post's characters that takes the lexicon's log-odds as a fixed input, so the lexicon still
decides when the model has nothing to say. The reasons name the characters that weighed most. A
post without any cue stays neutral. The lexicon's `model_for` says which posts the model corrects:
`topic_posts` (shipped), the posts a rule fired on, the verdicts officers see and the kind of post
it was trained on (elsewhere it is no better than the lexicon, and consulting it for every post with
a cue would cost the engine a third of its speed), or `all_posts`.

`together` cues are structures rather than words: lists that must each have a word in one sentence
(an official, a relative, a benefit). Rule negators (严禁, 不得) cover their whole clause, and a cue
inside a document's title (《……处理办法》) does not count.
"""

from __future__ import annotations

import copy
import json
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick_rs

from yuqing.errors import Problem, RuleError, did_you_mean
from yuqing.yamlfile import YamlDocument, load_yaml

from .normalise import Normaliser

LEXICON = Path(__file__).parent / "negativity.yaml"
MODEL = Path(__file__).parent / "negativity_model.json"
# The end of a window back from a cue that lies in the cue's own clause.
_CLAUSE_TAIL = re.compile(r"[^，,。！？!?；;：:\n、…]*$")
# The same, with list commas inside the clause: a rule's negator (严禁跑官要官、买官卖官) covers the
# whole list after it.
_CLAUSE_LIST_TAIL = re.compile(r"[^，,。！？!?；;：:\n…]*$")
_A_NOT_A = re.compile(r"(.)[不没]\1")
# From a cue to the end of its clause: a question ending in 吗 / 嘛 ("不是……吗？") is rhetorical.
_RHETORICAL = re.compile(r"[^，,。！？!?；;\n]*[吗嘛][？?]")
_KEYS = ("threshold", "scale", "negators", "clause_negators", "negation_window", "cues", "together", "model", "model_for")
# How far the learned model may move the lexicon's log-odds, either way. Its features are single
# characters, and on a short post a few function characters (下, 市) summed to -1.9 and overturned a
# plain accusation (副局长的人选已经内定了; the lexicon's margin there is +0.5). A cap keeps it a
# correction near the threshold: a post whose cues say loudly one thing stays so. Measured over the
# held-back dev posts and the five frozen sets (821 posts): uncapped 744 right, capped at 3.0 or 2.0
# 745, 1.5 747, 1.0 732. One to three posts is noise; 2.0 is kept for the reason above, not the count.
MAX_CORRECTION = 2.0
# Which posts the learned model corrects (see the module's docstring).
MODEL_FOR = ("topic_posts", "all_posts")
_TOGETHER_KEYS = ("weight", "words")
_TOGETHER = "together"  # the category of a word only a `together` cue needs: it adds nothing alone
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_find_sentence_end = _SENTENCE_END.search
_CUE_OF = operator.itemgetter(2)
_CUE_KEYS = ("weight", "negatable", "words")
# A cue as `NegativityModel.evaluate_matches` reads it (`cue_table`): what it adds to the raw sum,
# whether a negator may cancel it, its reason line (None for a word only a `together` cue needs),
# its reason line when negated, its `together` bits (and the holder bit), and the cue.
_Entry = tuple[float, bool, "str | None", str, int, "_Cue"]


@dataclass(frozen=True)
class Negativity:
    """A post's negativity: a 0..1 score, the verdict, and the cues behind it."""

    score: float
    negative: bool
    reasons: tuple[str, ...]


# slots: its fields are read for every cue hit of every post; eq=False: a cue is one entry of one
# lexicon, hashed by identity at C speed (no id() call, no Python-level __hash__ per hit).
@dataclass(frozen=True, slots=True, eq=False)
class _Cue:
    word: str
    category: str
    weight: float
    negatable: bool
    # Derived once here rather than for every post that holds the cue: the reason lines and
    # whether a negator before it can cancel it.
    reason: str = field(init=False, compare=False)
    negated_reason: str = field(init=False, compare=False)
    checks_negation: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", f"{self.category}: {self.word} ({self.weight:+g})")
        object.__setattr__(self, "negated_reason", f"not counted (negated): {self.word}")
        object.__setattr__(self, "checks_negation", self.negatable and self.weight > 0)


class Learned:
    """The learned correction: a bias and a weight per feature (characters, or runs of characters).
    Single characters are found with one C-level regex search over a class of them; longer
    features, if any, with their own automaton (not the engine's, whose pass every post pays for)."""

    def __init__(self, bias: float, features: dict[str, float]):
        self.bias = bias
        self.weights = dict(features)
        # Features by decreasing weight (then by name): the reasons name the first four found, and
        # their weights are added in this order, so a correction is the same in every process
        # (a set's order changes with the hash seed).
        ranked = sorted(features, key=lambda f: (-abs(features[f]), f))
        self.rank = {f: i for i, f in enumerate(ranked)}
        self.labels = {f: f"{f} {features[f]:+.2f}" for f in ranked}
        self.chars = frozenset(w for w in features if len(w) == 1)
        # findall + set: a fifth faster than intersecting the set with every character of the text
        # (which builds a string object per character): 27.6 -> 20.6 ms over the 3,904 posts with
        # a cue in the bench sample.
        self._find_chars = re.compile("[" + "".join(map(re.escape, sorted(self.chars))) + "]").findall if self.chars else None
        self.runs = [w for w in features if len(w) > 1]
        self.automaton = ahocorasick_rs.AhoCorasick(self.runs) if self.runs else None

    @classmethod
    def from_file(cls, path: Path) -> Learned:
        return cls(*cls.read(path))

    @staticmethod
    def read(path: Path) -> tuple[float, dict[str, float]]:
        """A model file's bias and feature weights."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        return float(doc["bias"]), {str(k): float(v) for k, v in doc["features"].items()}

    def found(self, texts: list[str]) -> list[str]:
        """The features a post holds, each once however often it occurs, strongest first."""
        out: set[str] = set()
        for text in texts:
            if text:
                if self._find_chars is not None:
                    out.update(self._find_chars(text))
                if self.automaton is not None:
                    runs = self.runs
                    out.update(runs[i] for i, _s, _e in self.automaton.find_matches_as_indexes(text, overlapping=True))
        return sorted(out, key=self.rank.__getitem__)

    def correct(self, texts: list[str]) -> tuple[float, str]:
        """The correction for a post's normalised texts, at most MAX_CORRECTION either way, and its
        reason line (the four strongest features found)."""
        found = self.found(texts)
        raw = self.bias + sum(map(self.weights.__getitem__, found))
        correction = max(-MAX_CORRECTION, min(MAX_CORRECTION, raw))
        capped = f" capped from {raw:+.2f}" if correction != raw else ""
        return correction, f"model: {correction:+.2f}{capped} (" + ", ".join(map(self.labels.__getitem__, found[:4])) + ")"


def _checked_weight(doc: YamlDocument, loc: list[Any], section: dict[Any, Any], allowed: tuple[str, ...],
                    problems: list[Problem]) -> float | None:
    """A lexicon section's weight, after its keys are checked; None (and a problem) when it is not a number."""
    for key in section:
        if key not in allowed:
            problems.append(doc.problem([*loc, key], f"unknown key '{key}'{did_you_mean(str(key), allowed)}"))
    weight = section.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        problems.append(doc.problem([*loc, "weight"], "'weight' must be a number"))
        return None
    return float(weight)


class NegativityModel:
    """The lexicon compiled into one automaton, and the learned correction when there is one."""

    def __init__(
        self,
        cues: list[_Cue],
        negators: list[str],
        *,
        threshold: float,
        scale: float,
        window: int,
        normaliser: Normaliser,
        learned: Learned | None = None,
        learned_for: str = "topic_posts",
        together: list[tuple[str, float, list[list[str]]]] | None = None,
        clause_negators: list[str] | None = None,
    ):
        self.learned = learned
        self.learned_for = learned_for
        self.threshold = threshold
        self.scale = scale
        self.window = window
        self.negators = tuple(sorted({normaliser.word(n) for n in negators}, key=len, reverse=True))
        self._negator_re = re.compile("|".join(re.escape(n) for n in self.negators) or "(?!)")
        # Negators of rules and notices (严禁, 不得) that cover everything after them in their clause.
        clause = sorted({normaliser.word(n) for n in clause_negators or []}, key=len, reverse=True)
        self._clause_negator_re = re.compile("|".join(re.escape(n) for n in clause)) if clause else None
        self._clause_or_title = re.compile("|".join(["《", *(re.escape(n) for n in clause)]))
        # The two searches that decide nearly every negation test (`negated`), bound once.
        self._find_clause_or_title = self._clause_or_title.search if clause else None
        self._find_negator = self._negator_re.search
        self.cues: dict[str, _Cue] = {}
        for cue in cues:
            key = normaliser.word(cue.word)
            if key and key not in self.cues:
                self.cues[key] = cue
        # `together` cues: word lists that must all be found in one sentence (an official, his
        # relative and a benefit: 局长的小舅子被提拔). Their words are found in the same pass as the
        # other cues; a word no other cue names is added silently (it counts for nothing alone).
        self.together: list[tuple[str, float, tuple[frozenset[str], ...]]] = []
        for name, weight, members in together or []:
            sets = []
            for member in members:
                words_of: set[str] = set()
                for w in member:
                    key = normaliser.word(w)
                    if not key:
                        continue
                    if key not in self.cues:
                        self.cues[key] = _Cue(w, _TOGETHER, 0.0, False)
                    words_of.add(self.cues[key].word)
                sets.append(frozenset(words_of))
            self.together.append((name, weight, tuple(sets)))
        # The together cues (by index) each word of their first list can start: a post is tested
        # only against the cues whose first list it has a word of.
        by_first: dict[str, list[int]] = {}
        for k, (_, _, lists) in enumerate(self.together):
            for w in lists[0] if lists else ():
                by_first.setdefault(w, []).append(k)
        self._together_by_first = {w: tuple(ks) for w, ks in by_first.items()}
        # Whether a part holds a word of every list of some `together` cue, with three C-level int
        # operations instead of `_together_in`'s set tests (which 93% of the posts that reach it
        # fail): a word's bits mark the lists it belongs to, a lane of `lane` bits per cue; adding
        # `_together_carry` (per lane, 2^(lane-1) minus the lane's full value) sets a lane's top
        # bit exactly when all its list bits are set. It cost 6% of the engine's time per post.
        lane = max((len(lists) for _, _, lists in self.together), default=0) + 1
        bits: dict[str, int] = {}
        self._together_carry = self._together_top = 0
        for k, (_, _, lists) in enumerate(self.together):
            for j, listed in enumerate(lists):
                for w in listed:
                    bits[w] = bits.get(w, 0) | 1 << (k * lane + j)
            self._together_carry += ((1 << (lane - 1)) - ((1 << len(lists)) - 1)) << (k * lane)
            self._together_top |= 1 << (k * lane + lane - 1)
        self._together_bits = bits
        # Used when scoring a text on its own; RuleSet.analyse finds the cues in its own pass.
        self._keys = list(self.cues)
        self.automaton = ahocorasick_rs.AhoCorasick(self._keys) if self._keys else None
        # Cues that lie inside another cue (公示 in 予以公示) and, per such cue, the longer cues that
        # hold it: its hit needs the containment test only when one of those was found too, which
        # is rare. Lexicon cues only: a word only a `together` cue needs neither hides nor is
        # hidden. Found by running the cue automaton over each cue: comparing every pair took
        # 0.09 s of every load at 1,500 cues, and grows with the square.
        outer: dict[_Cue, set[_Cue]] = {}
        for key, cue in self.cues.items():
            if cue.category == _TOGETHER or self.automaton is None:
                continue
            for i, _s, _e in self.automaton.find_matches_as_indexes(key, overlapping=True):
                inner = self.cues[self._keys[i]]
                if len(self._keys[i]) < len(key) and inner.category != _TOGETHER:
                    outer.setdefault(inner, set()).add(cue)
        self._outer = {inner: frozenset(holders) for inner, holders in outer.items()}
        self._neutral = Negativity(self._squash(0.0), 0.0 >= threshold, ())
        # A post with one cue hit (over half the posts with a cue) has one of two verdicts per cue,
        # counted or negated: computed here once, by the cue's identity (`evaluate_one`).
        nothing = self._squash(0.0), 0.0 >= threshold
        self._one: dict[_Cue, tuple[tuple[float, bool, tuple[str, ...]], tuple[float, bool, tuple[str, ...]]]] = {
            cue: (
                (*nothing, ()) if cue.category == _TOGETHER else (self._squash(cue.weight), cue.weight >= threshold, (cue.reason,)),
                (*nothing, (cue.negated_reason,)),
            )
            for cue in self.cues.values()
        }
        # A cue that holds a shorter one (予以公示 holds 公示) sets this bit, above every `together`
        # lane, in its `cue_table` entry: a post with one takes the general path (`evaluate_matches`).
        self._holds_bit = 1 << lane * len(self.together)
        self._holders: frozenset[_Cue] = frozenset().union(*self._outer.values())
        self._neutral_verdict = self._neutral.score, self._neutral.negative, self._neutral.reasons

    @property
    def corrects_every_post(self) -> bool:
        """Whether the learned model (if any) corrects every post with a cue, not only topic posts."""
        return self.learned is not None and self.learned_for == "all_posts"

    def lexicon_only(self) -> NegativityModel:
        """The same lexicon without the learned model: the engine's verdict for a post no rule
        fired on when the model is for topic posts only (the compiled lexicon is shared)."""
        if self.learned is None:
            return self
        plain = copy.copy(self)
        plain.learned = None
        return plain

    @classmethod
    def shipped(cls, normaliser: Normaliser) -> NegativityModel:
        return cls.from_file(LEXICON, normaliser)

    @classmethod
    def from_file(cls, path: Path, normaliser: Normaliser, *, learned: bool | Path = True) -> NegativityModel:
        """The lexicon at `path`, with the learned model its `model` key names (beside it) unless
        `learned` is false (the training script scores with the lexicon alone); a path for
        `learned` loads that model whatever the key says (bench/rules_quality compares both)."""
        return cls.from_lexicon(read_lexicon(path, learned=learned), normaliser)

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon, normaliser: Normaliser) -> NegativityModel:
        """The model of a lexicon read by `read_lexicon` (kept in the rules cache by `rules.loading`)."""
        return cls(
            [_Cue(*cue) for cue in lexicon.cues],
            list(lexicon.negators),
            threshold=lexicon.threshold,
            scale=lexicon.scale,
            window=lexicon.window,
            normaliser=normaliser,
            learned=Learned(*lexicon.learned) if lexicon.learned is not None else None,
            learned_for=lexicon.learned_for,
            together=[(name, weight, [list(m) for m in members]) for name, weight, members in lexicon.together],
            clause_negators=list(lexicon.clause_negators),
        )

    def log_odds(self, score: float) -> float:
        """The lexicon's verdict as log-odds (0 at the threshold): what the learned model adds to."""
        return math.log(score / (1.0 - score)) if 0.0 < score < 1.0 else math.copysign(50.0, score - 0.5)

    def score(self, text: str) -> Negativity:
        """Negativity of a normalised text."""
        if self.automaton is None:
            return self._neutral
        found = self.automaton.find_matches_as_indexes(text, overlapping=True)
        return self.evaluate([(text, [(start, end, self.cues[self._keys[i]]) for i, start, end in found])])

    def evaluate(self, parts: list[tuple[str, list[tuple[int, int, _Cue]]]]) -> Negativity:
        """Negativity from cue hits already found in each normalised field (the engine finds them
        in its own automaton pass, so a post is scanned once)."""
        for _, hits in parts:
            if hits:
                break
        else:
            return self._neutral
        return Negativity(*self.evaluate_parts(parts))

    def evaluate_one(self, text: str, hit: tuple[int, int, _Cue]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate_parts` of a post whose only cue hit is `hit` (in `text`): one negation test
        and a verdict computed beforehand, instead of the general loop (1.9 -> 0.8 us a post)."""
        start, _end, cue = hit
        counted, negated = self._one[cue]
        if cue.checks_negation and self.negated(text, start):
            verdict, raw = negated, 0.0
        else:
            verdict, raw = counted, (0.0 if cue.category == _TOGETHER else cue.weight)
        return verdict if self.learned is None else self._corrected(raw, verdict[2], [text])

    def one_hit_verdicts(self, cue: _Cue) -> tuple[tuple[float, bool, tuple[str, ...]], tuple[float, bool, tuple[str, ...]]]:
        """The lexicon's two verdicts on a post whose only cue hit is of `cue`: counted, negated."""
        return self._one[cue]

    def cue_table(self, cue_at: list[_Cue | None]) -> list[_Entry | None]:
        """What `evaluate_matches` reads of each cue, by the pattern index of an automaton whose
        pattern i is the cue `cue_at[i]` (None: not a cue): built once by the engine."""
        bits = self._together_bits
        return [
            None if cue is None else (
                0.0 if cue.category == _TOGETHER else cue.weight,
                cue.checks_negation,
                None if cue.category == _TOGETHER else cue.reason,
                cue.negated_reason,
                bits.get(cue.word, 0) | (self._holds_bit if cue in self._holders else 0),
                cue,
            )
            for cue in cue_at
        ]

    def evaluate_matches(self, text: str, matches: list[tuple[int, int, int]], table: list[_Entry | None]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate_parts` of a post whose one field is `text`, from an automaton's (pattern index,
        start, end) matches in it, `table` (`cue_table`) naming each index's cue: the verdict the
        engine computes for a body no rule can fire on when its negativity is read. One pass over
        the matches, without building the hits: each cue counts at its first hit, in the general
        loop's order (so the reasons and the raw sum are the same, to the last bit). A post with a
        cue that holds a shorter one, or with a word of every list of a `together` cue (a tenth of
        the posts with two cues or more), takes the general loop, which sorts those out."""
        if len(matches) == 1:  # the commonest: one cue hit (or a rule word, and no cue)
            idx, start, end = matches[0]
            entry = table[idx]
            return self._neutral_verdict if entry is None else self.evaluate_one(text, (start, end, entry[5]))
        counted: dict[int, float] = {}  # by pattern index: the same cue's hits all have its index
        reasons: list[str] = []
        lists = 0  # the `together` lists the post has a word of (`cue_table`)
        holds = self._holds_bit
        for idx, start, _end in matches:
            if idx in counted:
                continue
            entry = table[idx]
            if entry is None:
                continue
            weight, checks, reason, negated_reason, bits, _cue = entry
            if bits:
                if bits & holds:  # (no use testing the other cues' negation: the general loop will)
                    return self._matches_in_general(text, matches, table)
                lists |= bits
            if checks and self.negated(text, start):
                reasons.append(negated_reason)
                counted[idx] = 0.0
                continue
            counted[idx] = weight
            if reason is not None:
                reasons.append(reason)
        if not counted:
            return self._neutral_verdict
        if (lists + self._together_carry) & self._together_top:
            return self._matches_in_general(text, matches, table)
        raw = sum(counted.values())
        if self.learned is None:
            return self._squash(raw), raw >= self.threshold, tuple(reasons)
        return self._corrected(raw, tuple(reasons), [text])

    def _matches_in_general(self, text: str, matches: list[tuple[int, int, int]], table: list[_Entry | None]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate_matches` by the general loop: the matches' cues as hits."""
        return self._evaluate_parts([(text, [(start, end, entry[5]) for idx, start, end in matches if (entry := table[idx]) is not None])])

    def evaluate_parts(self, parts: list[tuple[str, list[tuple[int, int, _Cue]]]]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate` as a plain (score, negative, reasons) tuple: the verdict the engine computes
        for a post no rule can fire on when its negativity is read."""
        return self._evaluate_parts(parts)

    def _evaluate_parts(self, parts: list[tuple[str, list[tuple[int, int, _Cue]]]]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate_parts`, hit by hit."""
        counted: dict[str, float] = {}
        reasons: list[str] = []
        together_bits = self._together_bits
        for text, hits in parts:
            lists_found = 0  # the `together` lists this part has a word of (`_together_bits`)
            if len(hits) > 1:
                # A cue inside a longer cue (公示 inside 予以公示) is the longer one's business; only
                # cues that are part of another cue can be, and only when such a cue was found too.
                outer = self._outer
                # (C-level first: most posts hold no such cue.)
                inner = [] if outer.keys().isdisjoint(map(_CUE_OF, hits)) else [h for h in hits if h[2] in outer]
                if inner:
                    present = set(map(_CUE_OF, hits))
                    hidden = [
                        h for h in inner
                        if not outer[h[2]].isdisjoint(present)
                        and any(o[0] <= h[0] and h[1] <= o[1] and o[1] - o[0] > h[1] - h[0] and o[2].category != _TOGETHER for o in hits)
                    ]
                    if hidden:
                        hits = [h for h in hits if h not in hidden]
            for start, _end, cue in hits:
                word = cue.word
                in_lists = together_bits.get(word)
                if in_lists is not None:
                    lists_found |= in_lists
                if word in counted:
                    continue
                if cue.category == _TOGETHER:
                    counted[word] = 0.0
                    continue
                if cue.checks_negation and self.negated(text, start):
                    reasons.append(cue.negated_reason)
                    counted[word] = 0.0
                    continue
                counted[word] = cue.weight
                reasons.append(cue.reason)
            if (lists_found + self._together_carry) & self._together_top:
                # Where each `together` word is: gathered only now (few posts get here).
                placed: dict[str, list[int]] = {}
                for start, _end, cue in hits:
                    if cue.word in together_bits:
                        placed.setdefault(cue.word, []).append(start)
                if len(placed) > 1:
                    self._together_in(text, placed, counted, reasons)
        raw = sum(counted.values())
        if self.learned is None:
            return self._squash(raw), raw >= self.threshold, tuple(reasons)
        return self._corrected(raw, tuple(reasons), [text for text, _ in parts])

    def _corrected(self, raw: float, reasons: tuple[str, ...], texts: list[str]) -> tuple[float, bool, tuple[str, ...]]:
        """The learned correction: the lexicon's log-odds plus the bias and the weights of the
        features found; the verdict is its sign, the score its logistic."""
        correction, reason = self.learned.correct(texts)  # type: ignore[union-attr]  # only called with a model
        z = (raw - self.threshold) * 2.0 / self.scale + correction
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), z >= 0.0, (*reasons, reason)

    def _together_in(self, text: str, placed: dict[str, list[int]], counted: dict[str, float], reasons: list[str]) -> None:
        """Count each `together` cue whose lists all have a word in one sentence of `text`."""
        words = placed.keys()
        candidates = set().union(*filter(None, map(self._together_by_first.get, words)))
        for k in sorted(candidates):
            name, weight, members = self.together[k]
            # A C-level test first: most posts lack a word of some list (no generator per cue).
            if any(map(words.isdisjoint, members)):
                continue
            key = _TOGETHER + ":" + name
            if key in counted:
                continue
            # Per list, the sentences where one of its words is, and that word. A sentence is named
            # by where it ends (the first sentence end at or after the word, or the text's end): one
            # search per word found rather than every sentence end of the text, which for a long
            # news body took half the time of this test (the 101 bench posts that get here:
            # 1.8 -> 0.9 ms).
            by_sentence: list[dict[int, tuple[str, int]]] = []
            for member in members:
                where: dict[int, tuple[str, int]] = {}
                # Longest word first (老部下, not the 部下 inside it), then the earliest.
                for word in sorted(member & placed.keys(), key=lambda w: (-len(w), placed[w][0])):
                    for pos in placed[word]:
                        end = _find_sentence_end(text, pos)
                        where.setdefault(end.start() if end is not None else len(text), (word, pos))
                by_sentence.append(where)
            shared = set(by_sentence[0]).intersection(*by_sentence[1:])
            if shared:
                sentence = min(shared)
                found = [w[sentence] for w in by_sentence]
                names = " + ".join(word for word, _ in found)
                # 排查村干部亲属享受低保 checks for the structure rather than reporting it.
                if any(self.negated(text, pos) for _, pos in found):
                    counted[key] = 0.0
                    reasons.append(f"not counted (negated): {name}: {names}")
                    continue
                counted[key] = weight
                reasons.append(f"{name}: {names} ({weight:+g})")

    def _squash(self, raw: float) -> float:
        """The raw sum as a 0..1 score, 0.5 at the threshold."""
        return 1.0 / (1.0 + math.exp(-(raw - self.threshold) * 2.0 / self.scale))

    def negated(self, text: str, start: int) -> bool:
        """Whether a negator stands before the cue in its clause (within `negation_window` characters)."""
        # The common case (no rule negator or title mark in the 30 characters before the cue, no
        # negator in the window) is decided here with two C-level searches, no further call and no
        # slice: over the 4,989 negatable cue hits of the bench sample, 5.3 -> 4.3 ms.
        find = self._find_clause_or_title
        if find is not None and find(text, start - 30 if start > 30 else 0, start) and self._clause_negated(text, start):
            return True
        window = self.window
        begin = start - window if start > window else 0
        if not self._find_negator(text, begin, start):
            return False
        before = _CLAUSE_TAIL.search(text[begin:start]).group()  # type: ignore[union-attr]  # always matches
        # "A不A" asks a question (是不是要送礼？ 这算不算贿选？): it implies the cue rather than denying it.
        if not self._negator_re.search(_A_NOT_A.sub("", before)):
            return False
        return not _RHETORICAL.match(text, start)  # 这不是明摆着歧视吗？ affirms the cue

    def _clause_negated(self, text: str, start: int) -> bool:
        """Whether a rule's negator (严禁, 不得) stands anywhere before the cue in its clause, list
        commas included (严禁跑官要官、买官卖官), or the cue is inside a document's title
        (《公务员录用违纪违规行为处理办法》 names rules; it accuses no one). Asked by `negated` only
        when one of them or a title mark stands in the 30 characters before the cue."""
        begin = max(0, start - 30)
        opening = text.rfind("《", begin, start)
        if opening >= 0 and text.find("》", opening, start) < 0:
            return True
        clause = _CLAUSE_LIST_TAIL.search(text[begin:start]).group()  # type: ignore[union-attr]  # always matches
        return bool(self._clause_negator_re.search(clause)) and not _RHETORICAL.match(text, start)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Lexicon:
    """A negativity lexicon as read from its file, plain data: what `NegativityModel` compiles, and
    what the rules cache keeps (reading the shipped lexicon's YAML is most of a warm load's time)."""

    cues: tuple[tuple[str, str, float, bool], ...]  # (word, category, weight, negatable)
    negators: tuple[str, ...]
    threshold: float
    scale: float
    window: int
    learned: tuple[float, dict[str, float]] | None  # the learned model's bias and feature weights
    learned_for: str
    together: tuple[tuple[str, float, tuple[tuple[str, ...], ...]], ...]
    clause_negators: tuple[str, ...]


def read_lexicon(path: Path, *, learned: bool | Path = True) -> Lexicon:
    """Read and check a lexicon file (see `NegativityModel.from_file`); RuleError lists every problem."""
    doc, problems = load_yaml(path)
    if doc is None:
        raise RuleError(problems)
    root = doc.root
    problems = []
    if not isinstance(root, dict):
        raise RuleError([doc.problem([], "the negativity lexicon must be a mapping")])
    for key in root:
        if key not in _KEYS:
            problems.append(doc.problem([key], f"unknown key '{key}'{did_you_mean(str(key), _KEYS)}"))
    cues: list[tuple[str, str, float, bool]] = []
    first: dict[str, str] = {}  # cue word -> the category it was first listed in
    for name, section in (root.get("cues") or {}).items():
        if not isinstance(section, dict):
            problems.append(doc.problem(["cues", name], "a cue category is {weight, negatable, words}"))
            continue
        weight = _checked_weight(doc, ["cues", name], section, _CUE_KEYS, problems)
        if weight is None:
            continue
        for i, w in enumerate(section.get("words") or []):
            word = str(w)
            if word in first:
                # A word counts once, in the first category that lists it: a second listing would
                # silently do nothing (or, moved, change the word's weight), so it is an error.
                problems.append(doc.problem(["cues", name, "words", i], f"cue '{word}' is already listed under '{first[word]}'"))
                continue
            first[word] = str(name)
            cues.append((word, str(name), weight, bool(section.get("negatable", True))))
    model: tuple[float, dict[str, float]] | None = None
    learned_for = root.get("model_for", "topic_posts")
    if learned_for not in MODEL_FOR:
        problems.append(doc.problem(["model_for"], f"unknown model_for {learned_for!r}{did_you_mean(str(learned_for), MODEL_FOR)}"))
    model_path = learned if isinstance(learned, Path) else path.parent / str(root.get("model") or "")
    if isinstance(learned, Path) or (learned and root.get("model")):
        try:
            model = Learned.read(model_path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(doc.problem(["model"], f"cannot read the learned model {model_path.name}: {exc}"))
    together: list[tuple[str, float, list[list[str]]]] = []
    for name, section in (root.get("together") or {}).items():
        if not isinstance(section, dict) or not isinstance(section.get("words"), list) or len(section["words"]) < 2:
            problems.append(doc.problem(["together", name], "a together cue is {weight, words: [[...], [...], ...]} (two lists or more)"))
            continue
        weight = _checked_weight(doc, ["together", name], section, _TOGETHER_KEYS, problems)
        if weight is None:
            continue
        members = [[str(w) for w in m] if isinstance(m, list) else [str(m)] for m in section["words"]]
        together.append((str(name), weight, members))
    if problems:
        raise RuleError(problems)
    return Lexicon(
        cues=tuple(cues),
        negators=tuple(str(n) for n in root.get("negators") or []),
        threshold=float(root.get("threshold", 2.0)),
        scale=float(root.get("scale", 2.0)),
        window=int(root.get("negation_window", 4)),
        learned=model,
        learned_for=str(learned_for),
        together=tuple((name, weight, tuple(tuple(m) for m in members)) for name, weight, members in together),
        clause_negators=tuple(str(n) for n in root.get("clause_negators") or []),
    )


def lexicon_problems(path: Path, normaliser: Normaliser) -> list[Problem]:
    """Problems of a lexicon file (for `yuqing rules check`)."""
    try:
        NegativityModel.from_file(path, normaliser)
    except RuleError as exc:
        return exc.problems
    return []
