"""Hot reload: a new rule set is compiled completely before it replaces the running one.

The daemon calls `RuleHolder.reload()` on SIGHUP (and the crawl pipeline reads `holder.current`).
A broken file leaves the last good set in place and the problems are returned for the operator;
nothing ever sees a half-built set, because the swap is a single attribute assignment of a fully
compiled `RuleSet`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from yuqing.errors import Problem, RuleError

from .engine import RuleSet


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: swapped in a new set, or kept the old one because of `problems`."""

    ok: bool
    rules: int
    problems: tuple[Problem, ...] = ()


class RuleHolder:
    """Holds the active RuleSet; `build` compiles a fresh one from the current files."""

    def __init__(self, build: Callable[[], RuleSet]):
        self._build = build
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        self.current: RuleSet = build()

    def reload(self) -> ReloadResult:
        with self._lock:
            try:
                fresh = self._build()
            except RuleError as exc:
                return ReloadResult(False, len(self.current), tuple(exc.problems))
            self.current = fresh
            return ReloadResult(True, len(fresh))


def holder_for(settings: object) -> RuleHolder:
    """A holder that reloads the configured rules (settings as loaded at start)."""
    from .loading import load_ruleset

    return RuleHolder(lambda: load_ruleset(settings))
