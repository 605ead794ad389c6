"""Negativity: does a post complain, accuse, air a grievance or expose wrongdoing, and why.

Scored for every post by `RuleSet.analyse`, on the normalised title and body. A domain lexicon
(`rules/negativity.yaml`: accusations of misconduct, grievances, rhetorical questions, exposure and
discipline wording, with negative weights for rebuttals of rumours, routine notices and positive
publicity) is searched with one Aho-Corasick pass; a cue preceded in its clause by a negator (未发现
违规, 不存在内定, 防止, 杜绝) does not count; a question counts only through cues that imply
wrongdoing (谁同意的？ 钱去哪了？), so a plain consultation stays neutral. Negativity is about the
post's target, not its mood: a shop review's bad mood has no cue here. The verdict carries the cues
that drove it as its reasons.

A small learned model (`rules/negativity_model.json`, trained offline by bench/train_negativity.py)
then corrects the lexicon's verdict for posts that hold at least one cue: a logistic regression over
the post's characters and character pairs that takes the lexicon's log-odds as a fixed input, so
the lexicon still decides when the model has nothing to say. Its features are found with a second
automaton pass, only for posts with a cue; the reasons name the features that weighed most. A post
without any cue stays neutral and costs nothing more.
"""

from __future__ import annotations

import heapq
import json
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick_rs

from yuqing.errors import Problem, RuleError, did_you_mean
from yuqing.yamlfile import load_yaml

from .normalise import Normaliser

LEXICON = Path(__file__).parent / "negativity.yaml"
MODEL = Path(__file__).parent / "negativity_model.json"
# The end of a window back from a cue that lies in the cue's own clause.
_CLAUSE_TAIL = re.compile(r"[^，,。！？!?；;：:\n、…]*$")
_A_NOT_A = re.compile(r"(.)[不没]\1")
# From a cue to the end of its clause: a question ending in 吗 / 嘛 ("不是……吗？") is rhetorical.
_RHETORICAL = re.compile(r"[^，,。！？!?；;\n]*[吗嘛][？?]")
_FIRST = operator.itemgetter(0)
_KEYS = ("threshold", "scale", "negators", "negation_window", "cues", "model")
_CUE_KEYS = ("weight", "negatable", "words")


