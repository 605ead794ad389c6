"""Chinese working days: statutory holidays, make-up working days, and the Mon-Fri fallback."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from yuqing import workdays
from yuqing.workdays import add_workdays, is_workday, workdays_between


def test_national_day_week_and_its_make_up_saturday() -> None:
    # 2025: 1-8 October are holidays; Sunday 28 September and Saturday 11 October are working days.
    assert not is_workday(date(2025, 10, 3))
    assert is_workday(date(2025, 9, 28))
    assert is_workday(date(2025, 10, 11))
    # Five working days after Tuesday 30 September: 9, 10, 11 (Saturday, worked), 13, 14 October.
    assert add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert workdays_between(date(2025, 9, 30), date(2025, 10, 14)) == 5


def test_spring_festival_pushes_a_deadline_past_the_holiday() -> None:
    # 2026 Spring Festival holiday: 15-23 February; 14 and 28 February are make-up working days.
    assert add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_workdays(date(2026, 2, 14), 1) == date(2026, 2, 24)


def test_zero_days_is_the_next_working_day() -> None:
    assert add_workdays(date(2025, 10, 1), 0) == date(2025, 10, 9)
    assert add_workdays(date(2025, 10, 9), 0) == date(2025, 10, 9)


def test_unknown_year_falls_back_to_monday_to_friday_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    import chinese_calendar

    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2099, 1, 1))
    workdays._warned.discard(2099)
    with caplog.at_level(logging.WARNING, logger="yuqing.workdays"):
        # Friday 2 January 2099 + 1 working day = Monday 5 January (1 January is not a holiday here).
        assert add_workdays(date(2099, 1, 2), 1) == date(2099, 1, 5)
        assert add_workdays(date(2099, 1, 1), 3) == date(2099, 1, 6)
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1 and "Monday-Friday" in warnings[0].getMessage()
