"""parse_date / find_dates: Chinese absolute and relative forms, ISO 8601, RFC 822, never the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crawler.dates import find_dates, parse_date

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 2, 9, 0, tzinfo=SH)


def at(*parts: int, tz: ZoneInfo | timezone = SH) -> datetime:
    return datetime(*parts, tzinfo=tz)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年5月1日 10:00", at(2024, 5, 1, 10, 0)),
        ("2024年05月01日10:00:30", at(2024, 5, 1, 10, 0, 30)),
        ("2024年5月1日10时30分", at(2024, 5, 1, 10, 30)),
        ("2024年5月1日 下午3:00", at(2024, 5, 1, 15, 0)),
        ("2024年5月1日 晚上8点", at(2024, 5, 1, 20, 0)),
        ("2024年05月01日 星期三 10:30", at(2024, 5, 1, 10, 30)),
        ("2024-05-01（周三）08:00", at(2024, 5, 1, 8, 0)),
        ("2024年4月22日週一 上午8:21", at(2024, 4, 22, 8, 21)),
        ("2024-5-1", at(2024, 5, 1)),
        ("2024/05/01", at(2024, 5, 1)),
        ("2024.05.01 08:15", at(2024, 5, 1, 8, 15)),
        ("２０２４年５月１日　１０：００", at(2024, 5, 1, 10, 0)),
        ("05-01 10:00", at(2024, 5, 1, 10, 0)),
        ("4月30日", at(2024, 4, 30)),
        ("刚刚", NOW),
        ("3分钟前", NOW - timedelta(minutes=3)),
        ("半小时前", NOW - timedelta(minutes=30)),
        ("2小时前", NOW - timedelta(hours=2)),
        ("3天前", NOW - timedelta(days=3)),
        ("昨天 12:30", at(2024, 5, 1, 12, 30)),
        ("前天", at(2024, 4, 30)),
        ("今天 08:00", at(2024, 5, 2, 8, 0)),
        ("2024-05-01T10:00:00+08:00", at(2024, 5, 1, 10, 0)),
        ("2024-05-01T02:00:00Z", at(2024, 5, 1, 2, 0, tz=UTC)),
        ("2024-05-01 10:00:00", at(2024, 5, 1, 10, 0)),
        ("Wed, 01 May 2024 02:00:00 GMT", at(2024, 5, 1, 2, 0, tz=UTC)),
        ("Wed, 01 May 2024 10:00:00 +0800", at(2024, 5, 1, 10, 0)),
        ("发布时间：2024-05-01 10:00 来源：新华网 责任编辑：张三", at(2024, 5, 1, 10, 0)),
        ("May 1, 2024", at(2024, 5, 1)),
    ],
)
def test_forms_resolve_in_the_configured_zone(text: str, expected: datetime) -> None:
    got = parse_date(text, now=NOW, tz=SH)
    assert got is not None and got.tzinfo is not None
    assert got == expected


@pytest.mark.parametrize("text", ["", "   ", "hello", "3-5人", "2024-02-30", "1970-01-01", "第12版", "13:61"])
def test_no_date_means_none(text: str) -> None:
    assert parse_date(text, now=NOW, tz=SH) is None


def test_year_less_dates_in_the_future_roll_back_a_year() -> None:
    january = datetime(2024, 1, 5, 9, 0, tzinfo=SH)
    assert parse_date("12-25 10:00", now=january, tz=SH) == at(2023, 12, 25, 10, 0)
    assert parse_date("12月25日", now=january, tz=SH) == at(2023, 12, 25)
    # Within the tolerance it is today, not last year.
    assert parse_date("01-05 09:30", now=january, tz=SH) == at(2024, 1, 5, 9, 30)


def test_dates_beyond_the_tolerance_are_refused() -> None:
    assert parse_date("2024-05-03 10:00", now=NOW, tz=SH) is None
    assert parse_date("2025-01-01T00:00:00+08:00", now=NOW, tz=SH) is None
    assert parse_date("今天 23:00", now=NOW, tz=SH) is None
    # A few minutes ahead (clocks disagree) is accepted.
    assert parse_date("2024-05-02 09:20", now=NOW, tz=SH) == at(2024, 5, 2, 9, 20)


def test_relative_forms_resolve_against_now_in_another_zone() -> None:
    utc_now = datetime(2024, 5, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 May in Shanghai
    assert parse_date("昨天 12:30", now=utc_now, tz=SH) == at(2024, 5, 1, 12, 30)
    assert parse_date("今天 00:30", now=utc_now, tz=SH) == at(2024, 5, 2, 0, 30)
    ny = ZoneInfo("America/New_York")
    assert parse_date("昨天 12:30", now=utc_now, tz=ny) == at(2024, 4, 30, 12, 30, tz=ny)


def test_find_dates_lists_each_date_once_in_reading_order() -> None:
    found = find_dates("更新于 2024-05-01 10:00，原文发表于 2024年4月30日，3小时前转载", now=NOW, tz=SH)
    assert [f.when for f in found] == [at(2024, 5, 1, 10, 0), at(2024, 4, 30), NOW - timedelta(hours=3)]
    assert [f.has_time for f in found] == [True, False, True]
    assert [f.relative for f in found] == [False, False, True]
