"""Bad rule files: one located message per problem, with a "did you mean" for names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rules.engine import RuleSet
from yuqing.errors import RuleError


def problems(make_rules: Callable[..., RuleSet], text: str) -> list[str]:
    with pytest.raises(RuleError) as exc:
        make_rules(text)
    return [str(p) for p in exc.value.problems]


def test_unknown_rule_key_did_you_mean(make_rules: Callable[..., RuleSet]) -> None:
    [msg] = problems(make_rules, "topic: t\nrules:\n  - id: a\n    anyy: [低保]\n    any: [低保]\n")
    assert msg.endswith(':4:5: unknown rule key \'anyy\' (did you mean "any"?)'), msg
    assert "r0.yaml" in msg


def test_unknown_file_key(make_rules: Callable[..., RuleSet]) -> None:
    [msg] = problems(make_rules, "topic: t\nrulez: []\n")
    assert ":2:1: unknown rule file key 'rulez'" in msg and 'did you mean "rules"' in msg


def test_unknown_group(make_rules: Callable[..., RuleSet]) -> None:
    [msg] = problems(make_rules, "topic: t\nrules:\n  - id: a\n    any: [$vilage]\n")
    assert ":4:11: no synonym group 'vilage' (did you mean \"village\"?)" in msg


def test_bad_values(make_rules: Callable[..., RuleSet]) -> None:
    msgs = problems(
        make_rules,
        "topic: t\nrules:\n  - id: a\n    any: [低保]\n    weight: heavy\n    scope: titel\n"
        "    near: [{words: [a, b], within: 0}]\n    regex: ['(']\n",
    )
    text = "\n".join(msgs)
    assert ":5:5: 'weight' must be a number" in text
    assert ":6:5: scope must be one of any, title, body, not 'titel' (did you mean \"title\"?)" in text
    assert ":7:" in text and "'within' must be a number of words >= 1 or 'sentence'" in text
    assert ":8:" in text and "bad regular expression" in text


def test_duplicate_id_and_override_without_target(make_rules: Callable[..., RuleSet]) -> None:
    msgs = problems(make_rules, "topic: t\nrules:\n  - id: a\n    any: [低保]\n  - id: a\n    any: [危房]\n  - id: b\n    override: true\n    any: [x]\n")
    assert any(":5:" in m and "rule id 'a' is already used at" in m for m in msgs)
    assert any(":8:" in m and "no earlier rule 'b'" in m for m in msgs)


def test_rule_without_words(make_rules: Callable[..., RuleSet]) -> None:
    [msg] = problems(make_rules, "topic: t\nrules:\n  - id: a\n    regex: ['低保']\n")
    assert ":3:5:" in msg and "needs at least one of 'any', 'all' or 'near'" in msg


def test_yaml_syntax_and_duplicate_key(make_rules: Callable[..., RuleSet]) -> None:
    [msg] = problems(make_rules, "topic: t\ntopic: u\n")
    assert "r0.yaml" in msg and "duplicate" in msg.lower()
