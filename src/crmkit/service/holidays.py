"""Holidays for business calendars: single dates and recurring RFC 5545 rules.

A holiday removes a whole local day's working time from a `BusinessCalendar`
(`crmkit.service.calendar`). Hosts may pass any ``Mapping[date, str]`` instead,
for example one built by the ``holidays`` package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import attrs
from dateutil.rrule import rrule, rruleset, rrulestr

from crmkit.kernel.checks import items, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line

# Rules finer than a day would make a year's expansion iterate millions of times.
_FREQ = re.compile(r"(?:^|[;:])FREQ=(YEARLY|MONTHLY|WEEKLY|DAILY)(?:;|$)", re.IGNORECASE)
_INTERVAL = re.compile(r"(?:^|[;:])INTERVAL=(\d{1,6})(?:;|$)", re.IGNORECASE)
_COUNT = re.compile(r"(?:^|[;:])COUNT=", re.IGNORECASE)
_COARSE = re.compile(r"(?:^|[;:\n])FREQ=(?:YEARLY|MONTHLY|WEEKLY|DAILY)(?:;|$)", re.IGNORECASE)


def _day(value: object, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, "must be a date", value)
    return value


def _holiday_day(value: object) -> date:
    return _day(value, "day")


def _holiday_name(value: object) -> str:
    return clean_line(value, "name")


@attrs.frozen
class Holiday:
    """One holiday on one date.

    Attributes:
        day: The local date that has no working time.
        name: What the day is called, for example ``Tag der Deutschen Einheit``.
    """

    day: date = attrs.field(converter=_holiday_day)
    name: str = attrs.field(converter=_holiday_name)


def _since(value: object) -> date:
    return _day(value, "since")


def _rule(value: object) -> str:
    return clean_line(value, "rule", max_len=1000)


def _parse(rule: str, since: date) -> rrule | rruleset:
    try:
        parsed = rrulestr(rule, dtstart=datetime.combine(since, time()))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValidationError("rule", f"must be an RFC 5545 RRULE: {exc}", rule) from None
    if not isinstance(parsed, rrule | rruleset):
        raise ValidationError("rule", "must be an RFC 5545 RRULE", rule)
    return parsed


def _anchor(rule: str, since: date, year: int) -> date:
    """A later DTSTART that gives the same dates from ``year`` on, or ``since`` itself.

    dateutil expands a rule period by period from DTSTART, so a DTSTART decades
    back costs a step per period. Moving it forward by whole multiples of
    ``INTERVAL`` periods keeps every later period (and the defaults that DTSTART
    supplies: month, day, weekday) unchanged; ``COUNT`` counts from DTSTART, so
    a rule with one keeps ``since``.
    """
    found = _FREQ.search(rule)
    if found is None or _COUNT.search(rule) or since.year >= year - 1:
        return since
    interval = _INTERVAL.search(rule)
    step = int(interval.group(1)) if interval else 1
    if step < 1:
        return since
    freq = found.group(1).upper()
    end = date(year - 1, 1, 1)  # the new DTSTART's period ends before ``year``
    if freq == "YEARLY":
        if since.month == 2 and since.day == 29:
            return since
        return since.replace(year=since.year + (end.year - since.year) // step * step)
    if freq == "MONTHLY":
        if since.day > 28:
            return since
        months = ((end.year - since.year) * 12 + end.month - since.month) // step * step
        total = since.month - 1 + months
        return since.replace(year=since.year + total // 12, month=total % 12 + 1)
    days = 7 * step if freq == "WEEKLY" else step
    return since + timedelta(days=(end - since).days // days * days)


@attrs.frozen
class HolidayRule:
    """A recurring holiday: an RFC 5545 ``RRULE`` parsed by `dateutil.rrule.rrulestr`.

    ``FREQ`` must be ``YEARLY``, ``MONTHLY``, ``WEEKLY`` or ``DAILY``. dateutil's
    ``BYEASTER`` extension works too (``FREQ=YEARLY;BYEASTER=-2`` is Good Friday).

    >>> christmas = HolidayRule("Christmas Day", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25")
    >>> christmas.dates_in(2026)
    (datetime.date(2026, 12, 25),)

    Attributes:
        name: What the days are called.
        rule: The ``RRULE`` text, without ``DTSTART`` (``since`` gives it).
        since: The first date the rule may produce (its ``DTSTART``); it also
            anchors ``COUNT``, ``INTERVAL`` and a ``WEEKLY`` rule without ``BYDAY``.
    """

    name: str = attrs.field(converter=_holiday_name)
    rule: str = attrs.field(converter=_rule)
    since: date = attrs.field(default=date(2000, 1, 1), converter=_since)

    def __attrs_post_init__(self) -> None:
        if not _COARSE.search(self.rule):
            raise ValidationError(
                "rule", "must have FREQ=YEARLY, MONTHLY, WEEKLY or DAILY", self.rule
            )
        _parse(self.rule, self.since)

    def dates_in(self, year: int) -> tuple[date, ...]:
        """The dates the rule produces in one calendar year, in order."""
        parsed = _parse(self.rule, _anchor(self.rule, self.since, year))
        found = parsed.between(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59), inc=True)
        return tuple(sorted({moment.date() for moment in found}))


def _dates(value: object) -> tuple[Holiday, ...]:
    if isinstance(value, Mapping):
        made = []
        for key, name in value.items():
            try:
                made.append(Holiday(key, name))
            except ValidationError as exc:
                raise exc.at(f"dates[{key!s}]") from None
        value = made
    found = items(value, "dates")
    tuple_of(Holiday)(None, attrs.fields(Holidays).dates, found)
    return tuple(sorted(found, key=lambda holiday: (holiday.day, holiday.name)))


def _rules(value: object) -> tuple[HolidayRule, ...]:
    found = items(value, "rules")
    tuple_of(HolidayRule)(None, attrs.fields(Holidays).rules, found)
    return found


@attrs.frozen
class Holidays:
    """A calendar's holidays: single dates and recurring rules.

    Attributes:
        dates: Single holidays, sorted by date (a ``Mapping[date, str]`` is accepted too).
        rules: Recurring holidays.
    """

    dates: tuple[Holiday, ...] = attrs.field(default=(), converter=_dates)
    rules: tuple[HolidayRule, ...] = attrs.field(default=(), converter=_rules)

    @classmethod
    def of(cls, value: object) -> Holidays:
        """Build from `Holidays`, a ``Mapping[date, str]``, or `Holiday` and `HolidayRule` items.

        ``None`` gives no holidays.
        """
        if isinstance(value, Holidays):
            return value
        if value is None:
            return cls()
        if isinstance(value, Mapping):
            return cls(dates=value)
        found = items(value, "holidays")
        dates = [item for item in found if isinstance(item, Holiday)]
        rules = [item for item in found if isinstance(item, HolidayRule)]
        if len(dates) + len(rules) != len(found):
            bad = next(
                i for i, item in enumerate(found) if not isinstance(item, Holiday | HolidayRule)
            )
            raise ValidationError(
                f"holidays[{bad}]", "must be a Holiday or HolidayRule", found[bad]
            )
        return cls(dates=tuple(dates), rules=tuple(rules))

    def in_year(self, year: int) -> dict[date, str]:
        """Every holiday in one calendar year: date to name (names of one date joined by ``; ``)."""
        found: dict[date, list[str]] = {}
        for holiday in self.dates:
            if holiday.day.year == year:
                found.setdefault(holiday.day, []).append(holiday.name)
        for rule in self.rules:
            for day in rule.dates_in(year):
                found.setdefault(day, []).append(rule.name)
        return {day: "; ".join(names) for day, names in sorted(found.items())}

    def name_on(self, day: date) -> str | None:
        """The holiday's name on ``day``, or None on an ordinary day."""
        return self.in_year(_day(day, "day").year).get(day)
