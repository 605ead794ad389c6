"""Chinese working days, for case deadlines (时限).

Statutory holidays and make-up working days (调休) come from `chinese_calendar`, which knows only
the years the State Council has published; for any other year it raises NotImplementedError, and we
fall back to Monday-Friday with one logged warning per year, so a deadline is never refused.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)
_warned: set[int] = set()


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning("chinese_calendar does not know %d: counting Monday-Friday as working days", day.year)
        return day.weekday() < 5


def add_workdays(start: date, days: int) -> date:
    """The `days`-th working day after `start` (0: `start` itself, or the next working day if it is not one)."""
    day = start
    if days == 0:
        while not is_workday(day):
            day += timedelta(days=1)
        return day
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day):
            left -= 1
    return day


def workdays_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    n = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_workday(day):
            n += 1
    return n
