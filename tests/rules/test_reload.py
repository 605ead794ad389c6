"""Hot reload: a broken file keeps the last good rules; a good one swaps in completely."""

from __future__ import annotations

from pathlib import Path

from rules.loading import PACK_DIR, build_ruleset
from rules.reload import RuleHolder


def test_reload_swaps_good_and_keeps_last_good_on_error(tmp_path: Path) -> None:
    rule = tmp_path / "local.yaml"
    rule.write_text("topic: local\nrules:\n  - id: a\n    any: [低保]\n", encoding="utf-8")
    holder = RuleHolder(lambda: build_ruleset([PACK_DIR / "_groups.yaml", rule]))
    first = holder.current
    assert [t.topic for t in first.analyse("", "低保名单").topics] == ["local"]

    rule.write_text("topic: local\nrules:\n  - id: a\n    any: [危房改造]\n", encoding="utf-8")
    result = holder.reload()
    assert result.ok and result.problems == ()
    assert holder.current is not first
    assert not holder.current.analyse("", "低保名单").topics
    assert holder.current.analyse("", "危房改造补助").topics

    good = holder.current
    rule.write_text("topic: local\nrules:\n  - id: a\n    anny: [低保]\n", encoding="utf-8")
    result = holder.reload()
    assert not result.ok
    assert holder.current is good  # the last good set stays active
    assert any("local.yaml:4" in str(p) and "anny" in str(p) for p in result.problems)
