"""The daemon's running configuration, frozen on disk for the crawl processes it starts.

Each crawl runs in its own process, which reads settings and rules from files (`--config`). If it
read the operator's live files, a rule file broken after the last good reload would break every
crawl, although the daemon "kept the last good rules". So when a configuration is accepted, the
settings file and the rule files it names are copied into `<run dir>/config/<generation>/`, and the
daemon hands that copy to its crawls: they use exactly what the daemon validated until the next
good reload. `${ENV}` references are kept as written (no secret is written out); relative paths
(the SQLite file, templates, folders) are made absolute so they still point at the same places.
"""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .config import Settings, load_settings
from .yamlfile import _CLOSE, _OPEN, _mask_env_refs

log = logging.getLogger("yuqing.runconfig")

KEEP_GENERATIONS = 2

# Settings keys holding a file or folder path, relative to the settings file.
_PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("alerts", "templates"),
    ("alerts", "keep_eml"),
    ("daemon", "log_file"),
    ("daemon", "run_dir"),
)


def _copy(src: Path, dest: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dest, dirs_exist_ok=True)
    elif src.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    return dest


def freeze(settings: Settings, root: Path, generation: int) -> Settings:
    """Copy `settings` (as loaded and validated) to `root/<generation>/` and load the copy.

    Returns the settings read from the copy; their `path` is what crawl processes are given.
    """
    dest = root / str(generation)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    yaml = YAML()  # round-trip: comments and layout stay, so the copy reads like the original
    yaml.preserve_quotes = True
    text = _mask_env_refs(Path(settings.path).read_text(encoding="utf-8"))
    doc: Any = yaml.load(text) or {}

    db = doc.get("database")
    if isinstance(db, str) and "$" + _OPEN not in db and db.startswith("sqlite:///"):
        doc["database"] = settings.database_url()
    rules = doc.get("rules")
    if isinstance(rules, dict):
        frozen_paths = []
        for i, path in enumerate(settings.rule_paths()):
            frozen_paths.append(str(_copy(path, dest / "rules" / f"{i:02d}-{path.name}")))
        if "paths" in rules:
            rules["paths"] = frozen_paths
        if settings.rules.user_dict:
            src = settings.resolve(settings.rules.user_dict)
            rules["user_dict"] = str(_copy(src, dest / "rules" / f"user-dict-{src.name}"))
    for section, key in _PATH_KEYS:
        part = doc.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str) and "$" + _OPEN not in part[key]:
            part[key] = str(settings.resolve(part[key]).resolve())

    out = io.StringIO()
    yaml.dump(doc, out)
    copy = dest / Path(settings.path).name
    copy.write_text(out.getvalue().replace("$" + _OPEN, "${").replace(_CLOSE, "}"), encoding="utf-8")
    frozen = load_settings(str(copy))
    _prune(root, generation)
    return frozen


def _prune(root: Path, generation: int) -> None:
    """Other generations go (also those of an earlier daemon); the previous one stays for a crawl that
    may still be starting from it."""
    for old in root.iterdir():
        if old.is_dir() and old.name.isdigit() and not 0 <= generation - int(old.name) < KEEP_GENERATIONS:
            shutil.rmtree(old, ignore_errors=True)
