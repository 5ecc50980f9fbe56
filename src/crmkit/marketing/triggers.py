"""Journey triggers and their occurrences, in the recipient's own time zone.

Date triggers (`Birthday`, `Anniversary`, `Holiday`) fire at a local
wall-clock time (09:00 by default) on the contact's own calendar, so a 09:00
birthday send is 09:00 local on both sides of a DST change. Delay triggers
(`WelcomeSeries`, `Inactivity`, `QuoteNotAccepted`) fire a fixed real time
after a fact the app supplies.

**February 29.** A birthday or anniversary on February 29 is sent on
February 28 in years that are not leap years (and on February 29 in leap years).

A local time skipped by a DST change moves forward by the gap (02:30 becomes
03:30); a repeated one is the first of the two.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

import attrs
from dateutil.rrule import rrule, rrulestr

from crmkit.kernel.checks import items, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware
from crmkit.marketing.guards import Recipient, clock_text, local_instant, seconds_of

_MAX_DAYS: Final = 3660
# Holiday rules expand from a fixed anchor, so WEEKLY;INTERVAL=2 keeps its phase between calls.
_HOLIDAY_ANCHOR: Final = datetime(2000, 1, 3)
_HOLIDAY_FREQS: Final = ("YEARLY", "MONTHLY", "WEEKLY")


def _at(value: object) -> str:
    return clock_text(value, "at")


def yearly_date(month_day: date, year: int) -> date:
    """``month_day``'s month and day in ``year``; February 29 is February 28 in other years.

    >>> yearly_date(date(2000, 2, 29), 2027), yearly_date(date(2000, 2, 29), 2028)
    (datetime.date(2027, 2, 28), datetime.date(2028, 2, 29))
    """
    if month_day.month == 2 and month_day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return month_day.replace(year=year)


@attrs.frozen
class Birthday:
    """Fires every year on the contact's birthday at a local time.

    Attributes:
        at: Local wall-clock time, ``HH:MM`` (a `datetime.time` is accepted).
    """

    at: str = attrs.field(default="09:00", converter=_at)


class AnniversaryOf(StrEnum):
    """The date an `Anniversary` counts from."""

    CUSTOMER_SINCE = "customer_since"
    SIGNED_UP = "signed_up_at"


_to_of = to_enum(AnniversaryOf, "of")


def _anniversary_of(value: object) -> AnniversaryOf:
    return _to_of(value)


@attrs.frozen
class Anniversary:
    """Fires on each anniversary (first year on) of a date, at a local time.

    Attributes:
        of: ``customer_since`` (default) or ``signed_up_at`` (its local date).
        at: Local wall-clock time, ``HH:MM``.
    """

    of: AnniversaryOf = attrs.field(default=AnniversaryOf.CUSTOMER_SINCE, converter=_anniversary_of)
    at: str = attrs.field(default="09:00", converter=_at)


def _parse_rule(rule: str) -> rrule:
    try:
        parsed = rrulestr(rule, dtstart=_HOLIDAY_ANCHOR)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValidationError("rule", f"must be an RFC 5545 RRULE: {exc}", rule) from None
    if not isinstance(parsed, rrule):
        raise ValidationError("rule", "must be one RFC 5545 RRULE", rule)
    return parsed


def _rule(value: object) -> str:
    text = clean_line(value, "rule", max_len=500).upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts = dict(part.partition("=")[::2] for part in text.split(";"))
    if parts.get("FREQ") not in _HOLIDAY_FREQS:
        raise ValidationError("rule", "FREQ must be YEARLY, MONTHLY or WEEKLY", value)
    if "DTSTART" in text or "UNTIL" in parts or "COUNT" in parts:
        raise ValidationError("rule", "must not set DTSTART, UNTIL or COUNT", value)
    _parse_rule(text)
    return text


def _name(value: object) -> str:
    return clean_line(value, "name", max_len=120)


@attrs.frozen
class Holiday:
    """Fires on the dates of an RFC 5545 rule (``FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24``).

    The rule is anchored at 2000-01-03; FREQ is YEARLY, MONTHLY or WEEKLY.

    Attributes:
        rule: The RRULE text (without DTSTART, UNTIL or COUNT).
        name: The holiday's name, for example ``Christmas Eve``.
        at: Local wall-clock time, ``HH:MM``.
    """

    rule: str = attrs.field(converter=_rule)
    name: str = attrs.field(converter=_name)
    at: str = attrs.field(default="09:00", converter=_at)


def _steps(value: object) -> tuple[int, ...]:
    steps = tuple(seconds_of(step, "steps") for step in items(value, "steps"))
    if not steps or list(steps) != sorted(set(steps)):
        raise ValidationError("steps", "must be one or more increasing durations", value)
    return steps


@attrs.frozen
class WelcomeSeries:
    """Fires once per step, each a delay after ``signed_up_at`` (kept in whole seconds).

    Attributes:
        steps: Increasing delays after sign-up, in seconds (timedeltas are accepted).
    """

    steps: tuple[int, ...] = attrs.field(converter=_steps)

    @property
    def delays(self) -> tuple[timedelta, ...]:
        """``steps`` as timedeltas."""
        return tuple(timedelta(seconds=step) for step in self.steps)


def _days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_DAYS:
        raise ValidationError("days", f"must be an integer from 1 to {_MAX_DAYS}", value)
    return value


@attrs.frozen
class Inactivity:
    """Fires once, ``days`` days after the contact's last activity.

    Attributes:
        days: Days of silence.
    """

    days: int = attrs.field(converter=_days)


@attrs.frozen
class QuoteNotAccepted:
    """Fires ``days`` days after each pending quote was presented (facts from the app).

    Attributes:
        days: Days without an answer.
    """

    days: int = attrs.field(converter=_days)


Trigger = Birthday | Anniversary | Holiday | WelcomeSeries | Inactivity | QuoteNotAccepted
"""Any trigger."""

TRIGGERS: Final = (Birthday, Anniversary, Holiday, WelcomeSeries, Inactivity, QuoteNotAccepted)
"""Every trigger class."""


def _yearly(
    month_day: date, clock: str, recipient: Recipient, after: datetime, until: datetime
) -> list[datetime]:
    tz = recipient.zone
    at = time.fromisoformat(clock)
    out = []
    # One year of slack each side covers any offset between UTC and the local calendar.
    for year in range(after.astimezone(tz).year - 1, until.astimezone(tz).year + 2):
        if year <= month_day.year:
            continue  # only anniversaries (and birthdays) after the date itself
        out.append(local_instant(yearly_date(month_day, year), at, tz))
    return out


def _holiday(
    trigger: Holiday, recipient: Recipient, after: datetime, until: datetime
) -> list[datetime]:
    tz = recipient.zone
    at = time.fromisoformat(trigger.at)
    low = after.astimezone(tz).date() - timedelta(days=1)
    high = until.astimezone(tz).date() + timedelta(days=1)
    rule = _parse_rule(trigger.rule)
    days = rule.between(datetime.combine(low, time()), datetime.combine(high, time()), inc=True)
    return [local_instant(day.date(), at, tz) for day in days]


def _candidates(
    trigger: Trigger, recipient: Recipient, after: datetime, until: datetime
) -> list[datetime]:
    if isinstance(trigger, Birthday):
        if recipient.birthday is None:
            return []
        return _yearly(recipient.birthday, trigger.at, recipient, after, until)
    if isinstance(trigger, Anniversary):
        if trigger.of is AnniversaryOf.CUSTOMER_SINCE:
            since = recipient.customer_since
        else:
            signed = recipient.signed_up_at
            since = None if signed is None else signed.astimezone(recipient.zone).date()
        return [] if since is None else _yearly(since, trigger.at, recipient, after, until)
    if isinstance(trigger, Holiday):
        return _holiday(trigger, recipient, after, until)
    if isinstance(trigger, WelcomeSeries):
        start = recipient.signed_up_at
        return [] if start is None else [start + delay for delay in trigger.delays]
    if isinstance(trigger, Inactivity):
        last = recipient.last_activity_at
        return [] if last is None else [last + timedelta(days=trigger.days)]
    if isinstance(trigger, QuoteNotAccepted):
        return [p + timedelta(days=trigger.days) for p in recipient.quotes_presented_at]
    raise ValidationError("trigger", "must be a journey trigger", type(trigger).__name__)


def has_data(trigger: Trigger, recipient: Recipient) -> bool:
    """Whether ``recipient`` holds the fact ``trigger`` needs (a birthday, a sign-up ...)."""
    if isinstance(trigger, Birthday):
        return recipient.birthday is not None
    if isinstance(trigger, Anniversary):
        if trigger.of is AnniversaryOf.CUSTOMER_SINCE:
            return recipient.customer_since is not None
        return recipient.signed_up_at is not None
    if isinstance(trigger, WelcomeSeries):
        return recipient.signed_up_at is not None
    if isinstance(trigger, Inactivity):
        return recipient.last_activity_at is not None
    if isinstance(trigger, QuoteNotAccepted):
        return bool(recipient.quotes_presented_at)
    return True


def next_occurrences(
    trigger: Trigger, recipient: Recipient, after: datetime, until: datetime
) -> list[datetime]:
    """The trigger's instants ``t`` with ``after <= t < until``, sorted, in the recipient's zone.

    >>> from zoneinfo import ZoneInfo
    >>> r = Recipient("c-1", "Europe/Berlin", birthday=date(1990, 3, 30))
    >>> next_occurrences(Birthday(), r, datetime(2026, 1, 1, tzinfo=UTC),
    ...                  datetime(2027, 1, 1, tzinfo=UTC))
    [datetime.datetime(2026, 3, 30, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))]
    """
    if not isinstance(recipient, Recipient):
        raise ValidationError("recipient", "must be a Recipient", type(recipient).__name__)
    require_aware(after, "after")
    require_aware(until, "until")
    if until <= after:
        return []
    tz = recipient.zone
    found = {t for t in _candidates(trigger, recipient, after, until) if after <= t < until}
    return sorted((t.astimezone(tz) for t in found), key=lambda t: t.astimezone(UTC))
