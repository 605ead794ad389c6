"""Finding and reading rule files (first version: topic ids only; the engine builds on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yuqing.yamlfile import load_yaml

PACK_DIR = Path(__file__).parent / "pack"


def rule_files(settings: Any) -> list[Path]:
    """The shipped pack (unless turned off) and the operator's files, in load order."""
    paths: list[Path] = []
    if settings.rules.shipped:
        paths += sorted(PACK_DIR.glob("*.yaml"))
    for p in settings.rule_paths():
        paths += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
    return paths


def topic_ids(settings: Any) -> set[str]:
    """Every topic id the configured rule files define."""
    topics: set[str] = set()
    for path in rule_files(settings):
        doc, _ = load_yaml(path)
        if doc is not None and isinstance(doc.root, dict) and doc.root.get("topic"):
            topics.add(str(doc.root["topic"]))
    return topics