@dataclass(frozen=True)
class Negativity:
    """A post's negativity: a 0..1 score, the verdict, and the cues behind it."""

    score: float
    negative: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
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
    """The learned correction: a bias and a weight per character or character pair, found with
    their own automaton (not the engine's, whose pass every post pays for)."""

    def __init__(self, bias: float, features: dict[str, float]):
        self.bias = bias
        self.words = list(features)
        self.weights = [features[w] for w in self.words]
        self.magnitudes = [abs(w) for w in self.weights]
        self.automaton = ahocorasick_rs.AhoCorasick(self.words) if self.words else None

    @classmethod
    def from_file(cls, path: Path) -> Learned:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return cls(float(doc["bias"]), {str(k): float(v) for k, v in doc["features"].items()})

    def contributions(self, texts: list[str]) -> set[int]:
        """Indices of the features found, each counted once per post however often it occurs.
        C-level set and map calls: this runs for every post with a cue."""
        if self.automaton is None:
            return set()
        found: set[int] = set()
        for text in texts:
            if text:
                found.update(map(_FIRST, self.automaton.find_matches_as_indexes(text, overlapping=True)))
        return found


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
    ):
        self.learned = learned
        self.threshold = threshold
        self.scale = scale
        self.window = window
        self.negators = tuple(sorted({normaliser.word(n) for n in negators}, key=len, reverse=True))
        self._negator_re = re.compile("|".join(re.escape(n) for n in self.negators) or "(?!)")
        self.cues: dict[str, _Cue] = {}
        for cue in cues:
            key = normaliser.word(cue.word)
            if key and key not in self.cues:
                self.cues[key] = cue
        # Cues that lie inside another cue (公示 in 予以公示): only their hits need the containment test.
        words = [c.word for c in self.cues.values()]
        self._nested = {w for w in words if any(w != o and w in o for o in words)}
        # Used when scoring a text on its own; RuleSet.analyse finds the cues in its own pass.
        self._keys = list(self.cues)
        self.automaton = ahocorasick_rs.AhoCorasick(self._keys) if self._keys else None
        self._neutral = Negativity(self._squash(0.0), 0.0 >= threshold, ())

    @classmethod
    def shipped(cls, normaliser: Normaliser) -> NegativityModel:
        return cls.from_file(LEXICON, normaliser)

    @classmethod
    def from_file(cls, path: Path, normaliser: Normaliser, *, learned: bool | Path = True) -> NegativityModel:
        """The lexicon at `path`, with the learned model its `model` key names (beside it) unless
        `learned` is false (the training script scores with the lexicon alone); a path for
        `learned` loads that model whatever the key says (bench/rules_quality compares both)."""
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
        cues: list[_Cue] = []
        for name, section in (root.get("cues") or {}).items():
            if not isinstance(section, dict):
                problems.append(doc.problem(["cues", name], "a cue category is {weight, negatable, words}"))
                continue
            for key in section:
                if key not in _CUE_KEYS:
                    problems.append(doc.problem(["cues", name, key], f"unknown key '{key}'{did_you_mean(str(key), _CUE_KEYS)}"))
            weight = section.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                problems.append(doc.problem(["cues", name, "weight"], "'weight' must be a number"))
                continue
            cues += [_Cue(str(w), str(name), float(weight), bool(section.get("negatable", True))) for w in section.get("words") or []]
        model: Learned | None = None
        model_path = learned if isinstance(learned, Path) else path.parent / str(root.get("model") or "")
        if isinstance(learned, Path) or (learned and root.get("model")):
            try:
                model = Learned.from_file(model_path)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                problems.append(doc.problem(["model"], f"cannot read the learned model {model_path.name}: {exc}"))
        if problems:
            raise RuleError(problems)
        return cls(
            cues,
            [str(n) for n in root.get("negators") or []],
            threshold=float(root.get("threshold", 2.0)),
            scale=float(root.get("scale", 2.0)),
            window=int(root.get("negation_window", 4)),
            normaliser=normaliser,
            learned=model,
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

    def evaluate_parts(self, parts: list[tuple[str, list[tuple[int, int, _Cue]]]]) -> tuple[float, bool, tuple[str, ...]]:
        """`evaluate` as a plain (score, negative, reasons) tuple: the engine's path for posts no
        rule can fire on, which builds its `Analysis` straight from it."""
        counted: dict[str, float] = {}
        reasons: list[str] = []
        for text, hits in parts:
            if len(hits) > 1:
                # A cue inside a longer cue (公示 inside 予以公示) is the longer one's business; only
                # cues that are part of another cue can be, so the others skip the test.
                nested = self._nested
                hits = [
                    h for h in hits
                    if h[2].word not in nested or not any(o[0] <= h[0] and h[1] <= o[1] and o[1] - o[0] > h[1] - h[0] for o in hits)
                ]
            for start, _end, cue in hits:
                word = cue.word
                if word in counted:
                    continue
                if cue.checks_negation and self._negated(text, start):
                    reasons.append(cue.negated_reason)
                    counted[word] = 0.0
                    continue
                counted[word] = cue.weight
                reasons.append(cue.reason)
        raw = sum(counted.values())
        if self.learned is None:
            return self._squash(raw), raw >= self.threshold, tuple(reasons)
        # The learned correction: the lexicon's log-odds plus the bias and the weights of the
        # characters and pairs found; the verdict is its sign, the score its logistic.
        learned = self.learned
        found = learned.contributions([text for text, _ in parts])
        correction = learned.bias + sum(map(learned.weights.__getitem__, found))
        z = (raw - self.threshold) * 2.0 / self.scale + correction
        top = heapq.nlargest(5, found, key=learned.magnitudes.__getitem__)
        reasons.append(f"model: {correction:+.2f} (" + ", ".join(f"{learned.words[i]} {learned.weights[i]:+.2f}" for i in top) + ")")
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), z >= 0.0, tuple(reasons)

    def _squash(self, raw: float) -> float:
        """The raw sum as a 0..1 score, 0.5 at the threshold."""
        return 1.0 / (1.0 + math.exp(-(raw - self.threshold) * 2.0 / self.scale))

    def _negated(self, text: str, start: int) -> bool:
        """Whether a negator stands before the cue in its clause (within `negation_window` characters)."""
        window = text[max(0, start - self.window) : start]
        if not window or not self._negator_re.search(window):
            return False  # the common case, decided with one search
        before = _CLAUSE_TAIL.search(window).group()  # type: ignore[union-attr]  # always matches
        # "A不A" asks a question (是不是要送礼？ 这算不算贿选？): it implies the cue rather than denying it.
        if not self._negator_re.search(_A_NOT_A.sub("", before)):
            return False
        return not _RHETORICAL.match(text, start)  # 这不是明摆着歧视吗？ affirms the cue


def lexicon_problems(path: Path, normaliser: Normaliser) -> list[Problem]:
    """Problems of a lexicon file (for `yuqing rules check`)."""
    try:
        NegativityModel.from_file(path, normaliser)
    except RuleError as exc:
        return exc.problems
    return []
