"""The rule language: reading rule files into frozen specs, with every problem located.

First step of loading (see `rules/README.md` for the language itself): each YAML file is read with
ruamel (line numbers kept), checked key by key, and turned into `TopicSpec`s, `RuleSpec`s and
synonym groups. Problems are collected, not raised one at a time: an unknown key or a bad value
becomes a `Problem` with file:line:col and, for names, a "did you mean". Compiling the specs into a
matcher is `rules.engine`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yuqing.errors import Problem, did_you_mean
from yuqing.yamlfile import YamlDocument, load_yaml

from .normalise import Normaliser
from .operators import OPERATORS

FILE_KEYS = ("topic", "name", "description", "weight", "severity", "negativity_weight", "groups", "rules", "disable")
RULE_KEYS = ("id", "description", "scope", "weight", "threshold", "not_in", "examples", "override", *OPERATORS)
WORD_KEYS = ("word", "weight", "inside_words", "not_in")
NEAR_KEYS = ("words", "within")
SCOPES = ("any", "title", "body")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_SEVERITY = {"medium": 2.0, "high": 3.5}


@dataclass(frozen=True)
class WordSpec:
    """One rule word: as written, as searched for, and how it may match."""

    text: str
    norm: str
    weight: float = 1.0
    inside_words: bool = False
    not_in: tuple[str, ...] = ()  # normalised contexts that cancel a hit lying inside them


# An `all` item or a `near` member: one of several words (a synonym group or an inline list).
Alternatives = tuple[WordSpec, ...]


@dataclass(frozen=True)
class NearSpec:
    """Words of every member found close together: within N words, or in one sentence (within=None)."""

    members: tuple[Alternatives, ...]
    within: int | None


@dataclass(frozen=True)
class RuleSpec:
    """One rule of a topic, located in its file."""

    id: str
    topic: str
    file: str
    line: int
    description: str = ""
    scope: str = "any"
    any: Alternatives = ()
    all: tuple[Alternatives, ...] = ()
    none: Alternatives = ()
    near: tuple[NearSpec, ...] = ()
    regex: tuple[re.Pattern[str], ...] = ()
    weight: float = 1.0
    threshold: float = 0.0
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()

    def words(self) -> list[WordSpec]:
        """Every word the rule can fire on or be stopped by."""
        out = list(self.any) + list(self.none)
        for alts in self.all:
            out += alts
        for near in self.near:
            for alts in near.members:
                out += alts
        return out

    def positive_words(self) -> list[WordSpec]:
        """The words whose hits make the rule worth evaluating."""
        out = list(self.any)
        for alts in self.all:
            out += alts
        for near in self.near:
            for alts in near.members:
                out += alts
        return out

    @property
    def where(self) -> str:
        """file:line, relative to the current folder when the file is under it."""
        try:
            shown = str(Path(self.file).resolve().relative_to(Path.cwd()))
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}"


@dataclass(frozen=True)
class TopicSpec:
    """A topic's weight and severity thresholds (from the first file that names it)."""

    id: str
    name: str
    file: str
    weight: float = 1.0
    medium: float = DEFAULT_SEVERITY["medium"]
    high: float = DEFAULT_SEVERITY["high"]
    negativity_weight: float = 2.0


