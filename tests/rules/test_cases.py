"""Golden rule cases kept as YAML data (tests/rules/cases/*.yaml), run against the shipped pack.

Each case: `text` (and optional `title`), the exact `topics` expected, optionally `negative`,
`severity` per topic, and `hits` ({word, found, field, start}) that must be among the hits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from rules.engine import RuleSet

CASES = Path(__file__).parent / "cases"


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        for i, case in enumerate(YAML(typ="safe").load(path.read_text(encoding="utf-8"))):
            out.append(pytest.param(case, id=f"{path.stem}-{i}-{case.get('name', '')}"))
    return out


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict[str, Any], shipped: RuleSet) -> None:
    analysis = shipped.analyse(case.get("title", ""), case["text"])
    assert sorted(t.topic for t in analysis.topics) == sorted(case["topics"]), analysis
    if "negative" in case:
        assert analysis.negative is case["negative"], analysis.reasons
    by_topic = {t.topic: t for t in analysis.topics}
    for topic, severity in case.get("severity", {}).items():
        assert by_topic[topic].severity == severity
    all_hits = [h for t in analysis.topics for h in t.hits]
    for want in case.get("hits", []):
        assert any(all(getattr(h, k) == v for k, v in want.items()) for h in all_hits), (want, all_hits)
    source = {"title": case.get("title", ""), "text": case["text"]}
    for h in all_hits:
        # Every span points at the post as written.
        assert source[h.field][h.start : h.end] == h.found
