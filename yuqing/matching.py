"""From a rules verdict on a post to the units that must hear of it.

A post is matched once by the rules; each unit watching the post's source and following the topic
gets its own `Match`. Used by the crawl pipeline and by the backtest alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import Settings


def units_for(settings: Settings, source_id: str, topic: str) -> list[str]:
    """The ids of the units that watch `source_id` and follow `topic`."""
    try:
        source = settings.source(source_id)
    except KeyError:
        units = settings.units
    else:
        units = settings.units_of(source)
    return [u.id for u in units if topic in u.topics]


def unit_topic_pairs(settings: Settings, source_id: str, topics: Iterable[str]) -> list[tuple[str, str]]:
    return [(unit, t) for t in topics for unit in units_for(settings, source_id, t)]


