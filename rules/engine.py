"""The compiled rule set: one automaton pass, jieba where needed, and only the rules that can fire.

`RuleSet.analyse(title, text)` is what the crawl pipeline, `yuqing rules test` and the backtest
call. For each field it normalises the text (`rules.normalise`), runs ONE Aho-Corasick automaton
holding the negativity cues and the words rules are indexed under (and, only when one of those is
found, a second holding the rules' other words and exclusion contexts), confirms each candidate's
word boundaries with the private jieba tokenizer on the candidate's block only (`rules.segment`),
and evaluates only the rules indexed under the words that were found. So the cost of a post does
not grow with the number of rules or words, only with what the post contains. Negativity
(`rules.negativity`) is scored at once for a post with a topic, whose severity combines its best
rule's score with it, and for any other post when it is first read (`Analysis`).
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ahocorasick_rs

from yuqing.records import Hit

from .confirm import TopicModel, Withdrawal
from .language import Alternatives, RuleSpec, TopicSpec, WordSpec
from .negativity import Negativity, NegativityModel
from .normalise import Normalised, Normaliser
from .operators import OPERATORS, Evidence, Found
from .regex_literals import necessary_literals
from .segment import Boundaries, new_tokenizer

if TYPE_CHECKING:
    import jieba  # imported when a post first needs word boundaries (`rules.segment`)

SEVERITIES = ("low", "medium", "high")
FIELDS = ("title", "text")
_SCOPE_FIELDS = {"any": FIELDS, "title": ("title",), "body": ("text",)}
# Every operator must hold, so their order changes no verdict, only the work: `none` first (it stops
# at its first confirmed word), `any` (which confirms every hit, for the explanation) last.
_FIRST = ("none", "regex", "all", "near")
_EVALUATION_ORDER = tuple((key, OPERATORS[key]) for key in sorted(OPERATORS, key=lambda k: _FIRST.index(k) if k in _FIRST else len(_FIRST)))
_NOTHING: dict[str, list[tuple[int, int]]] = {}
_PATTERN_INDEX = operator.itemgetter(0)
_NO_CUES: list[tuple[int, int, Any]] = []
_NO_MATCHES: list[tuple[int, int, int]] = []
_EMPTY_SCAN = ("", _NO_MATCHES, _NO_CUES, False, "")
_NO_WORDS: frozenset[str | None] = frozenset()


@dataclass(frozen=True)
class TopicMatch:
    """A topic a post touches: its best rule, the severity and the words, at ORIGINAL offsets."""

    topic: str
    rule_id: str
    severity: str  # low | medium | high
    score: float
    hits: tuple[Hit, ...]


# A post's negativity as the engine passes it around: (0..1 score, negative, reasons).
Verdict = tuple[float, bool, tuple[str, ...]]
_new = object.__new__


@dataclass(frozen=True)
class Analysis:
    """The verdict on one post.

    The negativity of a post no topic rule fired on is computed when `negative`, `negativity` or
    `reasons` is first read (`pending`): a crawl reads it only for the posts with a topic (the store
    keeps it on their match rows, crawler/pipelines.py; alerts, events and reports read matches),
    and scoring it for every other post was a sixth of the engine's time per post as the crawl
    reads it (bench sample: 10.5 -> 8.9 us). `yuqing rules test` reads it, and gets it then. A post
    with a topic has it at once: its severity needs it. So does a body whose only cue is found once
    (or again and again): its verdict is one of two known in advance, told apart by one negation
    test, which costs about what leaving it pending does (`RuleSet._settled_by_negation`).
    """

    topics: tuple[TopicMatch, ...]
    negative: bool
    negativity: float  # 0..1
    reasons: tuple[str, ...]  # why the negativity verdict (the words that drove it)
    # topics a rule matched and the topic confirmation model withdrew (`rules.confirm`): not in `topics`
    withdrawn: tuple[Withdrawal, ...] = ()

    @property
    def topic_ids(self) -> list[str]:
        return [t.topic for t in self.topics]

    @classmethod
    def pending(cls, verdict: Callable[..., Verdict], *args: Any) -> Analysis:
        """An Analysis with no topic whose negativity is `verdict(*args)`, computed on first read.

        Every way of reading an Analysis reads its fields and so gets the value the eager engine
        gives: equality, hashing, repr, `dataclasses.asdict` / `replace`, pickling (`__reduce__`).
        `verdict` is a pure function of the post: two threads reading at once both compute the
        same value and store the same (the pending call stays, for a thread still on its way).
        """
        analysis = _new(cls)
        fields = analysis.__dict__  # (written directly: a frozen dataclass refuses attribute writes)
        fields["topics"] = ()
        fields["_pending"] = verdict, args
        return analysis

    def __reduce__(self) -> tuple[type[Analysis], tuple[Any, ...]]:
        # The fields, not the pending call (which holds the rule set's negativity model).
        return Analysis, (self.topics, self.negative, self.negativity, self.reasons, self.withdrawn)


class _PendingField:
    """A negativity field of `Analysis` as its class holds it: read only for an Analysis that does
    not hold the field itself, i.e. a pending one, whose verdict it computes and stores. (A non-data
    descriptor: an eager Analysis's own value is read at plain attribute speed, and a pending one's
    first read costs 0.4-0.55 us beyond the verdict, against 1.0-1.6 us through a `__getattr__`.)"""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, analysis: Analysis | None, owner: type | None = None) -> Any:
        if analysis is None:
            return self
        fields = analysis.__dict__
        pending = fields.get("_pending")
        if pending is None:
            raise AttributeError(f"'Analysis' object has no attribute '{self.name}'")
        fields["negativity"], fields["negative"], fields["reasons"] = pending[0](*pending[1])
        return fields[self.name]


# Set on the class after `dataclass` has read it: its fields keep no default.
for _name in ("negative", "negativity", "reasons"):
    setattr(Analysis, _name, _PendingField(_name))


@dataclass(frozen=True)
class RuleFiring:
    """One rule that fired on a post (a topic keeps its best one); for explanations."""

    rule: RuleSpec
    evidence: float
    score: float
    hits: tuple[Hit, ...]


# A field after normalisation and the automaton pass: (normalised text, the automaton's (pattern
# index, start, end) matches, negativity cue hits, whether a match is a word some rule is indexed
# under, i.e. whether any rule can fire, and the folded text before junk removal or "" (what a
# `Normalised` needs to map positions back; built only for the posts a rule may fire on)).
_Scan = tuple[str, list[tuple[int, int, int]], list[tuple[int, int, Any]], bool, str]


def _scan(rs: RuleSet, raw: str) -> _Scan:
    """Normalise one field and find rule words and negativity cues in ONE automaton pass.

    Kept to what every post needs: the rule-word candidates are sorted out of the matches only for
    the few posts where a rule can fire (`_candidates_of`).
    """
    if not raw or rs.find_matches is None:
        return _EMPTY_SCAN
    needs_work = rs.may_need_work(raw)
    n, folded = (raw, "") if needs_work is None else rs.fold_from(raw, needs_work.start())
    matches = rs.find_matches(n, True)  # overlapping (positional: keyword parsing is a tenth of a call's cost)
    if not matches:
        return n, _NO_MATCHES, _NO_CUES, False, folded  # shared empties: never mutated
    return _scanned(rs, n, folded, matches)


def _scanned(rs: RuleSet, n: str, folded: str, matches: list[tuple[int, int, int]]) -> _Scan:
    """The scan of a field the automaton found something in."""
    cues = rs.pattern_cue
    cue_hits = [(start, end, cue) for idx, start, end in matches if (cue := cues[idx]) is not None]
    # Trigger words have the lowest pattern indices: the smallest index (a C-level min over the
    # tuples, no Python loop) tells whether any rule can fire.
    return n, matches, cue_hits, min(matches)[0] < rs.trigger_count, folded


def _presence(words: frozenset[str]) -> float:
    """How likely a post is to hold one of the words, as their lengths tell (see `RuleSet`)."""
    return sum(10.0 ** -len(w) for w in words)


def _positive_lists(rule: RuleSpec) -> list[Alternatives]:
    """The word lists of which a rule needs one word each: its `any` list, each `all` item, each
    `near` member."""
    return ([rule.any] if rule.any else []) + list(rule.all) + [m for near in rule.near for m in near.members]


def _positive_weights(rule: RuleSpec) -> dict[str, float] | None:
    """The largest weight each norm of a rule's positive words (`any`, `all`, `near`) has, or None
    when one is not a small binary fraction: only then is a sum of them exact in any order, so that
    the sum over the candidates a post holds bounds the rule's evidence to the last bit."""
    weights: dict[str, float] = {}
    for alts in _positive_lists(rule):
        for w in alts:
            if not (w.weight * 1024).is_integer() or abs(w.weight) > 1024:
                return None
            weights[w.norm] = max(weights.get(w.norm, 0.0), w.weight, 0.0)
    return weights


