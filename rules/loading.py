"""Finding rule files and building a `RuleSet` from them: the entry point `load_ruleset(settings)`.

Load order: the shipped pack (`rules/pack/*.yaml`, unless `rules.shipped: false`), then the
operator's files and folders from `rules.paths`, in the order listed (a folder's files sorted by
name). Later files may `disable` or `override` earlier rules. Any problem in any file stops the
load with a `RuleError` listing every problem at file:line; nothing half-loaded is ever returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yuqing.errors import Problem, RuleError
from yuqing.yamlfile import load_yaml

from .engine import RuleSet
from .language import parse_files
from .normalise import Normaliser

PACK_DIR = Path(__file__).parent / "pack"


def rule_files(settings: Any) -> list[Path]:
    """The shipped pack (unless turned off) and the operator's files, in load order."""
    paths: list[Path] = []
    if settings.rules.shipped:
        paths += sorted(PACK_DIR.glob("*.yaml"))
    return paths + expand_paths(settings.rule_paths())


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders as their *.yaml / *.yml files sorted by name."""
    out: list[Path] = []
    for p in paths:
        out += sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
    return out


def topic_ids(settings: Any) -> set[str]:
    """Every topic id the configured rule files define (read cheaply, for settings validation)."""
    topics: set[str] = set()
    for path in rule_files(settings):
        doc, _ = load_yaml(path)
        if doc is not None and isinstance(doc.root, dict) and doc.root.get("topic"):
            topics.add(str(doc.root["topic"]))
    return topics


def user_dict_path(settings: Any) -> Path | None:
    if settings.rules.user_dict is None:
        return None
    return settings.resolve(settings.rules.user_dict)


def build_ruleset(paths: list[Path], *, user_dict: Path | None = None, normaliser: Normaliser | None = None) -> RuleSet:
    """Compile the given rule files (in order) into a RuleSet, or raise RuleError with every problem."""
    norm = normaliser or Normaliser()
    parsed = parse_files(paths, norm)
    problems = list(parsed.problems)
    if user_dict is not None and not user_dict.is_file():
        problems.append(Problem(str(user_dict), None, None, "rules.user_dict: file not found"))
    if problems:
        raise RuleError(problems)
    return RuleSet(parsed.topics, parsed.rules, normaliser=norm, user_dict=user_dict)


def load_ruleset(settings: Any) -> RuleSet:
    """The configured rules, compiled. Raises RuleError listing every problem (file:line)."""
    return build_ruleset(rule_files(settings), user_dict=user_dict_path(settings))
