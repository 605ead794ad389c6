"""Rules carry their own tests: run each rule's `examples` (match / no_match) against the set.

Used by `yuqing rules check`. An example of rule R "matches" when R itself fires on the text (not
merely its topic through another rule); a no_match example fails when R fires. A failure names the
rule's file:line so the operator can go straight to it.
"""

from __future__ import annotations

from yuqing.errors import Problem

from .engine import RuleSet


def example_failures(rs: RuleSet) -> list[Problem]:
    failures: list[Problem] = []
    for rule in rs.rules:
        for text in rule.examples_match:
            _, firings = rs.explain("", text)
            if not any(f.rule.id == rule.id for f in firings):
                failures.append(Problem(rule.file, rule.line, None, f"rule '{rule.id}': example should match but does not: {text}"))
        for text in rule.examples_no_match:
            _, firings = rs.explain("", text)
            if any(f.rule.id == rule.id for f in firings):
                failures.append(Problem(rule.file, rule.line, None, f"rule '{rule.id}': example should not match but does: {text}"))
    return failures


def example_count(rs: RuleSet) -> int:
    return sum(len(r.examples_match) + len(r.examples_no_match) for r in rs.rules)
