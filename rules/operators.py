"""The rule operators: the registry of conditions a rule may hold (`any`, `all`, `none`, `near`, `regex`).

Each operator knows how to read its YAML value (`parse`, called by `rules.language`) and how to test
it against the evidence of one post (`check`, called by `rules.engine` only for rules whose words
were found). A rule fires when every operator it uses is satisfied. `OPERATORS` is the plain-dict
registry; its keys are the rule keys of the same name, and each operator's docstring is what
`rules/README.md` and `yuqing rules check --help` describe.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from .language import Alternatives, NearSpec, RuleSpec, WordSpec, _FileReader


# NamedTuples rather than frozen dataclasses: one is built for every candidate and every operator
# test of the posts a rule may fire on (1,500 per 10,000 bench posts), and a frozen dataclass costs
# four times as much to create (1.0 against 0.26 us).
class Found(NamedTuple):
    """A confirmed hit in the normalised text of one field."""

    field: str  # "title" | "text"
    start: int
    end: int
    norm: str


class Evidence(NamedTuple):
    """Why an operator is satisfied: the words it found (rule word, hit)."""

    ok: bool
    found: tuple[tuple[WordSpec | str, Found], ...] = ()


class PostView(Protocol):
    """What operators may ask of the post being analysed (implemented by `rules.engine`)."""

    def hits(self, word: WordSpec, scope: str) -> list[Found]: ...

    def hits_of(self, words: Alternatives, scope: str) -> list[tuple[WordSpec | str, Found]]:
        """Confirmed hits of each of the words, checking boundaries only for words that were candidates."""
        ...

    def may_hit(self, words: Alternatives, scope: str) -> bool:
        """Whether the automaton found any of the words at all (no word-boundary check: cheap)."""
        ...

    def candidates_of(self, words: Alternatives, scope: str) -> list[tuple[WordSpec, Found]]:
        """What `hits_of` returns before its word-boundary checks: every candidate, in the same order."""
        ...

    def confirmed(self, word: WordSpec, found: Found) -> bool:
        """Whether a candidate passes the word-boundary checks (jieba cuts its block if needed)."""
        ...

    def found_any(self, words: Alternatives, scope: str) -> bool:
        """Whether any of the words has a confirmed hit (stops at the first)."""
        ...

    def fields(self, scope: str) -> tuple[str, ...]: ...

    def normalised(self, field: str) -> str: ...

    def distance(self, field: str, p: int, q: int, limit: int) -> int: ...

    def same_sentence(self, field: str, p: int, q: int) -> bool: ...


class Operator(Protocol):
    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> Any: ...

    def check(self, rule: RuleSpec, value: Any, post: PostView) -> Evidence: ...


def _found(words: Alternatives, scope: str, post: PostView) -> list[tuple[WordSpec | str, Found]]:
    return post.hits_of(words, scope)


class AnyOp:
    """any: [words] — at least one of the words is found."""

    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> Alternatives:
        return tuple(reader.words(value, loc, not_in))

    def check(self, rule: RuleSpec, value: Alternatives, post: PostView) -> Evidence:
        if not post.may_hit(value, rule.scope):
            return Evidence(False)
        found = _found(value, rule.scope, post)
        return Evidence(bool(found), tuple(found))


class AllOp:
    """all: [words] — every item is found; an item may be a $group or an inline list (one of them)."""

    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> tuple[Alternatives, ...]:
        return tuple(reader.alternatives_list(value, loc, not_in))

    def check(self, rule: RuleSpec, value: tuple[Alternatives, ...], post: PostView) -> Evidence:
        # Fail before any jieba work when an item was not even a candidate.
        if not all(post.may_hit(alts, rule.scope) for alts in value):
            return Evidence(False)
        found: list[tuple[WordSpec | str, Found]] = []
        for alts in value:
            item = _found(alts, rule.scope, post)
            if not item:
                return Evidence(False)
            found += item
        return Evidence(True, tuple(found))


class NoneOp:
    """none: [words] — none of the words is found anywhere in the post (title or body), whatever the scope."""

    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> Alternatives:
        # A rule's `not_in` contexts are about its own positive words, not about its stop words.
        return tuple(reader.words(value, loc, ()))

    def check(self, rule: RuleSpec, value: Alternatives, post: PostView) -> Evidence:
        if not post.may_hit(value, "any"):
            return Evidence(True)
        # Only whether one is found matters (a rule's `none` words are never shown as its hits).
        return Evidence(not post.found_any(value, "any"))


class NearOp:
    """near: [{words: [A, B, ...], within: N | sentence}] — one word of each member, all within N
    words of the first member's word (or in the same sentence), in the same field."""

    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> tuple[NearSpec, ...]:
        from .language import NEAR_KEYS, NearSpec

        clauses = value if isinstance(value, list) else [value]
        out: list[NearSpec] = []
        for i, clause in enumerate(clauses):
            here = [*loc, i] if isinstance(value, list) else loc
            if not isinstance(clause, dict):
                reader.problem(here, "a near clause is {words: [A, B], within: N | sentence}")
                continue
            reader.unknown_keys(clause, NEAR_KEYS, here, "near")
            within = clause.get("within", "sentence")
            if within == "sentence":
                limit = None
            elif isinstance(within, int) and not isinstance(within, bool) and within >= 1:
                limit = within
            else:
                reader.problem([*here, "within"], f"'within' must be a number of words >= 1 or 'sentence', not {within!r}")
                continue
            members = reader.alternatives_list(clause.get("words"), [*here, "words"], not_in)
            if len(members) < 2:
                reader.problem([*here, "words"], "'near' needs at least two members in 'words'")
                continue
            out.append(NearSpec(tuple(members), limit))
        return tuple(out)

    def check(self, rule: RuleSpec, value: tuple[NearSpec, ...], post: PostView) -> Evidence:
        found: list[tuple[WordSpec | str, Found]] = []
        for clause in value:
            got = self._clause(rule, clause, post)
            if got is None:
                return Evidence(False)
            found += got
        return Evidence(True, tuple(found))

    def _clause(self, rule: RuleSpec, clause: NearSpec, post: PostView) -> list[tuple[WordSpec | str, Found]] | None:
        if not all(post.may_hit(alts, rule.scope) for alts in clause.members):
            return None  # decided without any jieba work
        # Candidates first, word boundaries last: a pair that is not close (most often, not in one
        # sentence) costs no jieba cut. The same pick as confirming every hit first, in the same
        # order (a cut over the bench sample's posts: 5,006 -> 3,403 characters cut).
        members = [post.candidates_of(alts, rule.scope) for alts in clause.members]
        others = members[1:]
        for anchor_word, anchor in members[0]:
            field = anchor.field
            if clause.within is None and not all(
                any(wh[1].field == field and post.same_sentence(field, anchor.start, wh[1].start) for wh in other) for other in others
            ):
                continue  # the sentence test costs no cut; a distance in words would
            if not post.confirmed(anchor_word, anchor):
                continue
            picked: list[tuple[WordSpec | str, Found]] = [(anchor_word, anchor)]
            for other in others:
                close = next((wh for wh in other if wh[1].field == field and self._close(clause, anchor, wh[1], post) and post.confirmed(*wh)), None)
                if close is None:
                    break
                picked.append(close)
            else:
                return picked
        return None

    @staticmethod
    def _close(clause: NearSpec, a: Found, b: Found, post: PostView) -> bool:
        p, q = sorted((a.start, b.start))
        if clause.within is None:
            return post.same_sentence(a.field, p, q)
        return post.distance(a.field, p, q, clause.within) <= clause.within


