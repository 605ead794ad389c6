"""The topic confirmation model: a learned second look at the topics the rules matched.

A rule fires on words; most of its false matches on writing it was not fitted to are one word of a
rule on a post that belongs to another owner of the word (a firm's hiring, a village as a setting, a
notice about the collective's property that names the 村委 as its contact). After the rules have
chosen a post's topics, this model reads each matched topic's evidence - its best rule and words,
the words beside them, the post's characters, the other topics matched, the post's negativity - and
withdraws the topic when the probability that the post is on it falls below the model's threshold.
It runs only for the posts a rule fired on, and only for the topics it was trained on (the shipped
pack's six: an operator's own topic is never withdrawn). `yuqing rules test` shows a withdrawn topic
and its probability; `rules.topic_model: false` in settings.yaml turns the model off.

A logistic regression, trained offline by `python -m bench.train_topics` (which says on what and how
it was chosen) and shipped as `rules/topic_model.json`: bias, threshold, the hit window, the topics,
and the weight of every feature it kept. Written here rather than taken from scikit-learn: scoring is
a sum of a few hundred dictionary lookups, and the features are this engine's evidence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ahocorasick_rs

from yuqing.errors import Problem, RuleError
from yuqing.records import Hit

from .normalise import Normaliser

SHIPPED = Path(__file__).resolve().parent / "topic_model.json"
# Characters that never make part of a character feature (they separate clauses, not words).
_SEPARATORS = frozenset("，。！？、：；“”‘’（）《》【】,.!?:;()'\" \n\t…—-#@/|~")
_KEYS = ("threshold", "bias", "window", "topics", "features")


class Matched(Protocol):
    """What the model reads of a matched topic (`rules.engine.TopicMatch`)."""

    @property
    def topic(self) -> str: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def hits(self) -> tuple[Hit, ...]: ...


@dataclass(frozen=True)
class Withdrawal:
    """A topic the rules matched and the model withdrew: its best rule, the model's probability that
    the post is on the topic, and the threshold it fell below."""

    topic: str
    rule_id: str
    probability: float
    threshold: float
    reasons: tuple[str, ...] = ()  # the features that weighed most against the topic, with their weights


def char_features(texts: Iterable[str]) -> set[str]:
    """The single characters and character pairs of normalised texts, without separators, digits
    or Latin letters alone (a pair never spans two texts)."""
    out: set[str] = set()
    for text in texts:
        for i, c in enumerate(text):
            if c in _SEPARATORS or c.isdigit():
                continue
            if not c.isascii():
                out.add(c)
            pair = text[i : i + 2]
            if len(pair) == 2 and pair[1] not in _SEPARATORS and not pair[1].isdigit() and not pair.isascii():
                out.add(pair)
    return out


def _bucket(value: float, bounds: tuple[float, ...]) -> int:
    return sum(value >= b for b in bounds)


def _evidence(
    topic: str, matches: Sequence[Matched], negative: bool, title: str, text: str, normaliser: Normaliser, window: int
) -> tuple[set[str], set[str], list[str]]:
    """What `features` builds on, apart from the post's characters: the features not crossed with
    the topic by '|', the shape words that are also crossed with it, and the normalised windows."""
    m = next(x for x in matches if x.topic == topic)
    words = {h.word for h in m.hits}
    if any(h.field == "title" for h in m.hits) or not m.hits:
        position = 0
    else:
        position = min(2, 3 * min(h.start for h in m.hits) // max(len(text), 1))
    shape = {
        f"words:{min(len(words), 4)}",
        f"mentions:{min(len({(h.field, h.start) for h in m.hits}), 3)}",
        f"topics:{min(len(matches), 3)}",
        f"position:{position}",
        f"length:{_bucket(len(title) + len(text), (40, 80, 150))}",
        f"score:{_bucket(m.score, (1.5, 2.0, 3.0))}",
    }
    if len(words) == 1:
        shape.add("single")
    plain = {f"topic:{topic}", f"rule:{m.rule_id}", f"neg:{topic}:{negative}"} | shape
    plain |= {f"word:{topic}:{w}" for w in words}
    for x in matches:
        if x.topic != topic:
            plain.add(f"other:{topic}:{x.topic}")
            plain.add(f"otherrule:{topic}:{x.rule_id}")
    around: list[str] = []
    if window:
        fields = {"title": title, "text": text}
        # (a word's hits often share a start or an end, 村 / 村委 / 村委会: each window is folded once)
        spans = {(h.field, max(0, h.start - window), h.start) for h in m.hits}
        spans |= {(h.field, h.end, h.end + window) for h in m.hits}
        fold = normaliser.fold
        around = [fold(fields[f][b:e])[0] for f, b, e in sorted(spans)]
    return plain, shape, around


def features(
    topic: str,
    matches: Sequence[Matched],
    negative: bool,
    title: str,
    text: str,
    normaliser: Normaliser,
    window: int,
    chars: set[str] | None = None,
) -> set[str]:
    """Every feature of one matched topic of a post, crossed with the topic: its best rule and
    words; buckets of how many distinct words and mentions, how many topics the post matched,
    where the first hit lies (title = first; else the body's first, middle or last third), the
    rule's score and the post's length; the other topics matched and their rules; the post's
    negativity; the characters and character pairs `window` characters either side of each hit;
    and the post's own characters and pairs (`chars`, computed once per post when given).
    (What the trainer reads; `TopicModel.review` sums the same features' weights without
    building their names.)"""
    plain, shape, around = _evidence(topic, matches, negative, title, text, normaliser, window)
    if chars is None:
        chars = post_chars(title, text, normaliser)
    out = plain | {f"{topic}|{s}" for s in shape} | {f"{topic}|{g}" for g in chars}
    return out | {f"ctx|{topic}|{g}" for g in char_features(around)}


def post_chars(title: str, text: str, normaliser: Normaliser) -> set[str]:
    return char_features([normaliser.normalise(title).text, normaliser.normalise(text).text])


_NO_WEIGHTS: dict[str, float] = {}
_NO_INDEXED: dict[int, float] = {}
_SHAPES = {"words": "distinct words", "mentions": "mentions", "topics": "topics matched", "position": "first hit at",
           "length": "length bucket", "score": "score bucket"}


def describe(feature: str) -> str:
    """A feature as `yuqing rules test` shows it: '村委 beside a word', 'rule village.core', '2 topics matched'."""
    kind, _, rest = feature.partition(":")
    if kind in ("rule", "topic"):
        return f"{kind} {rest}"
    if kind == "word":
        return f"word {rest.partition(':')[2]}"
    if kind == "other":
        return f"also {rest.partition(':')[2]}"
    if kind == "otherrule":
        return f"also rule {rest.partition(':')[2]}"
    if kind == "neg":
        return "negative" if rest.endswith("True") else "not negative"
    if kind in _SHAPES and "|" not in feature:
        return f"{_SHAPES[kind]} {rest}"
    if feature == "single":
        return "one word"
    parts = feature.split("|")
    if parts[0] == "ctx":
        return f"'{parts[-1]}' beside a word"
    last = parts[-1]
    k, _, v = last.partition(":")
    if k in _SHAPES and v:
        return f"{_SHAPES[k]} {v}"
    return "one word" if last == "single" else f"'{last}' in the post"


class TopicModel:
    """A trained confirmation model (see the module's docstring)."""

    def __init__(self, weights: dict[str, float], bias: float, threshold: float, window: int, topics: Iterable[str]):
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
        self.window = window
        self.topics = frozenset(topics)
        # The weights by kind, for `review`: a feature '<topic>|<gram or shape>' under its topic,
        # 'ctx|<topic>|<gram>' under its topic, any other by its name.
        self._plain: dict[str, float] = {}
        self._crossed: dict[str, dict[str, float]] = {}
        self._beside: dict[str, dict[str, float]] = {}
        for f, w in weights.items():
            if "\x00" in f:
                raise ValueError(f"a feature name holds a NUL character: {f!r}")
            head, bar, rest = f.partition("|")
            if bar and head == "ctx" and "|" in rest:
                topic, _, gram = rest.partition("|")
                self._beside.setdefault(topic, {})[gram] = w
            elif bar and head in self.topics:
                self._crossed.setdefault(head, {})[rest] = w
            else:
                self._plain[f] = w
        # The grams among the weights' names, found in a post by one automaton pass (no set of every
        # gram of the post built and looked up: the model's tables are cold when a rare topic post
        # comes, and a pass over a post finds only the grams that weigh), each topic's weights of
        # them by the gram's index.
        grams = sorted({g for d in (*self._crossed.values(), *self._beside.values()) for g in d if len(g) <= 2})
        # (a contiguous NFA, as the engine's own automata: a DFA's table is larger and read at random,
        # and this one is cold whenever a topic post comes)
        nfa = ahocorasick_rs.Implementation.ContiguousNFA
        self._find_grams = ahocorasick_rs.AhoCorasick(grams, implementation=nfa).find_matches_as_indexes if grams else None
        index = {g: i for i, g in enumerate(grams)}
        self._crossed_at = {t: {index[g]: w for g, w in d.items() if g in index} for t, d in self._crossed.items()}
        self._beside_at = {t: {index[g]: w for g, w in d.items() if g in index} for t, d in self._beside.items()}

    @classmethod
    def shipped(cls) -> TopicModel:
        return cls.from_file(SHIPPED)

    @classmethod
    def from_file(cls, path: Path) -> TopicModel:
        """Read a model file; RuleError names the file and the key at fault."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError([Problem(str(path), None, None, f"cannot read the topic model: {exc}")]) from None
        except json.JSONDecodeError as exc:
            raise RuleError([Problem(str(path), exc.lineno, exc.colno, f"the topic model is not JSON: {exc.msg}")]) from None
        if not isinstance(doc, dict):
            raise RuleError([Problem(str(path), None, None, "the topic model must be a JSON object")])
        problems = [Problem(str(path), None, None, f"topic model: missing key '{k}'") for k in _KEYS if k not in doc]
        problems += [Problem(str(path), None, None, f"topic model: unknown key '{k}'") for k in doc if k not in _KEYS]
        if not problems:
            try:
                model = cls(
                    {str(f): float(w) for f, w in doc["features"].items()},
                    float(doc["bias"]),
                    float(doc["threshold"]),
                    int(doc["window"]),
                    [str(t) for t in doc["topics"]],
                )
            except (AttributeError, TypeError, ValueError) as exc:
                problems.append(Problem(str(path), None, None, f"topic model: a value of the wrong type ({exc})"))
            else:
                if not 0.0 < model.threshold < 1.0:
                    problems.append(Problem(str(path), None, None, f"topic model: threshold must lie between 0 and 1, not {model.threshold}"))
                if model.window < 0:
                    problems.append(Problem(str(path), None, None, f"topic model: window must be 0 or more, not {model.window}"))
                if not problems:
                    return model
        raise RuleError(problems)

    def to_json(self) -> str:
        doc = {
            "threshold": self.threshold,
            "bias": round(self.bias, 4),
            "window": self.window,
            "topics": sorted(self.topics),
            "features": {f: round(w, 4) for f, w in sorted(self.weights.items())},
        }
        return json.dumps(doc, ensure_ascii=False, indent=0) + "\n"

    def probability(self, found: Iterable[str]) -> float:
        """The probability that a post is on a topic, from the topic's features (`features`)."""
        weights = self.weights
        return self._logistic(math.fsum(weights.get(f, 0.0) for f in found))

    def _logistic(self, total: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self.bias + total)))

    def _probability_of(self, topic: str, plain: set[str], shape: set[str], around: list[str], grams: set[int]) -> float:
        """`probability(features(...))` without building the features' names: the weights of the
        grams and shapes are looked up under the topic. Equal to the last bit: `math.fsum` is exact
        whatever the order of its terms, and the terms left out weigh 0."""
        plain_w, crossed = self._plain, self._crossed.get(topic, _NO_WEIGHTS)
        terms = [plain_w[f] for f in plain if f in plain_w]
        terms += [crossed[s] for s in shape if s in crossed]
        at = self._crossed_at.get(topic, _NO_INDEXED)
        terms += [at[i] for i in grams & at.keys()]
        beside = self._beside_at.get(topic, _NO_INDEXED)
        if around and beside:
            # (the windows joined by a character no weight's name holds: no gram that weighs spans a join)
            terms += [beside[i] for i in self._grams_in("\x00".join(around)) & beside.keys()]
        return self._logistic(math.fsum(terms))

    def _grams_in(self, text: str) -> set[int]:
        """The indexes of the grams that weigh found in a text (overlapping: every one)."""
        find = self._find_grams
        return {m[0] for m in find(text, True)} if find is not None else set()

    def against(self, found: Iterable[str], n: int = 4) -> tuple[str, ...]:
        """The `n` features of `found` that weigh most against the topic, as people read them."""
        weighed = sorted((w, f) for f in found if (w := self.weights.get(f, 0.0)) < 0)
        return tuple(f"{describe(f)} {w:+.2f}" for w, f in weighed[:n])

    def review(
        self,
        matches: Sequence[Matched],
        negative: bool,
        title: str,
        text: str,
        normaliser: Normaliser,
        normalised: tuple[str, str] | None = None,
    ) -> tuple[list[int], tuple[Withdrawal, ...]]:
        """Which of a post's matched topics stand (their indexes) and which the model withdraws.
        `normalised`: the title and text as `normaliser` normalises them, when already at hand."""
        if not any(m.topic in self.topics for m in matches):
            return list(range(len(matches))), ()
        if normalised is None:
            normalised = normaliser.normalise(title).text, normaliser.normalise(text).text
        grams = self._grams_in("\x00".join(normalised))
        kept: list[int] = []
        withdrawn: list[Withdrawal] = []
        for i, m in enumerate(matches):
            if m.topic in self.topics:
                plain, shape, around = _evidence(m.topic, matches, negative, title, text, normaliser, self.window)
                p = self._probability_of(m.topic, plain, shape, around, grams)
                if p < self.threshold:
                    # (the names, for the explanation, only for the few topics withdrawn)
                    found = features(m.topic, matches, negative, title, text, normaliser, self.window, char_features(normalised))
                    withdrawn.append(Withdrawal(m.topic, m.rule_id, round(p, 3), self.threshold, self.against(found)))
                    continue
            kept.append(i)
        return kept, tuple(withdrawn)
