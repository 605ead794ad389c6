"""Topic display names for subjects and headings.

The rule files may give a topic a display `name` (or `title`); when they do not, this table of the
seed topics is used, and an unknown topic shows its id.
"""

from __future__ import annotations

from typing import Any

FALLBACK: dict[str, str] = {
    "cadre_appointment": "干部选拔任用",
    "public_recruitment": "事业单位招聘",
    "talent_introduction": "人才引进",
    "party_member_development": "农村党员发展",
    "collective_assets": "集体资产处置",
    "village_affairs": "村务管理",
}


def topic_names(settings: Any) -> dict[str, str]:
    """topic id -> display name, from the configured rule files where they name their topic."""
    names = dict(FALLBACK)
    try:
        from rules.loading import rule_files
        from yuqing.yamlfile import load_yaml

        for path in rule_files(settings):
            doc, _ = load_yaml(path)
            root = doc.root if doc is not None else None
            if isinstance(root, dict) and root.get("topic"):
                display = root.get("name") or root.get("title") or root.get("display_name")
                if isinstance(display, str) and display.strip():
                    names[str(root["topic"])] = display.strip()
    except Exception:  # a broken rule file is the rules' own error to report; names fall back
        pass
    return names


def display(names: dict[str, str], topic: str) -> str:
    return names.get(topic, topic)
