"""When a delivery may go: quiet hours, the weekend switch, and the backoff between retries.

Quiet hours ("22:00-07:00", in settings.tz) hold non-critical deliveries until they end; a unit with
`weekends: false` gets no digest planned on a Saturday or Sunday (its matches wait for Monday's).
Retries back off exponentially with jitter, so that many failed deliveries do not all hit a mail
server that has just come back at the same second.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from yuqing.config import UnitSettings


def _clock(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def quiet_until(unit: UnitSettings, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The end of the unit's quiet hours (aware) when `now` lies inside them, else None."""
    if not unit.quiet_hours:
        return None
    start_s, end_s = unit.quiet_hours.split("-")
    start, end = _clock(start_s), _clock(end_s)
    local = now.astimezone(tz)
    t = local.time()
    if start == end:
        return None
    if start < end:
        inside = start <= t < end
    else:  # over midnight, e.g. 22:00-07:00
        inside = t >= start or t < end
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


def weekend(now: datetime, tz: ZoneInfo) -> bool:
    return now.astimezone(tz).weekday() >= 5


def backoff(attempts: int, base: timedelta, cap: timedelta, rng: random.Random | None = None) -> timedelta:
    """Wait before retry number `attempts` (1-based): base * 2^(attempts-1), capped, with jitter."""
    raw = min(cap.total_seconds(), base.total_seconds() * 2 ** max(0, attempts - 1))
    # "Equal jitter": at least half the delay, so retries still spread out but never come too soon.
    return timedelta(seconds=raw / 2 + (rng or random).uniform(0, raw / 2))
