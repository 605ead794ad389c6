"""The literals a rule's regex needs (`rules.regex_literals`), and the engine's use of them."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from rules.engine import RuleSet, _Post
from rules.loading import PACK_DIR, build_ruleset
from rules.regex_literals import necessary_literals

Make = Callable[..., RuleSet]


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("同志(任|为|担任)", {"同志任", "同志为", "同志担任"}),  # a run of literals and a small alternation: expanded
        ("(选举|推选|任命)[^，。]{1,8}为", {"选举", "推选", "任命"}),  # the longer of the two sets the pattern needs
        ("副[\"”]?字", {"副字", '副"字', "副”字"}),  # an optional character and a short class
        ("改口(叫|喊)|(已经|如今)[^，]{0,4}是[^，]{0,6}(科长|处长)了", {"改口叫", "改口喊", "科长了", "处长了"}),  # one set per branch
        ("(?:foo|bar)+baz?", {"foo", "bar"}),  # a repeat of at least one holds its body's literals
        (r"\d+万", {"万"}),
        ("x(?=abc)y?", {"x"}),  # an assertion consumes nothing
    ],
)
def test_the_literals_of_a_pattern(pattern: str, literals: set[str]) -> None:
    assert necessary_literals(re.compile(pattern)) == literals


@pytest.mark.parametrize(
    "pattern",
    [
        "(?i)abc",  # case-insensitive: a literal may be found in another case
        "(?i:ab)c?",
        "[^x]*",  # nothing is needed
        "a|.",  # a branch without a literal
        r"\w+",
        "(a)\\1?|b*",
    ],
)
def test_no_literals_when_none_are_certain(pattern: str) -> None:
    assert necessary_literals(re.compile(pattern)) is None


def _random_regex(rng: random.Random, depth: int = 0) -> str:
    """A random pattern over a small alphabet, with the constructs `necessary_literals` reads."""
    alphabet = "ab字词"
    kind = rng.randrange(10 if depth < 3 else 3)
    if kind <= 1:
        return rng.choice(alphabet)
    if kind == 2:
        return rng.choice(["[ab]", "[^a]", ".", "[字词b]", r"\d"])
    if kind == 3:
        return "(" + "|".join(_random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3))) + ")"
    if kind == 4:
        return "(?:" + _random_regex(rng, depth + 1) + ")" + rng.choice(["?", "*", "+", "{0,2}", "{1,3}", "{2}"])
    if kind == 5:
        return rng.choice(["(?=", "(?!", "(?<="]) + rng.choice(alphabet) + ")"
    return "".join(_random_regex(rng, depth + 1) for _ in range(rng.randint(2, 4)))


def test_every_match_holds_one_of_the_literals() -> None:
    """Soundness, on random patterns and texts: a match without any of the literals would be a rule
    that cannot fire where it should."""
    rng = random.Random(4)
    checked = 0
    for _ in range(600):
        source = _random_regex(rng)
        try:
            pattern = re.compile(source)
        except re.error:
            continue
        literals = necessary_literals(pattern)
        if literals is None:
            continue
        for _ in range(60):
            text = "".join(rng.choice("ab字词1 ") for _ in range(rng.randint(0, 14)))
            m = pattern.search(text)
            if m:
                checked += 1
                # in the match itself (the literals come from what a pattern consumes), so in the text
                assert any(lit in m.group(0) for lit in literals), (source, text, literals)
    assert checked > 1000  # the test exercised the claim


def test_the_shipped_regexes_have_literals_and_they_hold_on_the_examples() -> None:
    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")))
    with_regex = [rule for rule in rs.rules if rule.regex]
    assert with_regex
    for rule in with_regex:
        for pattern in rule.regex:
            literals = necessary_literals(pattern)
            assert literals, (rule.id, pattern.pattern)
            for text in rule.examples_match:
                norm = rs.fold(text)[0]
                if pattern.search(norm):
                    assert any(lit in norm for lit in literals), (rule.id, text)


def test_a_rule_whose_regex_cannot_match_is_not_even_evaluated(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [科长]\n    regex: ['改口(叫|喊)[^，。]{0,4}科长']\n")
    post = _Post(rs, "", "王科长今天来检查工作", segment_all=False)
    assert rs._runnable(set(post.candidates["title"]), set(post.candidates["text"])) == []
    post = _Post(rs, "", "大家都改口叫他王科长了", segment_all=False)
    assert rs._runnable(set(post.candidates["title"]), set(post.candidates["text"])) == [0]
    assert [t.topic for t in rs.analyse("", "大家都改口叫他王科长了").topics] == ["t"]
    assert rs.analyse("", "王科长今天来检查工作").topics == ()
    # The benchmark's reference does without the literals (and the index), so that it checks them:
    # it evaluates the rule, whose regex then decides the same.
    post = _Post(rs, "", "王科长今天来检查工作", segment_all=True)
    assert rs._runnable(set(post.candidates["title"]), set(post.candidates["text"]), reference=True) == [0]
    assert rs.analyse("", "王科长今天来检查工作", segment_all=True) == rs.analyse("", "王科长今天来检查工作")


def test_regex_literals_are_not_added_to_jiebas_dictionary(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [科长]\n    regex: ['改口叫[^，。]{0,4}科长']\n")
    assert "改口叫" in rs.rule_patterns
    assert "改口叫" not in rs.added_words and "改口叫" not in rs.tokenizer.FREQ


def test_a_case_insensitive_regex_still_fires(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [面试]\n    regex: ['(?i)ZOOM']\n")
    assert [t.topic for t in rs.analyse("", "面试改在zoom上进行").topics] == ["t"]
