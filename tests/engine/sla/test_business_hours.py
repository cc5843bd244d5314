"""The business-hours calculator: weekends, after hours, holidays of the week, DST changes, and bad settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.sla import BusinessHours, SlaSettings, add_business_minutes

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours(timezone="Europe/Berlin", days=frozenset(range(5)), opens=9 * 60, closes=17 * 60)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_within_the_day() -> None:
    due = add_business_minutes(berlin(2026, 3, 4, 10, 0), 90, OFFICE)  # a Wednesday
    assert due == berlin(2026, 3, 4, 11, 30)
    assert due.tzinfo == UTC  # dues are stored in UTC


def test_after_hours_start_at_the_next_opening() -> None:
    assert add_business_minutes(berlin(2026, 3, 4, 18, 30), 60, OFFICE) == berlin(2026, 3, 5, 10, 0)
    assert add_business_minutes(berlin(2026, 3, 4, 7, 0), 60, OFFICE) == berlin(2026, 3, 4, 10, 0)
    assert add_business_minutes(berlin(2026, 3, 4, 18, 30), 0, OFFICE) == berlin(2026, 3, 5, 9, 0)


def test_the_rest_carries_over_to_the_next_day_and_over_the_weekend() -> None:
    assert add_business_minutes(berlin(2026, 3, 4, 16, 0), 120, OFFICE) == berlin(2026, 3, 5, 10, 0)
    friday = berlin(2026, 3, 6, 16, 30)
    assert add_business_minutes(friday, 60, OFFICE) == berlin(2026, 3, 9, 9, 30)  # Monday
    assert add_business_minutes(berlin(2026, 3, 7, 12, 0), 30, OFFICE) == berlin(2026, 3, 9, 9, 30)  # from Saturday
    assert add_business_minutes(friday, 30 + 3 * 480 + 30, OFFICE) == berlin(2026, 3, 12, 9, 30)  # 3 whole days


def test_dst_days_count_real_minutes() -> None:
    around_the_clock = BusinessHours(timezone="Europe/Berlin", days=frozenset(range(7)), opens=0, closes=24 * 60)
    spring = berlin(2026, 3, 29, 0, 0)  # clocks go 02:00 -> 03:00: the day has 23 hours
    assert add_business_minutes(spring, 24 * 60, around_the_clock) == berlin(2026, 3, 30, 1, 0)
    autumn = berlin(2026, 10, 25, 0, 0)  # clocks go 03:00 -> 02:00: the day has 25 hours
    assert add_business_minutes(autumn, 24 * 60, around_the_clock) == berlin(2026, 10, 25, 23, 0)
    # office hours on either side of a change keep their local times
    assert add_business_minutes(berlin(2026, 3, 27, 16, 0), 120, OFFICE) == berlin(2026, 3, 30, 10, 0)  # CET->CEST
    monday = berlin(2026, 3, 30, 16, 0)
    assert add_business_minutes(monday, 60, OFFICE) - monday == timedelta(hours=1)


def test_a_timezone_west_of_utc_and_naive_utc_starts() -> None:
    new_york = BusinessHours(timezone="America/New_York")
    start = datetime(2026, 1, 5, 13, 0)  # naive = UTC, as the store keeps it: 08:00 in New York, before opening
    assert add_business_minutes(start, 30, new_york) == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def test_bad_settings_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        SlaSettings.parse({"timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="open before they close"):
        SlaSettings.parse({"open": "18:00", "close": "09:00"})
    with pytest.raises(ValueError, match="like mon-fri"):
        SlaSettings.parse({"days": "someday"})
    with pytest.raises(ValueError, match="not a number of minutes"):
        SlaSettings.parse({"targets": {"chat": {"urgent": {"first_response": "soon"}}}})
    with pytest.raises(ValueError, match="names no channel"):
        SlaSettings.parse({"targets": {"fax": {}}})
    with pytest.raises(ValueError, match="before the first response"):
        SlaSettings.parse({"targets": {"chat": {"normal": {"first_response": 60, "resolution": 10}}}})
    with pytest.raises(ValueError, match="cannot be negative"):
        add_business_minutes(berlin(2026, 3, 4, 10, 0), -1, OFFICE)


def test_settings_round_trip_and_defaults() -> None:
    table = {"timezone": "Asia/Tokyo", "days": "sun-thu", "open": "08:30", "close": "24:00", "alert_email": "s@x.io"}
    parsed = SlaSettings.parse(table | {"targets": {"chat": {"urgent": {"first_response": 2}}}})
    assert parsed.hours.days == frozenset({6, 0, 1, 2, 3}) and parsed.hours.closes == 24 * 60
    assert parsed.targets[("chat", "urgent")].first_response == 2
    assert parsed.targets[("chat", "urgent")].resolution == 120  # the default stays where the table is silent
    assert SlaSettings.parse(parsed.table()) == parsed
    assert parsed.hours.describe() == "mon-thu,sun 08:30-24:00 Asia/Tokyo"