class RegexOp:
    """regex: [patterns] — escape hatch: every pattern is found in the normalised text (in scope).
    Only evaluated when the rule's words were found, so it never costs a pass over every post."""

    def parse(self, reader: _FileReader, value: Any, loc: list[Any], not_in: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
        out: list[re.Pattern[str]] = []
        for i, pattern in enumerate(reader.string_list(value, loc, "regex")):
            try:
                out.append(re.compile(pattern))
            except re.error as exc:
                reader.problem([*loc, i] if isinstance(value, list) else loc, f"bad regular expression {pattern!r}: {exc}")
        return tuple(out)

    def check(self, rule: RuleSpec, value: tuple[re.Pattern[str], ...], post: PostView) -> Evidence:
        found: list[tuple[WordSpec | str, Found]] = []
        for pattern in value:
            m = None
            for field in post.fields(rule.scope):
                m = pattern.search(post.normalised(field))
                if m:
                    found.append((pattern.pattern, Found(field, m.start(), m.end(), m.group(0))))
                    break
            if m is None:
                return Evidence(False)
        return Evidence(True, tuple(found))


OPERATORS: dict[str, Operator] = {
    "any": AnyOp(),
    "all": AllOp(),
    "near": NearOp(),
    "none": NoneOp(),
    "regex": RegexOp(),
}