def _regex_lists(rule: RuleSpec) -> tuple[frozenset[str], ...]:
    """The literal sets a rule's regexes need, one per regex that has one (`rules.regex_literals`):
    required lists like the rule's word lists. cadre.became's regex, searched on the 117 posts of
    the bench's 10,000 that held a cadre's title, was 4% of the engine's time and matched none."""
    return tuple(lits for lits in map(necessary_literals, rule.regex) if lits is not None)


def _with_rest(rs: RuleSet, n: str, matches: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The matches of a field with those of the rule words left out of the pass every post pays
    (`RuleSet.rest_words`), found now because a word some rule is indexed under was found. Their
    indexes follow the main patterns', so `pattern_word` names them and `pattern_cue` has None."""
    if rs.find_rest is None or not n:
        return matches
    rest = rs.find_rest(n, True)  # overlapping
    if not rest:
        return matches
    k = len(rs.patterns)
    return matches + [(k + i, start, end) for i, start, end in rest]


def _words_of(rs: RuleSet, matches: list[tuple[int, int, int]]) -> set[str | None]:
    """The rule words among the matches (with None for the other patterns), with C-level loops only:
    enough to tell whether a rule may fire, which most posts with a trigger word settle here."""
    return set(map(rs.pattern_word.__getitem__, map(_PATTERN_INDEX, matches)))


def _candidates_of(rs: RuleSet, matches: list[tuple[int, int, int]]) -> dict[str, list[tuple[int, int]]]:
    """Rule word -> its (start, end) spans in the field, in the automaton's order."""
    if not matches:
        return _NOTHING
    found: dict[str, list[tuple[int, int]]] = {}
    words = rs.pattern_word
    for idx, start, end in matches:
        word = words[idx]
        if word is not None:
            found.setdefault(word, []).append((start, end))
    return found


class _Post:
    """One post being analysed: normalised fields, candidates, boundaries on demand (a `PostView`)."""

    def __init__(
        self,
        rs: RuleSet,
        title: str,
        text: str,
        *,
        segment_all: bool,
        scans: tuple[_Scan, _Scan] | None = None,
        found: dict[str, dict[str, list[tuple[int, int]]]] | None = None,
    ):
        self.rs = rs
        self.segment_all = segment_all
        title_scan, text_scan = scans or (_scan(rs, title), _scan(rs, text))
        self.norm: dict[str, Normalised] = {
            "title": Normalised(title, title_scan[0], title_scan[4]),
            "text": Normalised(text, text_scan[0], text_scan[4]),
        }
        self.candidates: dict[str, dict[str, list[tuple[int, int]]]] = found or {
            "title": _candidates_of(rs, _with_rest(rs, title_scan[0], title_scan[1])),
            "text": _candidates_of(rs, _with_rest(rs, text_scan[0], text_scan[1])),
        }
        self.cue_hits: list[tuple[str, list[tuple[int, int, Any]]]] = [
            (title_scan[0], title_scan[2]),
            (text_scan[0], text_scan[2]),
        ]
        self._bounds: dict[str, Boundaries] = {}
        if segment_all:
            for f in FIELDS:
                self.bounds(f)
        self._hits: dict[tuple[str, bool, tuple[str, ...], str], list[Found]] = {}
        self._sentences: dict[str, list[int]] = {}

    def bounds(self, field: str) -> Boundaries:
        """Word boundaries of a field, created on first need (most posts never need them)."""
        b = self._bounds.get(field)
        if b is None:
            b = self._bounds[field] = Boundaries(
                self.norm[field].text, self.rs.tokenizer, self.rs.hmm, self.rs.added_words, reference=self.segment_all
            )
            if self.segment_all:
                b.cut_all()
        return b

    def found_norms(self) -> set[str]:
        return set(self.candidates["title"]) | set(self.candidates["text"])

    # -- PostView ---------------------------------------------------------------------------

    def fields(self, scope: str) -> tuple[str, ...]:
        return _SCOPE_FIELDS[scope]

    def normalised(self, field: str) -> str:
        return self.norm[field].text

    def may_hit(self, words: Alternatives, scope: str) -> bool:
        norms = self.rs.norm_sets.get(id(words))
        if norms is None:  # a word list that is not part of the rule set (tests, explanations)
            norms = frozenset(w.norm for w in words)
        candidates = self.candidates
        for f in _SCOPE_FIELDS[scope]:
            if not norms.isdisjoint(candidates[f]):
                return True
        return False

    def hits_of(self, words: Alternatives, scope: str) -> list[tuple[WordSpec | str, Found]]:
        out: list[tuple[WordSpec | str, Found]] = []
        # The candidates among the words, found with set operations; only those words are then
        # visited (a list may hold hundreds of words, a post a handful), in the list's order.
        present: set[str] = set()
        for f in _SCOPE_FIELDS[scope]:
            present.update(self.candidates[f])
        grouped = self.rs.words_by_norm.get(id(words))
        if grouped is None:  # a word list that is not part of the rule set (tests, explanations)
            for w in words:
                if w.norm in present:
                    out += [(w, h) for h in self.hits(w, scope)]
            return out
        order, by_norm = grouped
        hit = by_norm.keys() & present  # iterates the few candidates, not the list (hundreds of words)
        if not hit:
            return out
        for norm in sorted(hit, key=order.__getitem__) if len(hit) > 1 else hit:
            for w in by_norm[norm]:
                out += [(w, h) for h in self.hits(w, scope)]
        return out

    def candidates_of(self, words: Alternatives, scope: str) -> list[tuple[WordSpec, Found]]:
        fields = _SCOPE_FIELDS[scope]
        present: set[str] = set()
        for f in fields:
            present.update(self.candidates[f])
        grouped = self.rs.words_by_norm.get(id(words))
        if grouped is None:  # a word list that is not part of the rule set (tests, explanations)
            visited: Iterable[WordSpec] = [w for w in words if w.norm in present]
        else:
            order, by_norm = grouped
            hit = by_norm.keys() & present  # iterates the few candidates, not the list (hundreds of words)
            visited = [w for norm in (sorted(hit, key=order.__getitem__) if len(hit) > 1 else hit) for w in by_norm[norm]]
        return [(w, Found(f, start, end, w.norm)) for w in visited for f in fields for start, end in self.candidates[f].get(w.norm, ())]

    def confirmed(self, word: WordSpec, found: Found) -> bool:
        return self._confirmed(word, found.field, found.start, found.end)

    def hits(self, word: WordSpec, scope: str) -> list[Found]:
        key = (word.norm, word.inside_words, word.not_in, scope)
        cached = self._hits.get(key)
        if cached is not None:
            return cached
        out = [
            Found(f, start, end, word.norm)
            for f in _SCOPE_FIELDS[scope]
            for start, end in self.candidates[f].get(word.norm, ())
            if self._confirmed(word, f, start, end)
        ]
        self._hits[key] = out
        return out

    def found_any(self, words: Alternatives, scope: str) -> bool:
        """Whether one of the words has a confirmed hit: stops at the first one, so a `none` word
        met twenty times in a long post costs the jieba cut of one block, not of twenty. Only the
        words that were candidates are visited (a `none` list such as $company holds hundreds)."""
        fields = _SCOPE_FIELDS[scope]
        grouped = self.rs.words_by_norm.get(id(words))
        if grouped is None:  # a word list that is not part of the rule set (tests, explanations)
            candidates: Iterable[WordSpec] = words
        else:
            present: set[str] = set()
            for f in fields:
                present.update(self.candidates[f])
            by_norm = grouped[1]
            candidates = [w for norm in by_norm.keys() & present for w in by_norm[norm]]
        for w in candidates:
            cached = self._hits.get((w.norm, w.inside_words, w.not_in, scope))
            if cached is not None:
                if cached:
                    return True
                continue
            for f in fields:
                for start, end in self.candidates[f].get(w.norm, ()):
                    if self._confirmed(w, f, start, end):
                        return True
        return False

    def _confirmed(self, word: WordSpec, field: str, start: int, end: int) -> bool:
        # The exclusion contexts first: a position test, where the boundaries may need a jieba cut.
        if word.not_in and self._in_context(field, start, end, word.not_in):
            return False
        whole, inside = self.bounds(field).check(start, end)
        return whole or (word.inside_words and inside)

    def _in_context(self, field: str, start: int, end: int, contexts: tuple[str, ...]) -> bool:
        for ctx in contexts:
            for cs, ce in self.candidates[field].get(ctx, ()):
                if cs <= start and end <= ce:
                    return True
        return False

    def distance(self, field: str, p: int, q: int, limit: int) -> int:
        return self.bounds(field).distance(p, q, limit)

    def same_sentence(self, field: str, p: int, q: int) -> bool:
        ends = self._sentences.get(field)
        if ends is None:
            ends = self._sentences[field] = self.norm[field].sentence_ends()
        return bisect.bisect_left(ends, p) == bisect.bisect_left(ends, q)

    # -- results ----------------------------------------------------------------------------

    def hit(self, word: WordSpec | str, found: Found) -> Hit:
        n = self.norm[found.field]
        start, end = n.to_original(found.start, found.end)
        text = word.text if isinstance(word, WordSpec) else word
        return Hit(word=text, found=n.original[start:end], field=found.field, start=start, end=end)


class RuleSet:
    """Compiled rules: build once (a fraction of a second; jieba's dictionary, a third of a second
    more, is read when a post first needs word boundaries), then analyse many posts."""

    def __init__(
        self,
        topics: dict[str, TopicSpec],
        rules: list[RuleSpec],
        *,
        normaliser: Normaliser | None = None,
        negativity: NegativityModel | None = None,
        topic_model: TopicModel | None = None,
        user_dict: Path | None = None,
        hmm: bool = False,
    ):
        self.normaliser = normaliser or Normaliser()
        self.topic_specs = dict(topics)
        self.rules = list(rules)
        self.topics: frozenset[str] = frozenset(topics)
        self.hmm = hmm
        self.negativity_model = negativity or NegativityModel.shipped(self.normaliser)
        # A second, learned look at the topics the rules matched (none unless given: `build_ruleset`
        # gives the shipped pack's).
        self.topic_model = topic_model
        # The verdict of a post no rule fires on (nearly every post): with the learned model for
        # topic posts only, the lexicon's alone (the same cues, compiled once).
        self._stream_negativity = (
            self.negativity_model if self.negativity_model.corrects_every_post else self.negativity_model.lexicon_only()
        )
        patterns: set[str] = set()
        for rule in self.rules:
            for w in rule.words():
                patterns.add(w.norm)
                patterns.update(w.not_in)
        # Per rule, the word lists of which one word at least must be a candidate (its `any` list, each
        # `all` item, each `near` member) and the fields they count in: a rule missing one of them is
        # dropped with set tests before any of its words' boundaries are cut with jieba.
        # (All of a rule's lists count in the rule's scope: one C-level test per rule.)
        self._required: list[tuple[str, tuple[frozenset[str], ...]]] = [
            (
                rule.scope,
                tuple(
                    frozenset(w.norm for w in alts)
                    for alts in _positive_lists(rule)
                )
                + _regex_lists(rule),
            )
            for rule in self.rules
        ]
        # Per rule, the most each of its positive words can add to its evidence (norm -> weight),
        # or None where a rule's score might round above what those weights add up to (a weight
        # that is not a small binary fraction, 0.7, summed in another order): `_explain` skips a
        # rule whose words cannot beat the score its topic already has.
        self._bounds: list[dict[str, float] | None] = [_positive_weights(rule) for rule in self.rules]
        # How many of a rule's required lists are word lists (its regexes' literal sets follow them).
        self._word_list_count: list[int] = [len(_positive_lists(rule)) for rule in self.rules]
        # The literals are found by the automaton like rule words, but are not words: jieba's
        # dictionary never gets them (`_tokenizer_words`).
        literals = {lit for _scope, lists in self._required for lits in lists for lit in lits} - patterns
        # A rule is indexed under the words of ONE of those lists: it needs a word of each, so no
        # rule that can fire is missed. The list is the one least likely to be in a post, as far as
        # its words tell: the sum over them of 10^-length (a word one character longer is roughly
        # ten times rarer; a single 当 or 就 is in one post in five). Indexed under all its words, a
        # rule was looked up for every post with 就 or 地 (a list of cadre.rank) or 当 (one of
        # cadre.township): 4,220 of the bench sample's 10,000 posts reached `_runnable`, now 560
        # do (1,106 when the shortest list is taken); the whole sample: 116 -> 101 ms, the same
        # rules run.
        by_word: dict[str, list[int]] = defaultdict(list)
        for i, (_scope, lists) in enumerate(self._required):
            if lists:
                rarest: frozenset[str] = min(lists, key=_presence)
                for norm in rarest:
                    by_word[norm].append(i)
        self.rules_by_word: dict[str, list[int]] = dict(by_word)
        # The norms of every word list of the rules, by the list's identity (the rules keep the lists
        # alive as long as this set): `may_hit` is then one C-level set test per field.
        self.norm_sets: dict[int, frozenset[str]] = {
            id(alts): frozenset(w.norm for w in alts)
            for rule in self.rules
            for alts in [rule.any, rule.none, *rule.all, *(m for near in rule.near for m in near.members)]
        }
        # The words of each list grouped by norm (in the order of their first appearance, and each
        # norm's position): `hits_of` visits only the norms that were found, in the list's order.
        self.words_by_norm: dict[int, tuple[dict[str, int], dict[str, tuple[WordSpec, ...]]]] = {}
        for rule in self.rules:
            for alts in [rule.any, rule.none, *rule.all, *(m for near in rule.near for m in near.members)]:
                groups: dict[str, list[WordSpec]] = {}
                for w in alts:
                    groups.setdefault(w.norm, []).append(w)
                self.words_by_norm[id(alts)] = ({norm: k for k, norm in enumerate(groups)}, {norm: tuple(ws) for norm, ws in groups.items()})
        self.rule_patterns = frozenset(p for p in patterns | literals if p)
        # One automaton for the words rules are indexed under and the negativity cues: a post is
        # scanned once (the rules' other words wait for a trigger, below).
        # ahocorasick-rs (Rust) rather than pyahocorasick: its cost per character stays flat as
        # patterns are added, where pyahocorasick's grew several-fold from 5 to 900 patterns.
        # Words a rule is indexed under (triggers) come first, so that `_scan` tells from the smallest
        # pattern index found whether any rule can fire.
        triggers = sorted(w for w in self.rules_by_word if w in self.rule_patterns)
        self.trigger_count = len(triggers)
        cues = set(self.negativity_model.cues)
        # The other rule words (the lists a rule is not indexed under, `none` words, exclusion
        # contexts) matter only once a trigger is found, in some 6% of posts: they are found then,
        # by a second automaton over that post (`_with_rest`). In the pass every post pays they cost
        # more than their share: the common partners of a `near` (就, 当, 才, 提) were half of its
        # matches (15,107 of 28,436 over the 10,000-post bench sample) and put 1,835 posts off the
        # no-match path.
        self.rest_words: list[str] = sorted(self.rule_patterns - set(triggers) - cues)
        self.patterns: list[str] = triggers + sorted((self.rule_patterns | cues) - set(triggers) - set(self.rest_words))
        # What each pattern index is (the main patterns, then the rest): a rule word (or None), a
        # negativity cue (or None).
        self.pattern_word: list[str | None] = [p if p in self.rule_patterns else None for p in self.patterns] + list(self.rest_words)
        self.pattern_cue: list[Any] = [self.negativity_model.cues.get(p) for p in self.patterns] + [None] * len(self.rest_words)
        # The stream model's reading of each cue, by pattern index (`_body_verdict`).
        self._cue_table = self._stream_negativity.cue_table(self.pattern_cue)
        # A contiguous NFA rather than a DFA. Alone, over the posts and nothing else, the DFA scans
        # a fifth faster; but its table (a row of every byte class for every state: ~10 MB at 3,000
        # patterns, against under 1 MB for the NFA) is read at random, one row per byte, and in the
        # engine, where jieba's dictionary and the posts' own objects compete for the cache, it
        # loses: the whole engine ran 1.01-1.03x faster per post with the NFA on an idle machine,
        # 1.04-1.07x with other jobs running (same process, interleaved), and with 10,000 added
        # keywords the rule set takes 102 MB instead of 145.
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.patterns, implementation=ahocorasick_rs.Implementation.ContiguousNFA) if self.patterns else None
        )
        # Bound once: these two run for every field of every post.
        self.normalise = self.normaliser.normalise
        self.fold = self.normaliser.fold
        self.may_need_work = self.normaliser.may_need_work
        self.fold_from = self.normaliser.fold_from
        self.find_matches = self.automaton.find_matches_as_indexes if self.automaton is not None else None
        # (A contiguous NFA here too, for the same reason: 1.01x less CPU per post than a DFA.)
        rest = ahocorasick_rs.AhoCorasick(self.rest_words, implementation=ahocorasick_rs.Implementation.ContiguousNFA) if self.rest_words else None
        self.find_rest = rest.find_matches_as_indexes if rest is not None else None
        # jieba's tokenizer is built when the first post needs word boundaries (`tokenizer`): its
        # dictionary is most of the cost of a load, and many crawls never need it (no post in them
        # holds all the words of a rule).
        self._tokenizer_words = frozenset(patterns)
        self._user_dict = user_dict
        self._tokenizer: tuple[jieba.Tokenizer, frozenset[str]] | None = None
        self._tokenizer_lock = threading.Lock()
        neutral = self.negativity_model.evaluate([])
        self._neutral = Analysis((), neutral.negative, neutral.score, neutral.reasons)  # frozen: safe to share
        self._neutral_verdict: Verdict = (neutral.score, neutral.negative, neutral.reasons)
        # A body whose every match is one cue that no negator can cancel (its hits may repeat: ！！ in
        # ！！！！ is three) has a verdict known in advance, unless a learned model corrects it: one
        # shared Analysis per such cue, by pattern index (a sixth of the bench sample's posts).
        self._settled: dict[int, Analysis] = {}
        # One that a negator may cancel has one of two, told apart by one negation test at once,
        # in about the time leaving it pending takes (a tenth of the posts).
        self._settled_by_negation: dict[int, tuple[Analysis, Analysis]] = {}
        if self._stream_negativity.learned is None:
            for idx, cue in enumerate(self.pattern_cue):
                if cue is not None:
                    counted, negated = (Analysis((), negative, score, reasons)
                                        for score, negative, reasons in self._stream_negativity.one_hit_verdicts(cue))
                    if cue.checks_negation:
                        self._settled_by_negation[idx] = counted, negated
                    else:
                        self._settled[idx] = counted
        self._negated = self._stream_negativity.negated

    def __len__(self) -> int:
        return len(self.rules)

    def _words_tokenizer(self) -> tuple[jieba.Tokenizer, frozenset[str]]:
        built = self._tokenizer
        if built is None:
            with self._tokenizer_lock:
                built = self._tokenizer
                if built is None:
                    built = self._tokenizer = new_tokenizer(self._tokenizer_words, self._user_dict)
        return built

    def prepare(self) -> None:
        """Build now what the first post that needs word boundaries would build: the tokenizer
        (jieba's dictionary with the rule words, 0.3 to 0.5 s of CPU). A crawl calls it while its
        extraction workers start (`crawler.extract_pool.Extractor.while_workers_start`)."""
        self._words_tokenizer()

    @property
    def tokenizer(self) -> jieba.Tokenizer:
        """The private jieba tokenizer with the rule words and the operator's dictionary added."""
        return self._words_tokenizer()[0]

    @property
    def added_words(self) -> frozenset[str]:
        """The rule words that were added to the tokenizer's dictionary (not already jieba words)."""
        return self._words_tokenizer()[1]

    def analyse(self, title: str, text: str, *, segment_all: bool = False) -> Analysis:
        """Topics (best rule each), severity and negativity of one post (computed when first read
        for a post with no topic: see `Analysis`)."""
        if segment_all:
            return self.explain(title, text, segment_all=True)[0]
        if title or self.find_matches is None:
            return self._analysed(title, text, _scan(self, title), _scan(self, text))
        # The commonest post, a body without a title, with `_scan` inlined and the empty title's
        # work left out: when the automaton finds nothing at all, no rule can fire and no cue counts.
        # (`Normaliser.fold` inlined: most texts need no folding, and cost one search and no call.)
        needs_work = self.may_need_work(text)
        n, folded = (text, "") if needs_work is None else self.fold_from(text, needs_work.start())
        matches = self.find_matches(n, True)  # overlapping
        if not matches:
            return self._neutral
        if min(matches)[0] >= self.trigger_count:  # cues only, no rule word (see `_scanned`)
            idx = matches[0][0]
            if len(matches) == 1 or (matches[-1][0] == idx and all(m[0] == idx for m in matches)):
                settled = self._settled.get(idx)
                if settled is not None:
                    return settled
                pair = self._settled_by_negation.get(idx)
                if pair is not None:
                    return pair[self._negated(n, matches[0][1])]
            return Analysis.pending(self._body_verdict, n, matches)
        every = _with_rest(self, n, matches)
        runnable = self._runnable(_NO_WORDS, _words_of(self, every))
        if runnable:
            cues = self.pattern_cue
            hits = [(start, end, cue) for idx, start, end in matches if (cue := cues[idx]) is not None]
            scans = (_EMPTY_SCAN, (n, every, hits, True, folded))
            found = {"title": _NOTHING, "text": _candidates_of(self, every)}
            return self._explain(title, text, scans, found, runnable, segment_all=False, every_firing=False)[0]
        return Analysis.pending(self._body_verdict, n, matches)

    def _body_verdict(self, n: str, matches: list[tuple[int, int, int]]) -> Verdict:
        """The negativity of a body without a title that no rule can fire on, from the automaton's
        matches in its normalised text `n`."""
        return self._stream_negativity.evaluate_matches(n, matches, self._cue_table)

    def _analysed(self, title: str, text: str, title_scan: _Scan, text_scan: _Scan) -> Analysis:
        """`analyse` of a post with a title, from the scans of its fields."""
        if title_scan[3] or text_scan[3]:
            in_title, in_text = _with_rest(self, title_scan[0], title_scan[1]), _with_rest(self, text_scan[0], text_scan[1])
            runnable = self._runnable(_words_of(self, in_title), _words_of(self, in_text))
            if runnable:
                found = {"title": _candidates_of(self, in_title), "text": _candidates_of(self, in_text)}
                return self._explain(title, text, (title_scan, text_scan), found, runnable, segment_all=False, every_firing=False)[0]
        # The common case, kept short: no rule has all the words it needs, only negativity is left.
        if not title_scan[2] and not text_scan[2]:
            return self._neutral
        return Analysis.pending(self._fields_verdict, title_scan, text_scan)

    def _fields_verdict(self, title_scan: _Scan, text_scan: _Scan) -> Verdict:
        """The negativity of a post with a title that no rule can fire on, from its fields' scans.
        (Not `evaluate_one` for a single hit: a learned model correcting every post reads both
        fields' characters, where `evaluate_one` reads the hit's field only.)"""
        return self._stream_negativity.evaluate_parts([(title_scan[0], title_scan[2]), (text_scan[0], text_scan[2])])

    def _parts_verdict(self, parts: list[tuple[str, list[tuple[int, int, Any]]]]) -> Verdict:
        """The negativity of a post no rule fired on, from its fields' cue hits (the general path)."""
        neg = self._stream_negativity.evaluate(parts)
        return neg.score, neg.negative, neg.reasons

    def explain(
        self, title: str, text: str, *, segment_all: bool = False, scans: tuple[_Scan, _Scan] | None = None
    ) -> tuple[Analysis, list[RuleFiring]]:
        """`analyse`, plus every rule that fired (for `yuqing rules test`)."""
        scans = scans or (_scan(self, title), _scan(self, text))
        if not segment_all and not scans[0][3] and not scans[1][3]:
            # No word that can make a rule fire (most posts): only the negativity is left to score.
            neg = self._stream_negativity.evaluate([(scans[0][0], scans[0][2]), (scans[1][0], scans[1][2])])
            return Analysis((), neg.negative, neg.score, neg.reasons), []
        found = {
            "title": _candidates_of(self, _with_rest(self, scans[0][0], scans[0][1])),
            "text": _candidates_of(self, _with_rest(self, scans[1][0], scans[1][1])),
        }
        return self._explain(title, text, scans, found, self._runnable(set(found["title"]), set(found["text"]), reference=segment_all), segment_all=segment_all)

    def _explain(
        self,
        title: str,
        text: str,
        scans: tuple[_Scan, _Scan],
        found: dict[str, dict[str, list[tuple[int, int]]]],
        runnable: list[int],
        *,
        segment_all: bool,
        every_firing: bool = True,
    ) -> tuple[Analysis, list[RuleFiring]]:
        """The verdict from the rules that can fire; with `every_firing` False (`analyse`: only each
        topic's best rule is kept), a rule that cannot beat its topic's best is not evaluated."""
        post = _Post(self, title, text, segment_all=segment_all, scans=scans, found=found)
        firings: list[RuleFiring] = []
        # Each topic's best firing and its rule's index: the highest score, and of equal scores the
        # rule listed first (as when every rule is evaluated in order).
        best: dict[str, tuple[RuleFiring, int]] = {}
        for i, bound in self._evaluation_order(post, runnable) if not every_firing and len(runnable) > 1 else ((i, None) for i in runnable):
            rule = self.rules[i]
            held = best.get(rule.topic)
            if held is not None and bound is not None and (bound < held[0].score or (bound == held[0].score and i > held[1])):
                continue  # its score cannot beat the topic's best
            firing = self._evaluate(rule, post)
            if firing is not None:
                firings.append(firing)
                if held is None or firing.score > held[0].score or (firing.score == held[0].score and i < held[1]):
                    best[rule.topic] = (firing, i)
        if not firings:
            return Analysis.pending(self._parts_verdict, post.cue_hits), []
        # A post a rule fired on gets the learned model's correction when there is one.
        neg = self.negativity_model.evaluate(post.cue_hits)
        matches = tuple(
            TopicMatch(topic, f.rule.id, self.severity(self.topic_specs[topic], f.score, neg), round(f.score, 3), f.hits)
            for topic, (f, _i) in sorted(best.items())
        )
        if self.topic_model is not None:
            normalised = post.norm["title"].text, post.norm["text"].text
            kept, withdrawn = self.topic_model.review(matches, neg.negative, title, text, self.normaliser, normalised)
            if withdrawn:
                return Analysis(tuple(matches[i] for i in kept), neg.negative, neg.score, neg.reasons, withdrawn), firings
        return Analysis(matches, neg.negative, neg.score, neg.reasons), firings

    def _evaluation_order(self, post: _Post, runnable: list[int]) -> list[tuple[int, float | None]]:
        """The runnable rules with the most their score can be (None: unknown), highest first, so
        that a topic's best is found early and the rules that cannot beat it are skipped (87 of the
        bench sample's 302 evaluations; 1.03x the engine's speed in one process). The bound is the
        sum of the weights of the rule's positive words that are candidates in the post, times the
        rule's and the topic's weights: its evidence is that sum over the words confirmed, a subset."""
        present = post.candidates["title"].keys() | post.candidates["text"].keys()
        ranked: list[tuple[float, int]] = []
        for i in runnable:
            weights = self._bounds[i]
            if weights is None:
                ranked.append((float("-inf"), i))  # evaluated in any case
                continue
            rule = self.rules[i]
            ranked.append((-(sum(map(weights.__getitem__, weights.keys() & present)) * rule.weight * self.topic_specs[rule.topic].weight), i))
        ranked.sort()
        return [(i, None if b == float("-inf") else -b) for b, i in ranked]

    def severity(self, topic: TopicSpec, score: float, neg: Negativity) -> str:
        """Topic score plus, for a negative post, its negativity times the topic's negativity weight.

        Severity says how urgently an officer must look, and urgency comes from a grievance, not
        from how many topic words a post uses: an official notice full of appointment terms is worth
        a line in the digest, not an urgent alert or a case. So a post that is not negative is at
        most medium.
        """
        total = score + (topic.negativity_weight * neg.score if neg.negative else 0.0)
        if total >= topic.high and neg.negative:
            return "high"
        if total >= topic.medium:
            return "medium"
        return "low"

    def _runnable(self, title: AbstractSet[str | None], text: AbstractSet[str | None], *, reference: bool = False) -> list[int]:
        """The rules worth evaluating, in rule order: indexed under a word that was found, and with
        a candidate from each word list they need (set tests only, no jieba). Most posts with a
        trigger word have none (in the bench sample 446 of 560) and never build a `_Post`.

        `reference` (the benchmark's full-segmentation reference): every rule with a candidate from
        each of its word lists, without the index and without its regexes' literals, so that the
        benchmark's comparison checks both."""
        both = title | text
        if reference:
            present_in = {"title": title, "body": text, "any": both}
            return [
                i for i, (scope, lists) in enumerate(self._required)
                if not any(map(present_in[scope].isdisjoint, lists[: self._word_list_count[i]]))
            ]
        by_word = self.rules_by_word
        # C-level loops only (None, not a rule word, is simply absent): most posts with a trigger
        # word end here or at the first required list.
        ids: set[int] = set().union(*filter(None, map(by_word.get, both)))  # type: ignore[arg-type]
        if not ids:
            return []
        present = {"title": title, "body": text, "any": both}
        required = self._required
        out: list[int] = []
        for i in sorted(ids) if len(ids) > 1 else ids:
            scope, lists = required[i]
            if not any(map(present[scope].isdisjoint, lists)):
                out.append(i)
        return out

    def _evaluate(self, rule: RuleSpec, post: _Post) -> RuleFiring | None:
        found: list[tuple[WordSpec | str, Found]] = []
        for key, op in _EVALUATION_ORDER:
            value = getattr(rule, key)
            if not value:
                continue
            ev: Evidence = op.check(rule, value, post)
            if not ev.ok:
                return None
            if key != "none":
                found += ev.found
        weights: dict[str, float] = {}
        for word, _ in found:
            if isinstance(word, WordSpec):
                weights[word.norm] = max(weights.get(word.norm, 0.0), word.weight)
        evidence = sum(weights.values())
        if evidence < rule.threshold or not weights:
            return None
        score = evidence * rule.weight * self.topic_specs[rule.topic].weight
        return RuleFiring(rule, evidence, score, _unique_hits(post.hit(w, f) for w, f in found))


def _unique_hits(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    seen: dict[tuple[str, int, int], Hit] = {}
    for h in hits:
        seen.setdefault((h.field, h.start, h.end), h)
    return tuple(sorted(seen.values(), key=lambda h: (h.field != "title", h.start, h.end)))
