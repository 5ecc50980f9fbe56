"""Business calendars: hand-computed deadlines, validation and serialisation round trips."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.calendar import (
    ALWAYS,
    BusinessCalendar,
    Holiday,
    HolidayRule,
    Holidays,
    Shift,
    WeeklyHours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CHRISTMAS = HolidayRule("Christmas Day", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25")
GOOD_FRIDAY = HolidayRule("Good Friday", "FREQ=YEARLY;BYEASTER=-2")

# Mon–Fri 09:00–12:00 and 13:00–17:00 (7 h a day), May Day by date, two rules.
OFFICE = BusinessCalendar(
    "Berlin office",
    "Europe/Berlin",
    WeeklyHours.weekdays(Shift(time(9), time(12)), Shift(time(13), time(17))),
    holidays=[Holiday(date(2026, 5, 1), "Tag der Arbeit"), CHRISTMAS, GOOD_FRIDAY],
)
# Every day 01:00–05:00 Berlin time: the DST changes happen inside the shift.
NIGHTS = BusinessCalendar("Berlin nights", BERLIN, WeeklyHours.every_day(Shift(time(1), time(5))))
# Mon–Fri 22:00–06:00 overnight; a shift belongs to the day it starts on.
NIGHT_DESK = BusinessCalendar(
    "Berlin night desk", BERLIN, WeeklyHours.weekdays(Shift(time(22), time(6))), [CHRISTMAS]
)
NY_OFFICE = BusinessCalendar(
    "New York office", NEW_YORK, WeeklyHours.weekdays(Shift(time(8), time(17)))
)
NY_NIGHTS = BusinessCalendar(
    "New York nights", NEW_YORK, WeeklyHours.every_day(Shift("01:00", "02:00"))
)
NY_ALWAYS = BusinessCalendar.always("America/New_York")

H = timedelta(hours=1)
M = timedelta(minutes=1)

# (calendar, start, duration, expected deadline): starts are local wall-clock times of the
# calendar's zone, expectations carry the offset that the result must show.
DEADLINES = [
    # 1. Monday 10:00 + 1 h, all inside the morning shift.
    (OFFICE, "2026-11-23T10:00", H, "2026-11-23T11:00+01:00"),
    # 2. 11:30 + 1 h: 30 min before lunch, lunch 12–13 skipped, 30 min after.
    (OFFICE, "2026-11-23T11:30", H, "2026-11-23T13:30+01:00"),
    # 3. Zero duration during lunch: the next working instant, 13:00.
    (OFFICE, "2026-11-23T12:15", 0 * H, "2026-11-23T13:00+01:00"),
    # 4. Friday 16:00 + 2 h: 1 h on Friday, weekend skipped, 1 h Monday morning.
    (OFFICE, "2026-11-27T16:00", 2 * H, "2026-11-30T10:00+01:00"),
    # 5. Saturday start: counting begins Monday 09:00.
    (OFFICE, "2026-11-28T10:00", H, "2026-11-30T10:00+01:00"),
    # 6. Zero duration at Friday 17:00 (an end is not working time): Monday 09:00.
    (OFFICE, "2026-11-27T17:00", 0 * H, "2026-11-30T09:00+01:00"),
    # 7. Holiday by date: Thu 16–17 (1 h), Fri 1 May off, weekend, Mon 09–10.
    (OFFICE, "2026-04-30T16:00", 2 * H, "2026-05-04T10:00+02:00"),
    # 8. Christmas by rrule: Thu 24 Dec 16:30–17:00, Fri 25 off, Mon 28 09:00–09:30.
    (OFFICE, "2026-12-24T16:30", H, "2026-12-28T09:30+01:00"),
    # 9. 4 h from lunch on Thursday use the afternoon exactly: the deadline is the shift's end.
    (OFFICE, "2026-04-02T12:00", 4 * H, "2026-04-02T17:00+02:00"),
    # 10. Good Friday by rrule (BYEASTER=-2, 3 Apr 2026): Thu 13–17, then Mon 09–10.
    (OFFICE, "2026-04-02T13:00", 5 * H, "2026-04-06T10:00+02:00"),
    # 11. Berlin springs forward on Sun 29 Mar: Fri 15–17, Mon 09–11 now CEST (+02:00).
    (OFFICE, "2026-03-27T15:00", 4 * H, "2026-03-30T11:00+02:00"),
    # 12. Berlin falls back on Sun 25 Oct: Fri 16–17, Mon 09–10 now CET (+01:00).
    (OFFICE, "2026-10-23T16:00", 2 * H, "2026-10-26T10:00+01:00"),
    # 13. Exactly one week's hours (5 × 7 h) from Monday 09:00 end on Friday at 17:00.
    (OFFICE, "2026-11-23T09:00", 35 * H, "2026-11-27T17:00+01:00"),
    # 14. Two weeks' hours (70 h) from Mon 30 Nov, no holiday in between: Fri 11 Dec 17:00.
    (OFFICE, "2026-11-30T09:00", 70 * H, "2026-12-11T17:00+01:00"),
    # 15. Spring forward inside a 01:00–05:00 shift: 01:00 CET is 00:00 UTC, 05:00 CEST is
    #     03:00 UTC, so the shift holds 3 real hours and 3 h end at its end.
    (NIGHTS, "2026-03-28T23:00", 3 * H, "2026-03-29T05:00+02:00"),
    # 16. One hour more: Monday's shift 01:00 CEST + 1 h.
    (NIGHTS, "2026-03-28T23:00", 4 * H, "2026-03-30T02:00+02:00"),
    # 17. Fall back inside the shift: 01:00 CEST is 23:00 UTC, 05:00 CET is 04:00 UTC: 5 h.
    (NIGHTS, "2026-10-25T00:00", 5 * H, "2026-10-25T05:00+01:00"),
    # 18. 1 h 30 from 01:00 CEST reach 02:30 in its first occurrence (still CEST).
    (NIGHTS, "2026-10-25T00:00", 90 * M, "2026-10-25T02:30+02:00"),
    # 19. 2 h 30 reach 02:30 in its second occurrence (00:30 + 1 h = 01:30 UTC = 02:30 CET).
    (NIGHTS, "2026-10-25T00:00", 150 * M, "2026-10-25T02:30+01:00"),
    # 20. New York springs forward on Sun 8 Mar: Fri 16–17 EST, Mon 08–09 EDT (-04:00).
    (NY_OFFICE, "2026-03-06T16:00", 2 * H, "2026-03-09T09:00-04:00"),
    # 21. 24×7 in New York: 24 h from Sat noon EST (17:00 UTC) is 17:00 UTC = 13:00 EDT.
    (NY_ALWAYS, "2026-03-07T12:00", 24 * H, "2026-03-08T13:00-04:00"),
    # 22. 24×7 in New York across fall back: Sat noon EDT (16:00 UTC) + 24 h = 11:00 EST.
    (NY_ALWAYS, "2026-10-31T12:00", 24 * H, "2026-11-01T11:00-05:00"),
    # 23. NY shift 01:00–02:00 on fall-back day: 01:00 EDT (05:00 UTC) to 02:00 EST
    #     (07:00 UTC) holds 2 h; 1 h 30 in is 06:30 UTC, the second 01:30 (EST).
    (NY_NIGHTS, "2026-11-01T00:00", 90 * M, "2026-11-01T01:30-05:00"),
    # 24. Overnight: Tue 05:00 is inside Monday's 22–06 shift: 1 h to 06:00, then Tue 22–23.
    (NIGHT_DESK, "2026-11-24T05:00", 2 * H, "2026-11-24T23:00+01:00"),
    # 25. Sat 05:30 is inside Friday's shift: 30 min, no weekend shifts, Mon 22:00–22:30.
    (NIGHT_DESK, "2026-11-28T05:30", H, "2026-11-30T22:30+01:00"),
    # 26. Thu 24 Dec's shift (22–06) runs into Christmas and counts (8 h); Christmas's own
    #     shift is removed, no weekend shifts, so the last hour is Mon 28 Dec 22–23.
    (NIGHT_DESK, "2026-12-24T21:00", 9 * H, "2026-12-28T23:00+01:00"),
]


@pytest.mark.parametrize(("calendar", "start", "duration", "expected"), DEADLINES)
def test_hand_computed_deadlines(
    calendar: BusinessCalendar, start: str, duration: timedelta, expected: str
) -> None:
    begin = datetime.fromisoformat(start).replace(tzinfo=calendar.time_zone)
    want = datetime.fromisoformat(expected)
    got = calendar.add(begin, duration)
    # Compared in UTC: == between zones is always False for a time in a fold (PEP 495).
    assert got.astimezone(UTC) == want.astimezone(UTC)
    assert got.utcoffset() == want.utcoffset()  # shown in the calendar's zone
    assert got.tzinfo is calendar.time_zone
    assert calendar.elapsed(begin, got) == duration


def _berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


# (calendar, start, end, pauses, expected elapsed)
ELAPSED = [
    # Mon 7 h + Tue 7 h + Wed 09–12 = 17 h.
    (OFFICE, "2026-11-23T09:00", "2026-11-25T12:00", [], 17 * H),
    # A pause Mon 16:00 – Tue 10:00 holds 1 h + 1 h of business time: 15 h.
    (
        OFFICE,
        "2026-11-23T09:00",
        "2026-11-25T12:00",
        [("2026-11-23T16:00", "2026-11-24T10:00")],
        15 * H,
    ),
    # Overlapping pauses reaching before the start: union Sun 12:00 – Mon 11:00, 2 h inside.
    (
        OFFICE,
        "2026-11-23T09:00",
        "2026-11-25T12:00",
        [("2026-11-22T12:00", "2026-11-23T10:00"), ("2026-11-23T09:30", "2026-11-23T11:00")],
        15 * H,
    ),
    # Spring-forward weekend on the night calendar: Sat 4 h + Sun 3 h.
    (NIGHTS, "2026-03-28T00:00", "2026-03-30T00:00", [], 7 * H),
    # Fall-back weekend: Sat 4 h + Sun 5 h.
    (NIGHTS, "2026-10-24T00:00", "2026-10-26T00:00", [], 9 * H),
    # 24×7 in Berlin: 47 real hours between two midnights over the spring change ...
    (BusinessCalendar.always(BERLIN), "2026-03-28T00:00", "2026-03-30T00:00", [], 47 * H),
    # ... and 49 over the autumn change.
    (BusinessCalendar.always(BERLIN), "2026-10-24T00:00", "2026-10-26T00:00", [], 49 * H),
]


@pytest.mark.parametrize(("calendar", "start", "end", "pauses", "expected"), ELAPSED)
def test_hand_computed_elapsed(
    calendar: BusinessCalendar,
    start: str,
    end: str,
    pauses: list[tuple[str, str]],
    expected: timedelta,
) -> None:
    zone = calendar.time_zone
    spans = [
        (
            datetime.fromisoformat(a).replace(tzinfo=zone),
            datetime.fromisoformat(b).replace(tzinfo=zone),
        )
        for a, b in pauses
    ]
    begin = datetime.fromisoformat(start).replace(tzinfo=zone)
    finish = datetime.fromisoformat(end).replace(tzinfo=zone)
    assert calendar.elapsed(begin, finish, spans) == expected


def test_intervals_are_clipped_merged_and_in_utc() -> None:
    got = list(OFFICE.intervals(_berlin("2026-11-23T10:00"), _berlin("2026-11-23T15:00")))
    assert got == [
        (_berlin("2026-11-23T10:00"), _berlin("2026-11-23T12:00")),
        (_berlin("2026-11-23T13:00"), _berlin("2026-11-23T15:00")),
    ]
    assert all(a.tzinfo is UTC for pair in got for a in pair)
    # A 24×7 calendar is one interval, however many days it spans.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert list(ALWAYS.intervals(start, start + timedelta(days=30))) == [
        (start, start + timedelta(days=30))
    ]
    # Friday's overnight shift into Saturday stays one interval, and so does the week.
    desk = list(NIGHT_DESK.intervals(_berlin("2026-11-27T00:00"), _berlin("2026-11-29T00:00")))
    assert desk == [
        (_berlin("2026-11-27T00:00"), _berlin("2026-11-27T06:00")),
        (_berlin("2026-11-27T22:00"), _berlin("2026-11-28T06:00")),
    ]


def test_is_working_and_next_working() -> None:
    assert OFFICE.is_working(_berlin("2026-11-23T09:00"))
    assert not OFFICE.is_working(_berlin("2026-11-23T12:00"))  # a shift's end is not working
    assert not OFFICE.is_working(_berlin("2026-12-25T10:00"))  # Christmas
    assert NIGHT_DESK.is_working(_berlin("2026-11-28T05:59"))  # Friday's shift on Saturday
    assert OFFICE.next_working(_berlin("2026-11-23T10:00")) == _berlin("2026-11-23T10:00")
    assert OFFICE.next_working(_berlin("2026-12-24T17:00")) == _berlin("2026-12-28T09:00")


def test_always_is_real_time() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN)
    # Wall-clock arithmetic (start + 3 h in Berlin) would give 2 real hours here.
    assert ALWAYS.add(start, 3 * H) == start.astimezone(UTC) + 3 * H
    assert ALWAYS.add(start, 0 * H).tzinfo is ZoneInfo("UTC")
    assert ALWAYS.elapsed(start, start.astimezone(UTC) + 1000 * H) == 1000 * H


def test_nonexistent_and_ambiguous_shift_boundaries() -> None:
    # A shift starting at 02:30 on the spring-forward day starts at 03:00 CEST (the gap's end).
    gap = BusinessCalendar("gap", BERLIN, WeeklyHours.every_day(Shift("02:30", "04:00")))
    spans = list(gap.intervals(_berlin("2026-03-29T00:00"), _berlin("2026-03-30T00:00")))
    assert spans == [(datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))]
    # A shift wholly inside the gap holds no time that day.
    inside = BusinessCalendar("in", BERLIN, WeeklyHours.every_day(Shift("02:10", "02:50")))
    assert inside.elapsed(_berlin("2026-03-29T00:00"), _berlin("2026-03-30T00:00")) == timedelta(0)
    assert inside.elapsed(_berlin("2026-03-30T00:00"), _berlin("2026-03-31T00:00")) == 40 * M
    # On fall-back day 02:10–02:50 means the first occurrence: 40 min of CEST.
    spans = list(inside.intervals(_berlin("2026-10-25T00:00"), _berlin("2026-10-26T00:00")))
    assert spans == [
        (datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 0, 50, tzinfo=UTC))
    ]


# --- validation ------------------------------------------------------------------------


def test_bad_shifts_name_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        Shift("25:00", "06:00")
    assert error.value.field == "start"
    with pytest.raises(ValidationError) as error:
        Shift(time(9), time(17, 0, 0, 5))
    assert error.value.field == "end"
    with pytest.raises(ValidationError) as error:
        Shift(time(9, tzinfo=UTC), time(17))
    assert error.value.field == "start"
    with pytest.raises(ValidationError) as error:
        WeeklyHours(monday=(Shift("09:00", "12:00"), Shift("11:00", "13:00")))
    assert error.value.field == "monday[1]"
    # Monday's overnight shift runs into Tuesday's morning.
    with pytest.raises(ValidationError) as error:
        WeeklyHours(monday=(Shift("22:00", "06:00"),), tuesday=(Shift("05:00", "09:00"),))
    assert error.value.field == "tuesday[0]"
    # Sunday's overnight shift runs into Monday's.
    with pytest.raises(ValidationError) as error:
        WeeklyHours(monday=(Shift("00:00", "01:00"),), sunday=(Shift("23:00", "00:30"),))
    assert error.value.field == "monday[0]"
    with pytest.raises(ValidationError) as error:
        WeeklyHours(monday=("09:00-17:00",))  # type: ignore[arg-type]
    assert error.value.field == "monday[0]"
    with pytest.raises(ValidationError) as error:
        WeeklyHours.from_days({7: (Shift("09:00", "17:00"),)})
    assert error.value.field == "days"
    # Touching shifts are fine, and sorted by start.
    hours = WeeklyHours(monday=(Shift("13:00", "17:00"), Shift("09:00", "13:00")))
    assert [shift.start for shift in hours.monday] == ["09:00", "13:00"]
    assert Shift("09:00:00", "17:00:30") == Shift(time(9), time(17, 0, 30))
    assert Shift("22:00", "06:00").end_time == time(6)


def test_bad_calendars_and_holidays_name_the_field() -> None:
    hours = WeeklyHours.weekdays(Shift("09:00", "17:00"))
    with pytest.raises(ValidationError) as error:
        BusinessCalendar("x", "Mars/Olympus", hours)
    assert error.value.field == "time_zone"
    with pytest.raises(ValidationError) as error:
        BusinessCalendar("x", "UTC", "9-5")  # type: ignore[arg-type]
    assert error.value.field == "hours"
    with pytest.raises(ValidationError) as error:
        HolidayRule("x", "FREQ=YEARLY;BYWHAT=13")
    assert error.value.field == "rule"
    with pytest.raises(ValidationError) as error:
        HolidayRule("x", "FREQ=MINUTELY")
    assert error.value.field == "rule"
    with pytest.raises(ValidationError) as error:
        BusinessCalendar("x", "UTC", hours, {datetime(2026, 1, 1): "dt"})
    assert error.value.field.startswith("holidays.dates")
    with pytest.raises(ValidationError) as error:
        BusinessCalendar("x", "UTC", hours, ["Christmas"])
    assert error.value.field == "holidays[0]"


def test_bad_arguments_name_the_field() -> None:
    naive = datetime(2026, 1, 1, 9)
    aware = naive.replace(tzinfo=UTC)
    cases = [
        (lambda: OFFICE.add(naive, H), "start"),
        (lambda: OFFICE.add(aware, -H), "duration"),
        (lambda: OFFICE.add(aware, 3600), "duration"),
        (lambda: OFFICE.elapsed(aware, naive), "end"),
        (lambda: OFFICE.elapsed(aware + H, aware), "end"),
        (lambda: OFFICE.elapsed(aware, aware + H, [(aware, naive)]), "pauses[0][1]"),
        (lambda: OFFICE.elapsed(aware, aware + H, [(aware + H, aware)]), "pauses[0][1]"),
        (lambda: OFFICE.elapsed(aware, aware + H, [aware]), "pauses[0]"),
        (lambda: OFFICE.elapsed(aware, aware + H, aware), "pauses"),
        (lambda: list(OFFICE.intervals(aware + H, aware)), "end"),
        (lambda: OFFICE.is_working(naive), "at"),
    ]
    for call, field in cases:
        with pytest.raises(ValidationError) as error:
            call()
        assert error.value.field == field


def test_calendar_without_working_time_refuses_instead_of_looping() -> None:
    empty = BusinessCalendar("never", "UTC", WeeklyHours())
    with pytest.raises(ValidationError) as error:
        empty.add(datetime(2026, 1, 1, tzinfo=UTC), H)
    assert error.value.field == "hours"
    assert (
        empty.elapsed(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == 0 * H
    )


def test_holidays_from_a_host_mapping() -> None:
    # What a host passes from the ``holidays`` package: any Mapping[date, str].
    host = {date(2026, 10, 3): "Tag der Deutschen Einheit", date(2026, 1, 1): "Neujahr"}
    calendar = BusinessCalendar("de", BERLIN, WeeklyHours.weekdays(Shift("09:00", "17:00")), host)
    assert [holiday.day for holiday in calendar.holidays.dates] == sorted(host)
    assert calendar.holidays.name_on(date(2026, 10, 3)) == "Tag der Deutschen Einheit"
    both = Holidays(dates=host, rules=(CHRISTMAS,))
    assert both.in_year(2026) == {
        date(2026, 1, 1): "Neujahr",
        date(2026, 10, 3): "Tag der Deutschen Einheit",
        date(2026, 12, 25): "Christmas Day",
    }
    assert Holidays.of(None) == Holidays()
    assert GOOD_FRIDAY.dates_in(2027) == (date(2027, 3, 26),)


# --- serialisation -------------------------------------------------------------------


@pytest.mark.parametrize("calendar", [OFFICE, NIGHTS, NIGHT_DESK, NY_OFFICE, ALWAYS])
def test_calendar_round_trips(calendar: BusinessCalendar) -> None:
    conv = make_converter()
    data = conv.unstructure(calendar)
    assert data["time_zone"] == calendar.time_zone.key
    assert structure(conv, data, BusinessCalendar) == calendar
    loaded = Loaders().load(BusinessCalendar, json.loads(dumps(data)))
    assert loaded == calendar
    start = datetime(2026, 12, 23, 10, tzinfo=UTC)
    assert loaded.add(start, 20 * H) == calendar.add(start, 20 * H)


@pytest.mark.parametrize(
    ("cls", "value"),
    [
        (Shift, Shift("22:00", "06:00")),
        (WeeklyHours, OFFICE.hours),
        (Holiday, Holiday(date(2026, 5, 1), "Tag der Arbeit")),
        (HolidayRule, GOOD_FRIDAY),
        (Holidays, OFFICE.holidays),
    ],
)
def test_parts_round_trip(cls: type[object], value: object) -> None:
    conv = make_converter()
    data = conv.unstructure(value)
    assert structure(conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


def test_strict_converter_refuses_bad_calendar_data() -> None:
    conv = make_converter()
    data = conv.unstructure(OFFICE)
    data["hours"]["monday"][0]["start"] = "9am"
    with pytest.raises(ValidationError) as error:
        structure(conv, data, BusinessCalendar)
    assert error.value.field == "hours.monday[0].start"
    data = conv.unstructure(OFFICE)
    data["holidays"]["rules"][0]["rule"] = "FREQ=NEVER"
    with pytest.raises(ValidationError) as error:
        structure(conv, data, BusinessCalendar)
    assert error.value.field.startswith("holidays.rules[0]")
    data = conv.unstructure(OFFICE)
    data["time_zone"] = "+01:00"
    with pytest.raises(ValidationError) as error:
        structure(conv, data, BusinessCalendar)
    assert error.value.field == "time_zone"


def test_huge_durations_are_refused_at_once() -> None:
    with pytest.raises(ValidationError) as error:
        OFFICE.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta.max)
    assert error.value.field == "duration"
    with pytest.raises(ValidationError) as error:
        ALWAYS.add(datetime(9999, 12, 1, tzinfo=UTC), timedelta(days=60))
    assert error.value.field == "duration"


def test_a_used_calendar_pickles_and_copies_with_its_value() -> None:
    import copy
    import pickle

    start = datetime(2026, 12, 23, 10, tzinfo=UTC)
    expected = OFFICE.add(start, 20 * H)  # fills the per-instance cache
    again = pickle.loads(pickle.dumps(OFFICE))
    assert again == OFFICE
    assert again.add(start, 20 * H) == expected
    assert copy.deepcopy(OFFICE).add(start, 20 * H) == expected
    assert hash(again) == hash(OFFICE)


def test_the_repeated_hour_is_ordered_by_instant() -> None:
    # Same zone, same day: 02:30 CET (second time round) is after 02:45 CEST (first time).
    later = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    earlier = datetime(2026, 10, 25, 2, 45, tzinfo=BERLIN)
    assert NIGHTS.elapsed(earlier, later) == 45 * M
    with pytest.raises(ValidationError) as error:
        NIGHTS.elapsed(later, earlier)
    assert error.value.field == "end"
    assert NIGHTS.add(earlier, 45 * M).astimezone(UTC) == later.astimezone(UTC)
    assert NIGHTS.add(earlier, 45 * M).fold == 1
