"""The examples in rules/README.md run as tests: every ```yaml block is a rule file.

The blocks are loaded in order as one rule set (as an operator's folder would be, so the override
example can disable a rule of an earlier block), and every rule's own examples must hold.
"""

from __future__ import annotations

import re
from pathlib import Path

from rules.examples import example_count, example_failures
from rules.loading import PACK_DIR, build_ruleset

README = Path(__file__).resolve().parents[2] / "rules" / "README.md"


def test_readme_examples_hold(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    paths = [PACK_DIR / "_groups.yaml"]
    for i, block in enumerate(blocks):
        p = tmp_path / f"{i:02d}.yaml"
        p.write_text(block, encoding="utf-8")
        paths.append(p)
    rs = build_ruleset(paths)
    assert example_failures(rs) == []
    assert example_count(rs) >= 15
    assert "demo.village.core" not in {r.id for r in rs.rules}  # disabled by the override example
    assert rs.analyse("", "青禾村的路修好了").topics[0].rule_id == "demo.village.local"
