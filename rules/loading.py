"""Finding rule files and building a `RuleSet` from them: the entry point `load_ruleset(settings)`.

Load order: the shipped pack (`rules/pack/*.yaml`, unless `rules.shipped: false`), then the
operator's files and folders from `rules.paths`, in the order listed (a folder's files sorted by
name). Later files may `disable` or `override` earlier rules. Any problem in any file stops the
load with a `RuleError` listing every problem at file:line; nothing half-loaded is ever returned.
The topic confirmation model (`rules.confirm`, `rules/topic_model.json`) is given to the set unless
`rules.topic_model: false`.

Loading is paid by every crawl process, so it is kept cheap: the parsed rules of a set of files that
loaded without a problem, and the negativity lexicon read from its YAML, are kept in a pickle in the
cache folder (`segment.cache_dir()`), under a hash of the files' bytes (the lexicon and its model
included), the rules package's own code and data, and the library versions, so any change to any of
them makes a new entry; and jieba's dictionary is read only when a post first needs word boundaries
(`RuleSet.tokenizer`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import pickle
import sys
from pathlib import Path
from typing import Any

from yuqing.errors import Problem, RuleError
from yuqing.yamlfile import load_yaml

from . import negativity
from .confirm import TopicModel
from .engine import RuleSet
from .language import RuleSpec, TopicSpec, parse_files
from .negativity import Lexicon, NegativityModel, read_lexicon
from .normalise import Normaliser
from .segment import cache_dir, write_cache_file

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


def build_ruleset(
    paths: list[Path], *, user_dict: Path | None = None, normaliser: Normaliser | None = None, topic_model: bool | Path = True
) -> RuleSet:
    """Compile the given rule files (in order) into a RuleSet, or raise RuleError with every problem.
    `topic_model`: the shipped topic confirmation model (True), none (False) or the one at a path."""
    norm = normaliser or Normaliser()
    problems: list[Problem] = []
    # The cached words were folded by the standard normaliser: a caller's own one parses afresh.
    lexicon_path = negativity.LEXICON
    key = _cache_key([*paths, lexicon_path, *sorted(lexicon_path.parent.glob("*.json"))]) if normaliser is None else None
    parsed: tuple[dict[str, TopicSpec], list[RuleSpec], Lexicon | None] | None = _cached(key) if key is not None else None
    if parsed is None:
        fresh = parse_files(paths, norm)
        problems += fresh.problems
        lexicon: Lexicon | None = None
        if not fresh.problems and key is not None:
            # The negativity lexicon is kept beside the rules: reading its YAML was most of a warm
            # load (0.18 of 0.25 s CPU). A problem in it is raised here, as RuleSet would raise it.
            lexicon = read_lexicon(lexicon_path)
            _store(key, (fresh.topics, fresh.rules, lexicon))
        parsed = fresh.topics, fresh.rules, lexicon
    if user_dict is not None:
        problems += _user_dict_problems(user_dict)
    if problems:
        raise RuleError(problems)
    topics, rules, lexicon = parsed
    model = NegativityModel.from_lexicon(lexicon, norm) if lexicon is not None else None
    confirm = None if topic_model is False else TopicModel.shipped() if topic_model is True else TopicModel.from_file(topic_model)
    return RuleSet(topics, rules, normaliser=norm, negativity=model, topic_model=confirm, user_dict=user_dict)


def load_ruleset(settings: Any, *, topic_model: bool = True) -> RuleSet:
    """The configured rules, compiled (`topic_model` False: without the topic confirmation model
    whatever the settings say). Raises RuleError listing every problem (file:line)."""
    return build_ruleset(rule_files(settings), user_dict=user_dict_path(settings), topic_model=topic_model and settings.rules.topic_model)


def _user_dict_problems(path: Path) -> list[Problem]:
    """What jieba would fail on when it reads the operator's dictionary (it is read only when the
    first post needs word boundaries, too late to tell `rules check`)."""
    if not path.is_file():
        return [Problem(str(path), None, None, "rules.user_dict: file not found")]
    try:
        path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), None, None, f"rules.user_dict: not a readable UTF-8 file ({exc})")]
    return []


# -- the cache of parsed rule files -------------------------------------------------------------

_log = logging.getLogger(__name__)
# Bump when what is pickled changes shape in a way the code hash below would not see.
_CACHE_FORMAT = "rules-cache-2"  # 2: the negativity lexicon kept too
_KEEP = 8  # cache entries kept (the newest): a few settings files may share the cache folder
# Whatever parsing depends on besides the rule files: this package's code and data (negativity
# lexicon and model included: cheap to hash, and a stale entry must never be used), the YAML reader
# and the error messages, and the libraries that fold words (OpenCC) or read YAML.
_CODE = Path(__file__).parent
_YUQING = Path(__file__).resolve().parent.parent / "yuqing"
_LIBRARIES = ("OpenCC", "ruamel.yaml", "jieba", "ahocorasick-rs")


def _cache_key(paths: list[Path]) -> str | None:
    """A hash of everything the parsed rules depend on, or None (no cache folder, unreadable file:
    then the files are parsed, and any problem is reported as usual)."""
    if cache_dir() is None:
        return None
    h = hashlib.sha256(f"{_CACHE_FORMAT}\0{sys.version}\0".encode())
    for name in _LIBRARIES:
        try:
            h.update(f"{name}={importlib.metadata.version(name)}\0".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{name}=?\0".encode())
    own = sorted(p for p in _CODE.iterdir() if p.suffix in (".py", ".yaml", ".yml", ".json") and p.is_file())
    own += [_YUQING / "yamlfile.py", _YUQING / "errors.py"]
    try:
        for p in [*own, *paths]:
            h.update(f"{p}\0".encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    except OSError:
        return None
    return h.hexdigest()


def _cache_file(key: str) -> Path | None:
    folder = cache_dir()
    return folder / f"rules-{key[:32]}.pickle" if folder is not None else None


_Parsed = tuple[dict[str, TopicSpec], list[RuleSpec], Lexicon]


def _cached(key: str) -> _Parsed | None:
    path = _cache_file(key)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            stored_key, value = pickle.load(f)  # our own file, in a folder only this user can write
    except Exception as exc:  # a torn or foreign file: parse again, and overwrite it
        _log.debug("rules cache %s unreadable (%s), parsing the rule files", path, exc)
        return None
    if stored_key != key or not isinstance(value, tuple) or len(value) != 3 or not isinstance(value[2], Lexicon):
        return None
    topics, rules, lexicon = value
    return topics, rules, lexicon


def _store(key: str, value: _Parsed) -> None:
    path = _cache_file(key)
    if path is not None:
        write_cache_file(path, pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL), keep="rules-*.pickle",
                         newest=_KEEP)
