"""The small error hierarchy the command line shows to users.

Each error knows its exit code and how to print itself as one clear message; the CLI catches
`YuqingError` and never shows a traceback for one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class YuqingError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1

    def show(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Problem:
    """One located problem in a YAML file: `file:line:col: message`."""

    file: str
    line: int | None
    col: int | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.message}"


class ProblemsError(YuqingError):
    """Several located problems, collected and reported together."""

    title = "problems"

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__(self.show())

    def show(self) -> str:
        lines = [str(p) for p in self.problems]
        return "\n".join(lines)


class ConfigError(ProblemsError):
    """settings.yaml is malformed or inconsistent: the program refuses to start (exit 2)."""

    exit_code = 2


class RuleError(ProblemsError):
    """A rule file is malformed or one of its own examples fails (exit 1)."""

    exit_code = 1


class DeliveryError(YuqingError):
    """A delivery channel could not send (mail server down, robot refused)."""

    exit_code = 3


class LockedError(YuqingError):
    """Another yuqing instance holds the run lock."""

    exit_code = 4


class UsageError(YuqingError):
    """A command was called with a wrong name or argument."""

    exit_code = 2


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest known name, or a list of the known names."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f' (did you mean "{close[0]}"?)'
    if known and len(known) <= 12:
        return f" (known: {', '.join(known)})"
    return ""
