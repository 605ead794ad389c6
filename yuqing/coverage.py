"""Cross-tracking coverage: which units watch which sources, and the gaps (`yuqing coverage`).

Reads only the settings: a source with no `units` key is watched by every unit. A source that no
unit watches is crawled for nothing; a unit with no source hears nothing; a source watched by fewer
than `ledger.min_units_per_source` units has no second pair of eyes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings


@dataclass(frozen=True)
class Coverage:
    watches: dict[str, tuple[str, ...]]  # source id -> unit ids
    by_unit: dict[str, tuple[str, ...]]  # unit id -> source ids
    unwatched_sources: tuple[str, ...]
    units_without_sources: tuple[str, ...]
    thin_sources: tuple[str, ...]  # watched, but by fewer units than required
    min_units: int
    disabled_sources: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.unwatched_sources or self.units_without_sources or self.thin_sources)


def coverage(settings: Settings) -> Coverage:
    watches = {s.id: tuple(u.id for u in settings.units_of(s)) for s in settings.sources}
    enabled = {s.id for s in settings.sources if s.enabled}
    by_unit = {u.id: tuple(sid for sid, units in watches.items() if u.id in units and sid in enabled) for u in settings.units}
    need = settings.ledger.min_units_per_source
    return Coverage(
        watches=watches,
        by_unit=by_unit,
        unwatched_sources=tuple(sid for sid, units in watches.items() if not units),
        units_without_sources=tuple(uid for uid, sids in by_unit.items() if not sids),
        thin_sources=tuple(sid for sid, units in watches.items() if units and len(units) < need),
        min_units=need,
        disabled_sources=tuple(s.id for s in settings.sources if not s.enabled),
    )
