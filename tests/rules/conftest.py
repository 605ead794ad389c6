"""Fixtures of the rules tests: the shipped pack compiled once, and a builder for small rule sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rules.engine import RuleSet
from rules.loading import PACK_DIR, build_ruleset

GROUPS = PACK_DIR / "_groups.yaml"


@pytest.fixture(scope="session")
def shipped() -> RuleSet:
    return build_ruleset(sorted(PACK_DIR.glob("*.yaml")))


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[..., RuleSet]:
    """Compile rule files written from YAML texts (the shipped groups available as $names)."""

    def make(*texts: str, user_dict: Path | None = None) -> RuleSet:
        paths = [GROUPS]
        for i, text in enumerate(texts):
            p = tmp_path / f"r{i}.yaml"
            p.write_text(text, encoding="utf-8")
            paths.append(p)
        return build_ruleset(paths, user_dict=user_dict)

    return make
