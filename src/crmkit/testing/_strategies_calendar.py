"""Hypothesis strategies for business calendars: shifts, weekly hours, holidays, instants.

Weekly hours are drawn as disjoint intervals on a week's timeline, so split
shifts, overnight shifts and Sunday nights that run into Monday all occur.
Instants cluster around the DST changes of Europe/Berlin and America/New_York.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from crmkit.service.calendar import BusinessCalendar, Shift, WeeklyHours
from crmkit.service.holidays import Holiday, HolidayRule, Holidays

CALENDAR_ZONES: Final = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata")
"""The zones that `calendar_zones` draws from: two with DST, UTC, and one at +05:30."""

DST_CHANGES: Final = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York springs forward at 02:00 EST
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin springs forward at 02:00 CET
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin falls back at 03:00 CEST
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York falls back at 02:00 EDT
)
"""The instants of the 2026 DST changes in Berlin and New York, in UTC."""

HOLIDAY_RULES: Final = (
    ("Christmas Day", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25"),
    ("New Year's Day", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1"),
    ("Good Friday", "FREQ=YEARLY;BYEASTER=-2"),
    ("Easter Monday", "FREQ=YEARLY;BYEASTER=1"),
    ("Team day", "FREQ=MONTHLY;BYDAY=1MO"),
    ("Thanksgiving", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH"),
)
"""(name, RRULE) pairs that `holiday_rules` draws from."""

_WEEK = 7 * 1440


@cache
def calendar_zones() -> st.SearchStrategy[ZoneInfo]:
    """One of `CALENDAR_ZONES`."""
    return st.sampled_from(CALENDAR_ZONES).map(ZoneInfo)


def _hours(points: list[int], turn: int, cap: list[bool]) -> WeeklyHours:
    days: dict[int, list[Shift]] = {}
    for index in range(0, len(points) - 1, 2):
        low, high = points[index], points[index + 1]
        high = min(high, low + 1440) if cap[index // 2] else min(high, low + 600)
        low, high = (low + turn) % _WEEK, (high + turn) % _WEEK
        start = time(low % 1440 // 60, low % 60)
        days.setdefault(low // 1440, []).append(Shift(start, time(high % 1440 // 60, high % 60)))
    return WeeklyHours.from_days(days)


@cache
def weekly_hours() -> st.SearchStrategy[WeeklyHours]:
    """Weekly hours with at least one shift: split, overnight and whole-day shifts included."""
    minutes = st.one_of(
        st.integers(0, _WEEK // 15 - 1).map(lambda quarter: quarter * 15),
        st.integers(0, _WEEK - 1),
    )
    points = st.lists(minutes, min_size=2, max_size=14, unique=True).map(sorted)
    return st.builds(
        _hours,
        points,
        st.integers(0, _WEEK - 1),
        st.lists(st.booleans(), min_size=7, max_size=7),
    )


@cache
def holiday_rules() -> st.SearchStrategy[HolidayRule]:
    """One of the `HOLIDAY_RULES`, recurring since 2020."""
    return st.sampled_from(HOLIDAY_RULES).map(
        lambda pair: HolidayRule(pair[0], pair[1], since=date(2020, 1, 1))
    )


@cache
def holiday_sets() -> st.SearchStrategy[Holidays]:
    """A few single holidays in 2025–2027 (often on DST change days) and a few rules."""
    days = st.dates(date(2025, 1, 1), date(2027, 12, 31)) | st.sampled_from(
        [change.date() for change in DST_CHANGES]
    )
    dates = st.lists(st.builds(Holiday, days, st.just("Holiday")), max_size=6)
    rules = st.lists(holiday_rules(), max_size=2, unique_by=lambda rule: rule.rule)
    return st.builds(Holidays, dates.map(tuple), rules.map(tuple))


@cache
def business_calendars() -> st.SearchStrategy[BusinessCalendar]:
    """Calendars in one of `CALENDAR_ZONES` with random weekly hours and holidays."""
    return st.builds(
        BusinessCalendar, st.just("drawn"), calendar_zones(), weekly_hours(), holiday_sets()
    )


@cache
def calendar_instants() -> st.SearchStrategy[datetime]:
    """Aware instants in 2025–2027, often within a day of a DST change, in assorted zones."""
    near = st.builds(
        lambda change, offset: change + timedelta(seconds=offset),
        st.sampled_from(DST_CHANGES),
        st.integers(-86_400 * 2, 86_400 * 2),
    )
    anywhere = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)).map(
        lambda naive: naive.replace(tzinfo=UTC)
    )
    return st.tuples(near | anywhere, calendar_zones()).map(
        lambda pair: pair[0].astimezone(pair[1])
    )


@cache
def business_durations() -> st.SearchStrategy[timedelta]:
    """Non-negative durations from zero to about three weeks, mostly whole minutes."""
    return st.one_of(
        st.just(timedelta(0)),
        st.integers(1, 60 * 24 * 21).map(lambda minutes: timedelta(minutes=minutes)),
        st.integers(1, 10**6 * 3600 * 24 * 5).map(lambda micros: timedelta(microseconds=micros)),
    )
