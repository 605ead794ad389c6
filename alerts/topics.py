"""Topic display names for subjects and headings.

The rule files may give a topic a display `name` (or `title`); when they do not, this table of the
seed topics is used, and an unknown topic shows its id.
"""

from __future__ import annotations

import os
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
    """topic id -> display name, from the configured rule files where they name their topic.

    Every crawl job asks (urgent alerts, the spike check): the files are parsed again only when one
    of them changed (path, size or modification time), not on each call, which was most of a
    daemon's CPU between crawls.
    """
    try:
        from rules.loading import rule_files

        paths = list(rule_files(settings))
        key = tuple((str(p), *_stamp(p)) for p in paths)
    except Exception:  # a broken rules setting is the rules' own error to report; names fall back
        return dict(FALLBACK)
    known = _CACHE.get(key)
    if known is None:
        known = _read_names(paths)
        if len(_CACHE) >= 8:
            _CACHE.clear()
        _CACHE[key] = known
    return dict(known)


_CACHE: dict[tuple[tuple[Any, ...], ...], dict[str, str]] = {}


def _stamp(path: Any) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _read_names(paths: list[Any]) -> dict[str, str]:
    names = dict(FALLBACK)
    try:
        from yuqing.yamlfile import load_yaml

        for path in paths:
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