@dataclass
class Parsed:
    """Everything read from a list of rule files, in load order."""

    topics: dict[str, TopicSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _FileReader:
    """Reads one document; problems go to the shared list."""

    def __init__(self, doc: YamlDocument, parsed: Parsed, norm: Normaliser):
        self.doc = doc
        self.parsed = parsed
        self.norm = norm

    def problem(self, loc: list[Any], message: str) -> None:
        self.parsed.problems.append(self.doc.problem(loc, message))

    def unknown_keys(self, node: dict[str, Any], allowed: tuple[str, ...], loc: list[Any], what: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem([*loc, key], f"unknown {what} key '{key}'{did_you_mean(str(key), allowed)}")

    def number(self, node: dict[str, Any], key: str, loc: list[Any], default: float, *, minimum: float = 0.0) -> float:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            self.problem([*loc, key], f"'{key}' must be a number >= {minimum:g}, not {value!r}")
            return default
        return float(value)

    def string_list(self, value: Any, loc: list[Any], what: str) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(loc, f"'{what}' must be a list of strings")
            return []
        return list(value)

    # -- words -----------------------------------------------------------------------------

    def words(self, value: Any, loc: list[Any], rule_not_in: tuple[str, ...]) -> list[WordSpec]:
        """A word list: strings, `$group` references and {word: ..., weight, inside_words, not_in}."""
        items = value if isinstance(value, list) else [value]
        out: list[WordSpec] = []
        for i, item in enumerate(items):
            here = [*loc, i] if isinstance(value, list) else loc
            if isinstance(item, str):
                out += self.word_or_group(item, here, 1.0, False, rule_not_in)
            elif isinstance(item, dict):
                self.unknown_keys(item, WORD_KEYS, here, "word")
                word = item.get("word")
                if not isinstance(word, str) or not word.strip():
                    self.problem(here, "a word entry needs 'word: <text>'")
                    continue
                inside = item.get("inside_words", False)
                if not isinstance(inside, bool):
                    self.problem([*here, "inside_words"], "'inside_words' must be true or false")
                    inside = False
                contexts = tuple(self.norm.word(c) for c in self.string_list(item.get("not_in", []), [*here, "not_in"], "not_in"))
                out += self.word_or_group(
                    word, here, self.number(item, "weight", here, 1.0), inside, rule_not_in + contexts
                )
            else:
                self.problem(here, f"a word must be text, a $group or a mapping with 'word', not {type(item).__name__}")
        return out

    def word_or_group(
        self, text: str, loc: list[Any], weight: float, inside: bool, not_in: tuple[str, ...]
    ) -> list[WordSpec]:
        text = text.strip()
        if text.startswith("$"):
            name = text[1:]
            if name not in self.parsed.groups:
                self.problem(loc, f"no synonym group '{name}'{did_you_mean(name, self.parsed.groups)}")
                return []
            return [self.make_word(w, loc, weight, inside, not_in) for w in self.parsed.groups[name]]
        return [self.make_word(text, loc, weight, inside, not_in)]

    def make_word(self, text: str, loc: list[Any], weight: float, inside: bool, not_in: tuple[str, ...]) -> WordSpec:
        norm = self.norm.word(text)
        if not norm:
            self.problem(loc, f"the word '{text}' is empty once normalised")
        return WordSpec(text=text, norm=norm, weight=weight, inside_words=inside, not_in=not_in)

    def alternatives_list(self, value: Any, loc: list[Any], rule_not_in: tuple[str, ...]) -> list[Alternatives]:
        """`all` and `near` members: each item is a word, a $group, or an inline list of words."""
        if not isinstance(value, list):
            self.problem(loc, "expected a list")
            return []
        out: list[Alternatives] = []
        for i, item in enumerate(value):
            words = self.words(item, [*loc, i], rule_not_in)
            if words:
                out.append(tuple(words))
        return out

    # -- the file --------------------------------------------------------------------------

    def read(self, *, with_groups: bool = True) -> None:
        root = self.doc.root
        if root is None:
            return
        if not isinstance(root, dict):
            self.problem([], "a rule file must be a mapping with 'topic' and 'rules'")
            return
        self.unknown_keys(root, FILE_KEYS, [], "rule file")
        if with_groups:
            self.read_groups(root.get("groups"))
        for i, rid in enumerate(self.string_list(root.get("disable", []), ["disable"], "disable")):
            before = len(self.parsed.rules)
            self.parsed.rules = [r for r in self.parsed.rules if r.id != rid]
            if len(self.parsed.rules) == before:
                known = [r.id for r in self.parsed.rules]
                self.problem(["disable", i], f"'disable': no earlier rule '{rid}'{did_you_mean(rid, known)}")
        rules = root.get("rules")
        topic = root.get("topic")
        if rules is None:
            return
        if not isinstance(topic, str) or not _ID.match(topic):
            self.problem(["topic"], "a file with rules needs 'topic: <id>' (letters, digits, _ . -)")
            return
        self.read_topic(root, topic)
        if not isinstance(rules, list):
            self.problem(["rules"], "'rules' must be a list of rules")
            return
        for i, rule in enumerate(rules):
            self.read_rule(rule, topic, ["rules", i])

    def read_groups(self, groups: Any) -> None:
        if groups is None:
            return
        if not isinstance(groups, dict):
            self.problem(["groups"], "'groups' must map a group name to a list of words")
            return
        for name, words in groups.items():
            loc = ["groups", name]
            if not isinstance(name, str) or not _ID.match(name):
                self.problem(loc, f"bad group name {name!r}")
                continue
            if name in self.parsed.groups:
                self.problem(loc, f"synonym group '{name}' is defined twice")
                continue
            self.parsed.groups[name] = self.string_list(words, loc, f"groups.{name}")

    def read_topic(self, root: dict[str, Any], topic: str) -> None:
        if topic in self.parsed.topics:
            for key in ("weight", "severity", "negativity_weight"):
                if key in root:
                    first = self.parsed.topics[topic].file
                    self.problem([key], f"topic '{topic}' already has its settings in {first}")
            return
        severity = root.get("severity", {})
        medium, high = DEFAULT_SEVERITY["medium"], DEFAULT_SEVERITY["high"]
        if not isinstance(severity, dict):
            self.problem(["severity"], "'severity' must be {medium: <score>, high: <score>}")
        else:
            self.unknown_keys(severity, ("medium", "high"), ["severity"], "severity")
            medium = self.number(severity, "medium", ["severity"], medium)
            high = self.number(severity, "high", ["severity"], high)
            if high < medium:
                self.problem(["severity"], f"severity: high ({high:g}) is below medium ({medium:g})")
        self.parsed.topics[topic] = TopicSpec(
            id=topic,
            name=str(root.get("name") or topic),
            file=self.doc.path,
            weight=self.number(root, "weight", [], 1.0),
            medium=medium,
            high=high,
            negativity_weight=self.number(root, "negativity_weight", [], 2.0),
        )

    def read_rule(self, rule: Any, topic: str, loc: list[Any]) -> None:
        if not isinstance(rule, dict):
            self.problem(loc, "a rule must be a mapping with at least 'id' and a word list")
            return
        self.unknown_keys(rule, RULE_KEYS, loc, "rule")
        rid = rule.get("id")
        if not isinstance(rid, str) or not _ID.match(rid):
            self.problem([*loc, "id"], "a rule needs 'id: <id>' (letters, digits, _ . -)")
            return
        override = rule.get("override", False)
        existing = [r for r in self.parsed.rules if r.id == rid]
        if existing and override is not True:
            self.problem([*loc, "id"], f"rule id '{rid}' is already used at {existing[0].where} (add 'override: true' to replace it)")
            return
        if override is True and not existing:
            self.problem([*loc, "override"], f"'override: true' but no earlier rule '{rid}' to replace")
        scope = rule.get("scope", "any")
        if scope not in SCOPES:
            self.problem([*loc, "scope"], f"scope must be one of {', '.join(SCOPES)}, not '{scope}'{did_you_mean(str(scope), SCOPES)}")
            scope = "any"
        not_in = tuple(self.norm.word(c) for c in self.string_list(rule.get("not_in", []), [*loc, "not_in"], "not_in"))
        fields: dict[str, Any] = {}
        for key, op in OPERATORS.items():
            if key in rule:
                fields[key] = op.parse(self, rule[key], [*loc, key], not_in)
        if not any(key in rule for key in ("any", "all", "near")):
            self.problem(loc, f"rule '{rid}' needs at least one of 'any', 'all' or 'near' with words (regex alone is never evaluated)")
            return
        examples = rule.get("examples", {})
        match: list[str] = []
        no_match: list[str] = []
        if not isinstance(examples, dict):
            self.problem([*loc, "examples"], "'examples' must be {match: [...], no_match: [...]}")
        else:
            self.unknown_keys(examples, ("match", "no_match"), [*loc, "examples"], "examples")
            match = self.string_list(examples.get("match", []), [*loc, "examples", "match"], "match")
            no_match = self.string_list(examples.get("no_match", []), [*loc, "examples", "no_match"], "no_match")
        line, _ = self.doc.locate([*loc, "id"])
        spec = RuleSpec(
            id=rid,
            topic=topic,
            file=self.doc.path,
            line=line or 0,
            description=str(rule.get("description", "")),
            scope=scope,
            weight=self.number(rule, "weight", loc, 1.0),
            threshold=self.number(rule, "threshold", loc, 0.0),
            examples_match=tuple(match),
            examples_no_match=tuple(no_match),
            **fields,
        )
        if existing:
            self.parsed.rules = [spec if r.id == rid else r for r in self.parsed.rules]
        else:
            self.parsed.rules.append(spec)


def parse_files(paths: list[Path], norm: Normaliser) -> Parsed:
    """Read rule files in order. Groups are shared by every file, so all groups are read first."""
    parsed = Parsed()
    docs: list[YamlDocument] = []
    for path in paths:
        doc, problems = load_yaml(path)
        parsed.problems += problems
        if doc is not None:
            docs.append(doc)
    for doc in docs:
        if isinstance(doc.root, dict):
            _FileReader(doc, parsed, norm).read_groups(doc.root.get("groups"))
    for doc in docs:
        _FileReader(doc, parsed, norm).read(with_groups=False)
    return parsed
