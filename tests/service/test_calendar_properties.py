"""Business calendars: properties over random weekly hours, zones, holidays and DST changes."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.calendar import (
    BusinessCalendar,
    Holiday,
    HolidayRule,
    Holidays,
    Shift,
    WeeklyHours,
)
from crmkit.testing._strategies_calendar import (
    DST_CHANGES,
    business_calendars,
    business_durations,
    calendar_instants,
)

EXAMPLES = settings(max_examples=int(os.environ.get("CALENDAR_EXAMPLES", "150")), deadline=None)
ZERO = timedelta(0)
DAY = timedelta(days=1)


def _around(calendar: BusinessCalendar, at: datetime) -> list[tuple[datetime, datetime]]:
    at = at.astimezone(UTC)
    return list(calendar.intervals(at - 3 * DAY, at + 3 * DAY))


@EXAMPLES
@given(business_calendars(), calendar_instants(), business_durations())
def test_elapsed_undoes_add(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    deadline = calendar.add(start, duration)
    assert deadline >= start
    assert deadline.tzinfo is calendar.time_zone
    assert calendar.elapsed(start, deadline) == duration


@EXAMPLES
@given(business_calendars(), calendar_instants(), business_durations(), business_durations())
def test_add_is_monotone_in_duration(
    calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    low, high = sorted((first, second))
    assert calendar.add(start, low) <= calendar.add(start, high)


@EXAMPLES
@given(
    business_calendars(),
    calendar_instants(),
    st.integers(0, 10**6 * 3600 * 24 * 4),
    business_durations(),
)
def test_add_is_monotone_in_start(
    calendar: BusinessCalendar, start: datetime, later_by: int, duration: timedelta
) -> None:
    # In UTC: adding to a local time drops its fold, which can move it back an hour.
    later = start.astimezone(UTC) + timedelta(microseconds=later_by)
    assert calendar.add(start, duration) <= calendar.add(later, duration)


@EXAMPLES
@given(business_calendars(), calendar_instants(), business_durations())
def test_deadlines_fall_inside_working_hours(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    deadline = calendar.add(start, duration).astimezone(UTC)  # local arithmetic drops fold
    spans = _around(calendar, deadline)
    if duration > ZERO:
        # Inside an interval or at its end, never in a gap between two.
        assert any(low < deadline <= high for low, high in spans)
        assert calendar.is_working(deadline - timedelta(microseconds=1))
    else:
        assert calendar.is_working(deadline)
        assert calendar.elapsed(start, deadline) == ZERO
        assert deadline.astimezone(UTC) == calendar.next_working(start).astimezone(UTC)


@EXAMPLES
@given(business_calendars(), calendar_instants())
def test_is_working_agrees_with_intervals(calendar: BusinessCalendar, at: datetime) -> None:
    spans = _around(calendar, at)
    assert calendar.is_working(at) == any(low <= at < high for low, high in spans)
    for (_, high), (low, _) in pairwise(spans):
        assert high < low  # sorted, disjoint and touching ones merged
    total = sum((high - low for low, high in spans), ZERO)
    at = at.astimezone(UTC)
    assert total == calendar.elapsed(at - 3 * DAY, at + 3 * DAY)


@EXAMPLES
@given(
    business_calendars(),
    calendar_instants(),
    st.integers(0, 10**6 * 3600 * 24 * 20),
    st.lists(st.tuples(st.integers(-(10**11), 10**12), st.integers(0, 10**11)), max_size=4),
)
def test_pauses_are_excluded_as_a_union(
    calendar: BusinessCalendar,
    start: datetime,
    length: int,
    raw: list[tuple[int, int]],
) -> None:
    start = start.astimezone(UTC)  # arithmetic on local times ignores DST (and fold)
    end = start + timedelta(microseconds=length)
    pauses = [
        (start + timedelta(microseconds=offset), start + timedelta(microseconds=offset + size))
        for offset, size in raw
    ]
    # Reference: walk the union of the pauses clipped to [start, end).
    clipped = sorted((max(a, start), min(b, end)) for a, b in pauses if min(b, end) > max(a, start))
    union: list[tuple[datetime, datetime]] = []
    for low, high in clipped:
        if union and low <= union[-1][1]:
            union[-1] = (union[-1][0], max(high, union[-1][1]))
        else:
            union.append((low, high))
    inside = sum((calendar.elapsed(low, high) for low, high in union), ZERO)
    assert calendar.elapsed(start, end, pauses) == calendar.elapsed(start, end) - inside
    assert ZERO <= calendar.elapsed(start, end, pauses) <= calendar.elapsed(start, end)


@EXAMPLES
@given(business_calendars(), calendar_instants(), business_durations(), st.data())
def test_holidays_are_skipped(
    calendar: BusinessCalendar, start: datetime, duration: timedelta, data: st.DataObject
) -> None:
    local = start.astimezone(calendar.time_zone).date()
    days = st.integers(-2, 10).map(lambda offset: local + timedelta(days=offset))
    extra = data.draw(st.lists(days, min_size=1, max_size=3, unique=True))
    names = Holidays(
        dates=calendar.holidays.dates + tuple(Holiday(day, "Extra") for day in extra),
        rules=calendar.holidays.rules,
    )
    fewer = BusinessCalendar(calendar.name, calendar.time_zone, calendar.hours, names)
    assert fewer.add(start, duration) >= calendar.add(start, duration)
    zone = calendar.time_zone
    for day in extra:
        midnight = datetime.combine(day, time(), zone)
        following = datetime.combine(day + DAY, time(), zone)
        # Only a shift from the day before may run into a holiday; none starts on it.
        for low, _ in fewer.intervals(midnight, following):
            assert low == midnight


@pytest.mark.parametrize("key", ["Europe/Berlin", "America/New_York"])
@settings(max_examples=100, deadline=None)
@given(calendar_instants(), st.integers(0, 10**6 * 3600 * 24 * 6))
def test_24x7_in_a_dst_zone_is_real_time(key: str, start: datetime, length: int) -> None:
    calendar = BusinessCalendar.always(key)
    duration = timedelta(microseconds=length)
    assert calendar.elapsed(start, start.astimezone(UTC) + duration) == duration
    # In UTC: == between zones is always False for a time in a fold (PEP 495).
    assert calendar.add(start, duration).astimezone(UTC) == start.astimezone(UTC) + duration


@pytest.mark.parametrize("key", ["Europe/Berlin", "America/New_York"])
def test_every_week_of_nine_to_five_is_forty_hours(key: str) -> None:
    zone = ZoneInfo(key)
    office = BusinessCalendar("9-17", zone, WeeklyHours.weekdays(Shift(time(9), time(17))))
    nights = BusinessCalendar("1-5", zone, WeeklyHours.every_day(Shift(time(1), time(5))))
    monday = date(2025, 12, 29)
    changes = {change.date() for change in DST_CHANGES if change.astimezone(zone).hour < 4}
    for week in range(53):
        start = datetime.combine(monday + week * 7 * DAY, time(), zone)
        end = datetime.combine(monday + (week + 1) * 7 * DAY, time(), zone)
        assert office.elapsed(start, end) == timedelta(hours=40)
        assert office.add(start, timedelta(hours=40)) == datetime.combine(
            monday + (week * 7 + 4) * DAY, time(17), zone
        )
        # The 01:00–05:00 shifts hold the real time: 27 h in a spring week, 29 h in an autumn one.
        days = {start.date() + offset * DAY for offset in range(7)}
        expected = timedelta(hours=28)
        for change in changes & days:
            expected += timedelta(hours=-1 if change.month < 7 else 1)
        assert nights.elapsed(start, end) == expected


@settings(max_examples=60, deadline=None)
@given(business_calendars())
def test_drawn_calendars_round_trip(calendar: BusinessCalendar) -> None:
    conv = make_converter()
    data = conv.unstructure(calendar)
    assert structure(conv, data, BusinessCalendar) == calendar
    assert Loaders().load(BusinessCalendar, json.loads(dumps(data))) == calendar


def _oracle_spans(calendar: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """Shifts of ``day`` and the day before, mapped to instants by scanning UTC minutes.

    A boundary is the first minute whose local wall-clock time reaches it: the
    first occurrence of a repeated time, the end of the gap for a skipped one.
    This shares no code with the calendar's own mapping.
    """
    zone = calendar.time_zone
    base = datetime.combine(day - 3 * DAY, time(), UTC)
    minutes = [base + timedelta(minutes=step) for step in range(7 * 1440)]
    walls = [moment.astimezone(zone).replace(tzinfo=None) for moment in minutes]

    def first(wall: datetime) -> datetime:
        return next(moment for moment, seen in zip(minutes, walls, strict=True) if seen >= wall)

    spans = []
    for current in (day - DAY, day):
        if calendar.holidays.name_on(current) is not None:
            continue
        midnight = datetime.combine(current, time())
        for shift in calendar.hours.days[current.weekday()]:
            low, high = shift.seconds()
            begin = first(midnight + timedelta(seconds=low))
            end = first(midnight + timedelta(seconds=high))
            if end > begin:
                spans.append((begin, end))
    return spans


@settings(max_examples=int(os.environ.get("CALENDAR_ORACLE_EXAMPLES", "40")), deadline=None)
@given(
    business_calendars(),
    st.sampled_from([change.date() for change in DST_CHANGES])
    | st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    st.integers(-1, 1),
    st.lists(st.integers(0, 25 * 60), min_size=2, max_size=2),
)
def test_elapsed_matches_a_minute_scanning_oracle(
    calendar: BusinessCalendar, change: date, shift: int, cut: list[int]
) -> None:
    day = change + shift * DAY
    midnight = datetime.combine(day, time(), calendar.time_zone).astimezone(UTC)
    following = datetime.combine(day + DAY, time(), calendar.time_zone).astimezone(UTC)
    low, high = sorted(min(midnight + timedelta(minutes=m), following) for m in cut)
    expected = sum(
        (
            max(ZERO, min(end, high) - max(begin, low))
            for begin, end in _oracle_spans(calendar, day)
        ),
        ZERO,
    )
    assert calendar.elapsed(low, high) == expected


RULES = [
    "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25",
    "FREQ=YEARLY;BYEASTER=-2",
    "FREQ=YEARLY;INTERVAL=3;BYMONTH=6;BYDAY=1MO",
    "FREQ=YEARLY",
    "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=MONTHLY;INTERVAL=7;BYMONTHDAY=-1",
    "FREQ=WEEKLY;INTERVAL=3",
    "FREQ=WEEKLY;BYDAY=SA,SU;INTERVAL=2;WKST=SU",
    "FREQ=DAILY;INTERVAL=17",
    "FREQ=MONTHLY;INTERVAL=2;UNTIL=20270601T000000",
    "FREQ=YEARLY;COUNT=30",
]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(RULES), st.dates(date(1990, 1, 1), date(2030, 12, 31)), st.integers(0, 20))
def test_holiday_rules_give_the_dates_of_a_plain_rrule(rule: str, since: date, ahead: int) -> None:
    from dateutil.rrule import rrulestr

    year = since.year - 1 + ahead
    expanded = rrulestr(rule, dtstart=datetime.combine(since, time())).between(
        datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59), inc=True
    )
    expected = tuple(sorted({moment.date() for moment in expanded}))
    assert HolidayRule("Rule", rule, since).dates_in(year) == expected
