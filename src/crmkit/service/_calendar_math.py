"""The arithmetic behind `BusinessCalendar`: working intervals as UTC microseconds.

Shift boundaries are local wall-clock times. Each is turned into an instant
once per local day (and cached), and every sum and difference after that is
plain integer arithmetic on UTC microseconds, so a day with a DST change
counts exactly the real time that passes inside its shifts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware
from crmkit.service.holidays import Holidays

Plan = tuple[tuple[tuple[int, int], ...], ...]
"""Per weekday (Monday first): (start, end) seconds after local midnight; end may pass 86400."""

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)
_SECOND = 1_000_000
_DAY = 86_400 * _SECOND
_LAST_DAY = date.max.toordinal() - 2
_CACHE_LIMIT = 40_000
# A calendar without working time for this many days in a row is treated as broken,
# instead of searching forever for a deadline that never comes.
_MAX_IDLE_DAYS = 3_700


def micros(value: datetime) -> int:
    """UTC microseconds since the epoch of an aware datetime."""
    return (value - _EPOCH) // _MICRO


def instant(value: int, zone: tzinfo) -> datetime:
    """The aware datetime in ``zone`` for UTC microseconds since the epoch."""
    return (_EPOCH + timedelta(microseconds=value)).astimezone(zone)


def local_micros(zone: ZoneInfo, naive: datetime) -> int:
    """The instant of a local wall-clock time, as UTC microseconds.

    An ambiguous time (the repeated hour when clocks fall back) is its first
    occurrence (``fold=0``). A time that does not exist (the hour skipped when
    clocks spring forward) moves forward to the first instant after the gap.
    """
    before = naive.replace(tzinfo=zone).utcoffset()
    after = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None  # a ZoneInfo always has offsets
    assert after is not None
    early = (naive - before - _NAIVE_EPOCH) // _MICRO
    if after <= before:
        return early
    # In a gap: the transition lies in (naive - after, naive - before]. zoneinfo gives
    # transitions to the second, so a binary search over seconds finds it.
    low = (naive - after - _NAIVE_EPOCH) // _MICRO // _SECOND
    high = early // _SECOND
    while high - low > 1:
        middle = (low + high) // 2
        if instant(middle * _SECOND, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high * _SECOND


def clock_text(value: object, field: str) -> str:
    """Canonical ``HH:MM`` or ``HH:MM:SS`` text of a local time or such text."""
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise ValidationError(field, "must be a local time without zone or microseconds", value)
        seconds = value.second
        value = value.strftime("%H:%M:%S" if seconds else "%H:%M")
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise ValidationError(field, "must be a time or 'HH:MM' / 'HH:MM:SS'", value)
    return value[:5] if value.endswith(":00") and len(value) == 8 else value


def clock_seconds(clock: str) -> int:
    """Seconds after midnight of ``HH:MM[:SS]`` text."""
    return int(clock[:2]) * 3600 + int(clock[3:5]) * 60 + (int(clock[6:8]) if len(clock) > 5 else 0)


def merge_pauses(pauses: object, low: int, high: int) -> list[tuple[int, int]]:
    """Pauses as sorted, disjoint UTC-microsecond spans clipped to [low, high)."""
    spans = []
    for index, pause in enumerate(items(pauses, "pauses")):
        field = f"pauses[{index}]"
        if not isinstance(pause, tuple | list) or len(pause) != 2:
            raise ValidationError(field, "must be a (start, end) pair", pause)
        begin = micros(require_aware(pause[0], f"{field}[0]"))
        finish = micros(require_aware(pause[1], f"{field}[1]"))
        if finish < begin:
            raise ValidationError(f"{field}[1]", "must not be before the pause's start", pause[1])
        begin, finish = max(begin, low), min(finish, high)
        if finish > begin:
            spans.append((begin, finish))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for begin, finish in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(finish, merged[-1][1]))
        else:
            merged.append((begin, finish))
    return merged


class Engine:
    """Cached per-day working intervals of one calendar, and the sums over them."""

    __slots__ = ("_days", "_holiday_years", "_holidays", "_plan", "_weeks", "zone")

    def __init__(self, zone: ZoneInfo, plan: Plan, holidays: Holidays):
        self.zone = zone
        self._plan = plan
        self._holidays = holidays
        self._days: dict[int, tuple[int, ...]] = {}
        self._weeks: dict[int, int] = {}
        self._holiday_years: dict[int, frozenset[int]] = {}

    def local_day(self, value: datetime) -> int:
        """The proleptic ordinal of the local date of an instant."""
        return value.astimezone(self.zone).toordinal()

    def day(self, ordinal: int) -> tuple[int, ...]:
        """Flat (start, end, start, end ...) UTC microseconds of the shifts starting on a day."""
        found = self._days.get(ordinal)
        if found is None:
            found = self._build_day(ordinal)
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
                self._weeks.clear()
            self._days[ordinal] = found
        return found

    def week(self, monday: int) -> int:
        """Working microseconds of the shifts starting in the seven local days from ``monday``."""
        found = self._weeks.get(monday)
        if found is None:
            found = 0
            for ordinal in range(monday, monday + 7):
                spans = self.day(ordinal)
                for index in range(0, len(spans), 2):
                    found += spans[index + 1] - spans[index]
            self._weeks[monday] = found
        return found

    def _build_day(self, ordinal: int) -> tuple[int, ...]:
        if ordinal < 2 or ordinal > _LAST_DAY:
            return ()
        shifts = self._plan[(ordinal + 6) % 7]
        if not shifts:
            return ()
        local = date.fromordinal(ordinal)
        years = self._holiday_years
        year = years.get(local.year)
        if year is None:
            year = years[local.year] = frozenset(
                day.toordinal() for day in self._holidays.in_year(local.year)
            )
        if ordinal in year:
            return ()
        midnight = datetime(local.year, local.month, local.day)
        spans: list[int] = []
        for start, end in shifts:
            low = local_micros(self.zone, midnight + timedelta(seconds=start))
            high = local_micros(self.zone, midnight + timedelta(seconds=end))
            if high > low:  # a shift wholly inside a spring-forward gap has no time
                spans += (low, high)
        return tuple(spans)

    def add(self, start: int, first: int, remaining: int) -> int:
        """The instant when ``remaining`` working microseconds have passed after ``start``.

        ``first`` is the local day of ``start``. Zero gives the next working instant.
        """
        if remaining > (_LAST_DAY - first) * _DAY:  # business time never outruns real time
            raise ValidationError("duration", "must end before the year 9999")
        ordinal = first - 1  # a shift from the day before may still run
        idle = 0
        while True:
            if ordinal > _LAST_DAY:
                raise ValidationError("duration", "must end before the year 9999")
            spans = self.day(ordinal)
            if spans:
                idle = 0
                for index in range(0, len(spans), 2):
                    high = spans[index + 1]
                    if high <= start:
                        continue
                    low = spans[index]
                    if low < start:
                        low = start
                    if remaining <= high - low:
                        return low + remaining
                    remaining -= high - low
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValidationError("hours", "has no working time for ten years")
            ordinal += 1
            # From the day after ``first`` on, whole weeks lie after ``start``: skip them.
            if ordinal > first and ordinal % 7 == 1:
                while ordinal <= _LAST_DAY - 7:
                    total = self.week(ordinal)
                    if total >= remaining:
                        break
                    if total == 0:
                        idle += 7
                        if idle > _MAX_IDLE_DAYS:
                            raise ValidationError("hours", "has no working time for ten years")
                    else:
                        idle = 0
                    remaining -= total
                    ordinal += 7

    def elapsed(self, start: int, end: int, first: int, last: int) -> int:
        """Working microseconds in [start, end); ``first``/``last`` are their local days."""
        total = 0
        ordinal = first - 1
        while ordinal <= last:
            # Shifts of days after ``first`` start after ``start``; those of days before
            # ``last - 1`` end before ``end``: whole weeks in between need no clipping.
            if ordinal > first and ordinal % 7 == 1 and ordinal + 8 <= last:
                total += self.week(ordinal)
                ordinal += 7
                continue
            spans = self.day(ordinal)
            for index in range(0, len(spans), 2):
                low = spans[index]
                high = spans[index + 1]
                if low < start:
                    low = start
                if high > end:
                    high = end
                if high > low:
                    total += high - low
            ordinal += 1
        return total

    def spans(self, start: int, end: int, first: int, last: int) -> Iterator[tuple[int, int]]:
        """Working intervals clipped to [start, end), touching ones merged, in order."""
        pending: tuple[int, int] | None = None
        for ordinal in range(first - 1, last + 1):
            spans = self.day(ordinal)
            for index in range(0, len(spans), 2):
                low = max(spans[index], start)
                high = min(spans[index + 1], end)
                if high <= low:
                    continue
                if pending is not None and low <= pending[1]:
                    pending = (pending[0], max(high, pending[1]))
                    continue
                if pending is not None:
                    yield pending
                pending = (low, high)
        if pending is not None:
            yield pending

    def is_working(self, at: int, day: int) -> bool:
        """Whether the instant lies inside a working interval (starts included, ends not)."""
        for ordinal in (day - 1, day):
            spans = self.day(ordinal)
            for index in range(0, len(spans), 2):
                if spans[index] <= at < spans[index + 1]:
                    return True
        return False
