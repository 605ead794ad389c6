"""The literal strings one of which every match of a rule's regex must contain.

A rule's `regex` is searched in the post's normalised text, which costs a pass of Python's `re`
over the whole field, and a pattern that begins with an alternation of common characters (他, 她,
已 in cadre.became) costs 30 us over an 900-character post: that rule alone was 4% of the engine's
time over the bench sample, on the 117 of 10,000 posts that held a cadre's title and where it
never matched. So each regex is reduced, when it can be, to a set of literals one of which every
match contains (`necessary_literals`); the engine finds them with the rule words in its automaton
pass and treats the set as one more word list the rule needs (`RuleSet._required`): a post with
none of them never runs the rule, and the regex is never searched.

Written here because no library does it: Python's `re` does not expose what a pattern requires,
and the projects that extract such factors (RE2's prefilter, Hyperscan, codesearch's trigram
queries) work on their own regex syntaxes, not Python's. It reads the pattern with `re._parser`,
the parser `re.compile` itself uses: a private module, so anything it returns that is not
understood here gives no literals (the regex is then searched on every post that reaches the rule,
as before), never a wrong set. Soundness is checked by the tests and by bench/rules.py, whose
reference evaluates every rule whose words were found, without this filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

# A finite language is expanded only while it stays this small (a run of alternations multiplies).
_MAX_STRINGS = 64
# A character class is taken as its characters only when it is a short list of literals.
_MAX_CLASS = 8
_REPEATS = tuple(getattr(_c, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_c, name))
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)
_ATOMIC = getattr(_c, "ATOMIC_GROUP", None)

Items = Iterable[tuple[Any, Any]]


def necessary_literals(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Literals one of which is in every string the pattern matches, or None when none are known.

    The set chosen is the most telling one found: the longest shortest member, then the fewest
    members (of 改口叫...科长 and a title followed by 了, {改口} and {科长了, 处长了, ...} both hold; a
    single common character such as 是 is the last resort).
    """
    if pattern.flags & re.IGNORECASE or not isinstance(pattern.pattern, str):
        return None
    try:
        parsed = _p.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - an unknown parser: no literals, the regex is searched as before
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    try:
        return _necessary(parsed.data)
    except (TypeError, ValueError):  # a node of a shape this module does not know
        return None


def _best(candidates: list[frozenset[str]]) -> frozenset[str] | None:
    usable = [c for c in candidates if c and "" not in c]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(map(len, c)), -len(c)))


def _group_body(op: Any, av: Any) -> Items | None:
    """The nodes inside a group (capturing, not, or atomic); None for a case-insensitive one."""
    if op is _ATOMIC:
        return av.data
    _group, add_flags, _del_flags, sub = av
    return None if add_flags & re.IGNORECASE else sub.data


def _union(alternatives: Iterable[Any], of: Callable[[Items], frozenset[str] | None]) -> frozenset[str] | None:
    """The union of `of` over a branch's alternatives, or None when one of them has none."""
    out: set[str] = set()
    for alternative in alternatives:
        part = of(alternative.data)
        if part is None:
            return None
        out |= part
    return frozenset(out)


def _language(items: Items) -> frozenset[str] | None:
    """Every string a sequence of nodes can match, when that is a small finite set."""
    out = {""}
    for op, av in items:
        lang = _item_language(op, av)
        if lang is None:
            return None
        out = {a + b for a in out for b in lang}
        if len(out) > _MAX_STRINGS:
            return None
    return frozenset(out)


def _item_language(op: Any, av: Any) -> frozenset[str] | None:
    if op is _c.LITERAL:
        return frozenset((chr(av),))
    if op in _ZERO_WIDTH:
        return frozenset(("",))  # consumes nothing: the strings around it stay adjacent in the text
    if op is _c.IN:
        if len(av) <= _MAX_CLASS and all(sub_op is _c.LITERAL for sub_op, _ in av):
            return frozenset(chr(code) for _, code in av)
        return None
    if op is _c.SUBPATTERN or op is _ATOMIC:
        body = _group_body(op, av)
        return None if body is None else _language(body)
    if op is _c.BRANCH:
        lang = _union(av[1], _language)
        return lang if lang is None or len(lang) <= _MAX_STRINGS else None
    if op in _REPEATS:
        low, high, sub = av
        if high == 0:
            return frozenset(("",))
        if high == 1:
            lang = _language(sub.data)
            return None if lang is None else (lang | {""} if low == 0 else lang)
    return None


def _necessary(items: Items) -> frozenset[str] | None:
    """A set one of whose members every match of the sequence contains, or None."""
    candidates: list[frozenset[str]] = []
    run: list[tuple[Any, Any]] = []

    def close_run() -> None:
        if run:
            lang = _language(run)
            if lang is not None:
                candidates.append(lang)
            run.clear()

    for op, av in items:
        lang = _item_language(op, av)
        if lang is not None:
            run.append((op, av))
            candidates.append(lang)  # each node of a run holds alone too (when it cannot be empty)
            continue
        close_run()
        inner = _item_necessary(op, av)
        if inner is not None:
            candidates.append(inner)
    close_run()
    return _best(candidates)


def _item_necessary(op: Any, av: Any) -> frozenset[str] | None:
    """For a node with no small finite language: a set one of whose members each of its matches holds."""
    if op is _c.SUBPATTERN or op is _ATOMIC:
        body = _group_body(op, av)
        return None if body is None else _necessary(body)
    if op is _c.BRANCH:
        return _union(av[1], _necessary)
    if op in _REPEATS:
        low, _high, sub = av
        if low >= 1:
            return _necessary(sub.data)
    return None
