"""Topic display names: read from the rule files, and read again only when one of them changed."""

from __future__ import annotations

from alerts.topics import topic_names
from yuqing.config import load_settings

RULE = """topic: road_safety
name: {name}
rules:
  - id: road.1
    any: [交通事故]
"""


def test_names_follow_an_edited_rule_file(tmp_path, write_settings):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "road.yaml").write_text(RULE.format(name="道路安全"), encoding="utf-8")
    path = write_settings(
        "database: sqlite:///" + str(tmp_path / "y.db") + "\n"
        "rules: {paths: [rules]}\n"
        "units:\n  - {id: jtj, name: 交通局, topics: [road_safety]}\n"
    )
    settings = load_settings(str(path))
    names = topic_names(settings)
    assert names["road_safety"] == "道路安全"
    assert names["public_recruitment"] != "public_recruitment"  # the shipped pack's names too
    names["road_safety"] = "changed by a caller"
    assert topic_names(settings)["road_safety"] == "道路安全"  # callers get their own copy

    (rules / "road.yaml").write_text(RULE.format(name="道路交通安全"), encoding="utf-8")
    assert topic_names(settings)["road_safety"] == "道路交通安全"

