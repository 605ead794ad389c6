"""Reading YAML with ruamel.yaml (YAML 1.2) while keeping line numbers for messages.

Settings and rule files are both read here: `12:30` stays a string, a duplicate key is an error,
and every mapping and sequence remembers where its keys and items stand so that a validation
error can name `file:line:col`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import Problem

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# `password: ${SMTP_PASSWORD}` inside a flow mapping (`smtp: {..., password: ${X}}`) is not valid
# YAML: `{` and `}` end a plain scalar there. Operators write it anyway, so before parsing each
# reference's braces become look-alike characters of the same length (columns stay right), and
# expansion looks for those.
_OPEN, _CLOSE = "\u2983", "\u2984"
_MASKED_REF = re.compile("\\$" + _OPEN + r"([A-Za-z_][A-Za-z0-9_]*)(?::-([^" + _CLOSE + "]*))?" + _CLOSE)


def _mask_env_refs(text: str) -> str:
    return _ENV_REF.sub(lambda m: "$" + _OPEN + m.group(0)[2:-1] + _CLOSE, text)


class YamlDocument:
    """A parsed YAML file: its plain data and a way to locate any path inside it."""

    def __init__(self, path: str, root: Any):
        self.path = path
        self.root = root

    def locate(self, loc: Sequence[str | int]) -> tuple[int | None, int | None]:
        """1-based (line, col) of the deepest node on `loc` that exists in the file."""
        node = self.root
        line: int | None = None
        col: int | None = None
        for key in loc:
            if isinstance(node, CommentedMap) and key in node:
                ln, cl = node.lc.key(key)
                line, col = ln + 1, cl + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                ln, cl = node.lc.item(key)
                line, col = ln + 1, cl + 1
                node = node[key]
            else:
                break
        if line is None and hasattr(self.root, "lc"):
            line, col = self.root.lc.line + 1, self.root.lc.col + 1
        return line, col

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        line, col = self.locate(loc)
        return Problem(self.path, line, col, message)


def load_yaml(path: str | Path, text: str | None = None) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse a YAML file; return the document or the syntax problems found."""
    path = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, [Problem(path, None, None, "file not found")]
        except UnicodeDecodeError as exc:
            return None, [Problem(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        except OSError as exc:
            return None, [Problem(path, None, None, f"cannot read: {exc.strerror}")]
    text = _mask_env_refs(text)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        root = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        if mark is not None:
            return None, [Problem(path, mark.line + 1, mark.column + 1, message.strip())]
        return None, [Problem(path, None, None, message.strip())]
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys in some versions)
        return None, [Problem(path, None, None, str(exc).splitlines()[0])]
    return YamlDocument(path, root), []


def expand_env(doc: YamlDocument, environ: dict[str, str] | None = None) -> list[Problem]:
    """Replace `${NAME}` (or `${NAME:-default}`) in every string value, in place.

    This is the one place where yuqing reads secrets from the environment.
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []

    def sub(value: str, loc: list[str | int]) -> str:
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(doc.problem(loc, f"environment variable {name} is not set"))
            return ""

        return _MASKED_REF.sub(repl, value)

    def walk(node: Any, loc: list[str | int]) -> None:
        if isinstance(node, dict):
            for k in list(node.keys()):
                v = node[k]
                if isinstance(v, str):
                    node[k] = sub(v, [*loc, k])
                else:
                    walk(v, [*loc, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = sub(v, [*loc, i])
                else:
                    walk(v, [*loc, i])

    walk(doc.root, [])
    return problems


def plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (for pydantic)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
