"""Business calendars: working hours, holidays and deadline arithmetic across DST changes.

A `BusinessCalendar` answers the two questions an SLA asks: *when* is a
deadline that lies some business time after a start (`BusinessCalendar.add`),
and *how much* business time passed between two instants, less the pauses
(`BusinessCalendar.elapsed`).

Rules, chosen so that the answers are exact and predictable:

- Shift boundaries are local wall-clock times in the calendar's zone; business
  time is the *real* time that passes inside shifts. On the day clocks spring
  forward a 01:00–05:00 shift in Europe/Berlin lasts 3 hours; on the day they
  fall back it lasts 5.
- A local time that does not exist (the skipped hour) moves forward to the first
  instant after the gap; an ambiguous one (the repeated hour) is its first
  occurrence (``fold=0``).
- A shift belongs to the day it starts on: a holiday removes every shift that
  starts on that local date, including the part of an overnight shift that runs
  into the next day, and keeps an overnight shift from the day before that runs
  into the holiday.
- Intervals are half-open: a shift's start is working time, its end is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from crmkit.kernel.checks import items, of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware, zone
from crmkit.service._calendar_math import (
    Engine,
    Plan,
    clock_seconds,
    clock_text,
    instant,
    merge_pauses,
    micros,
)
from crmkit.service.holidays import Holiday, HolidayRule, Holidays

__all__ = [
    "ALWAYS",
    "BusinessCalendar",
    "Holiday",
    "HolidayRule",
    "Holidays",
    "Shift",
    "WeeklyHours",
]

_MICRO_DELTA = timedelta(microseconds=1)
_ZERO = timedelta(0)
_DAY_SECONDS = 86_400
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _start(value: object) -> str:
    return clock_text(value, "start")


def _end(value: object) -> str:
    return clock_text(value, "end")


@attrs.frozen
class Shift:
    """A working interval on one weekday, in local wall-clock time.

    ``end <= start`` means the shift runs overnight into the next day
    (``Shift(time(22), time(6))``); ``Shift(time(0), time(0))`` is the whole day.
    Times are stored as ``"HH:MM"`` (or ``"HH:MM:SS"``) text, which is also accepted.

    >>> Shift(time(9), time(17, 30))
    Shift(start='09:00', end='17:30')
    >>> Shift("22:00", "06:00").overnight
    True

    Attributes:
        start: When the shift starts, local wall-clock time.
        end: When it ends; at or before ``start`` means on the next day.
    """

    start: str = attrs.field(converter=_start)
    end: str = attrs.field(converter=_end)

    @property
    def start_time(self) -> time:
        """``start`` as a `datetime.time`."""
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        """``end`` as a `datetime.time`."""
        return time.fromisoformat(self.end)

    @property
    def overnight(self) -> bool:
        """Whether the shift ends on the next day."""
        return clock_seconds(self.end) <= clock_seconds(self.start)

    def seconds(self) -> tuple[int, int]:
        """(start, end) in seconds after local midnight of its day; end may pass 86400."""
        low, high = clock_seconds(self.start), clock_seconds(self.end)
        return low, high + _DAY_SECONDS if high <= low else high


def _shifts(value: object, field: str) -> tuple[Shift, ...]:
    found = items(value, field)
    for index, shift in enumerate(found):
        if not isinstance(shift, Shift):
            raise ValidationError(f"{field}[{index}]", "must be a Shift", shift)
    return tuple(sorted(found, key=Shift.seconds))


def _monday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "monday")


def _tuesday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "tuesday")


def _wednesday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "wednesday")


def _thursday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "thursday")


def _friday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "friday")


def _saturday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "saturday")


def _sunday(value: object) -> tuple[Shift, ...]:
    return _shifts(value, "sunday")


@attrs.frozen
class WeeklyHours:
    """The shifts of each weekday; split shifts (a lunch break) are two shifts on one day.

    Shifts may not overlap, counting an overnight shift's run into the next day
    (Sunday's runs into Monday). Each day's shifts are kept sorted by start.

    >>> office = WeeklyHours.weekdays(Shift(time(9), time(12)), Shift(time(13), time(17)))
    >>> office.total()
    datetime.timedelta(days=1, seconds=39600)

    Attributes:
        monday: Monday's shifts.
        tuesday: Tuesday's shifts.
        wednesday: Wednesday's shifts.
        thursday: Thursday's shifts.
        friday: Friday's shifts.
        saturday: Saturday's shifts.
        sunday: Sunday's shifts.
    """

    monday: tuple[Shift, ...] = attrs.field(default=(), converter=_monday)
    tuesday: tuple[Shift, ...] = attrs.field(default=(), converter=_tuesday)
    wednesday: tuple[Shift, ...] = attrs.field(default=(), converter=_wednesday)
    thursday: tuple[Shift, ...] = attrs.field(default=(), converter=_thursday)
    friday: tuple[Shift, ...] = attrs.field(default=(), converter=_friday)
    saturday: tuple[Shift, ...] = attrs.field(default=(), converter=_saturday)
    sunday: tuple[Shift, ...] = attrs.field(default=(), converter=_sunday)

    def __attrs_post_init__(self) -> None:
        week = _DAY_SECONDS * 7
        spans = []
        for day, shifts in enumerate(self.days):
            for index, shift in enumerate(shifts):
                low, high = shift.seconds()
                where = f"{_WEEKDAYS[day]}[{index}]"
                spans.append((low + day * _DAY_SECONDS, high + day * _DAY_SECONDS, where))
                if high + day * _DAY_SECONDS > week:  # Sunday night runs into Monday
                    spans.append(
                        (low + (day - 7) * _DAY_SECONDS, high + (day - 7) * _DAY_SECONDS, where)
                    )
        spans.sort()
        for (_, high, first), (low, _, second) in pairwise(spans):
            if low < high:
                raise ValidationError(second, f"must not overlap {first}", None)

    @classmethod
    def from_days(cls, days: Mapping[int, Iterable[Shift]]) -> WeeklyHours:
        """Build from a mapping of weekday (0 is Monday … 6 is Sunday) to shifts."""
        if not isinstance(days, Mapping):
            raise ValidationError("days", "must be a mapping of weekday 0..6 to shifts", days)
        for key in days:
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= 6:
                raise ValidationError("days", "weekdays must be integers 0 (Monday) to 6", key)
        return cls(*(tuple(days.get(day, ())) for day in range(7)))

    @classmethod
    def weekdays(cls, *shifts: Shift) -> WeeklyHours:
        """The same shifts Monday to Friday, nothing at the weekend."""
        return cls.from_days(dict.fromkeys(range(5), shifts))

    @classmethod
    def every_day(cls, *shifts: Shift) -> WeeklyHours:
        """The same shifts on all seven days."""
        return cls.from_days(dict.fromkeys(range(7), shifts))

    @property
    def days(self) -> tuple[tuple[Shift, ...], ...]:
        """The seven days' shifts, Monday first."""
        return (
            self.monday,
            self.tuesday,
            self.wednesday,
            self.thursday,
            self.friday,
            self.saturday,
            self.sunday,
        )

    def total(self) -> timedelta:
        """Wall-clock working time of a week without holidays or DST changes."""
        return timedelta(
            seconds=sum(high - low for day in self.days for low, high in map(Shift.seconds, day))
        )

    def plan(self) -> Plan:
        """Each weekday's shifts as (start, end) seconds after local midnight."""
        return tuple(tuple(shift.seconds() for shift in day) for day in self.days)


def _name(value: object) -> str:
    return clean_line(value, "name")


def _zone(value: object) -> ZoneInfo:
    return zone(value, "time_zone")


def _holidays(value: object) -> Holidays:
    try:
        return Holidays.of(value)
    except ValidationError as exc:
        if exc.field.startswith("holidays"):  # Holidays.of named it already
            raise
        raise exc.at("holidays") from None


@attrs.frozen(slots=False)
class BusinessCalendar:
    """Working hours in one time zone, less holidays, with deadline arithmetic.

    Every method takes and returns aware datetimes; results are in the
    calendar's zone. Per-day intervals are computed once and cached on the
    instance (the cache is not part of its value), so hold on to a calendar
    rather than rebuilding it for every call.

    Attributes:
        name: A label for people, for example ``Berlin support``.
        time_zone: The IANA zone of the shift times (a key such as ``Europe/Berlin`` is accepted).
        hours: The weekly shifts.
        holidays: Days without working time (a ``Mapping[date, str]`` or a list
            of `Holiday` and `HolidayRule` is accepted).
    """

    name: str = attrs.field(converter=_name)
    time_zone: ZoneInfo = attrs.field(converter=_zone)
    hours: WeeklyHours = attrs.field(validator=of_type(WeeklyHours))
    holidays: Holidays = attrs.field(factory=Holidays, converter=_holidays)

    @classmethod
    def always(cls, time_zone: ZoneInfo | str = "UTC") -> BusinessCalendar:
        """A 24×7 calendar without holidays: business time is real elapsed time."""
        return cls("always", time_zone, WeeklyHours.every_day(Shift(time(0), time(0))))

    @cached_property
    def _engine(self) -> Engine:
        return Engine(self.time_zone, self.hours.plan(), self.holidays)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of business time has passed after ``start``.

        Counting begins at the next working instant at or after ``start``; a zero
        duration returns that instant. A positive duration's deadline lies inside
        a working interval or at its end.
        """
        require_aware(start, "start")
        if not isinstance(duration, timedelta):
            raise ValidationError("duration", "must be a timedelta", duration)
        if duration < _ZERO:
            raise ValidationError("duration", "must not be negative", duration)
        engine = self._engine
        begin = micros(start)
        return instant(
            engine.add(begin, engine.local_day(start), duration // _MICRO_DELTA), engine.zone
        )

    def next_working(self, at: datetime) -> datetime:
        """The first working instant at or after ``at``.

        A calendar without working time for ten years raises `ValidationError` (``hours``).
        """
        return self.add(at, timedelta(0))

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` lies inside working hours (a shift's end does not)."""
        require_aware(at, "at")
        engine = self._engine
        return engine.is_working(micros(at), engine.local_day(at))

    def elapsed(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        """Business time between two instants, less the business time inside ``pauses``.

        Pauses may overlap each other or reach outside [start, end): their union
        is taken and clipped. ``end`` before ``start`` is a `ValidationError`.
        """
        require_aware(start, "start")
        require_aware(end, "end")
        # Compared as UTC instants: Python compares two times of one zone by wall
        # clock, which orders the repeated hour wrongly.
        low, high = micros(start), micros(end)
        if high < low:
            raise ValidationError("end", "must not be before start", end)
        engine = self._engine
        total = engine.elapsed(low, high, engine.local_day(start), engine.local_day(end))
        if isinstance(pauses, tuple | list) and not pauses:
            return timedelta(microseconds=total)
        for pause_low, pause_high in merge_pauses(pauses, low, high):
            total -= engine.elapsed(
                pause_low,
                pause_high,
                engine.local_day(instant(pause_low, engine.zone)),
                engine.local_day(instant(pause_high, engine.zone)),
            )
        return timedelta(microseconds=total)

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals overlapping [start, end), clipped to it, as UTC datetimes.

        UTC, so that ``high - low`` is the real time inside: Python subtracts two
        datetimes of one zone by wall clock, which is wrong across a DST change.
        Intervals that touch (an overnight shift running into the next day's
        first shift) come out as one.
        """
        require_aware(start, "start")
        require_aware(end, "end")
        low, high = micros(start), micros(end)
        if high < low:
            raise ValidationError("end", "must not be before start", end)
        engine = self._engine
        found = engine.spans(low, high, engine.local_day(start), engine.local_day(end))
        return ((instant(low, UTC), instant(high, UTC)) for low, high in found)


ALWAYS: Final = BusinessCalendar.always()
"""24×7 in UTC without holidays: for tests and for SLA policies without business hours."""
