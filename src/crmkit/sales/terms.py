"""Contract terms: durations, billing periods, billing schedules, renewal modes and amendments.

A `Term` is a whole number of years and months. Its end is exclusive: a term
of one year from 2026-01-31 runs up to (not including) 2027-01-31. Dates are
calendar dates, never datetimes.

Billing is in advance, on the anchor day of the start date: a monthly term
starting on January 31 bills on January 31, February 28 (29 in a leap year),
March 31, April 30 ... A month without the anchor day bills on its last day,
and the month after goes back to the anchor day (no drift).

>>> from datetime import date
>>> [d.isoformat() for d in billing_schedule(date(2026, 1, 31), Term(months=4), "monthly")]
['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30']
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Final

import attrs
from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, rrule

from crmkit.kernel.checks import aware, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line

MAX_TERM_MONTHS: Final = 1200
"""Longest term crmkit accepts: one hundred years."""

MAX_UPLIFT: Final = Decimal(1000)
"""Largest renewal uplift crmkit accepts, in percent."""


class BillingPeriod(StrEnum):
    """How often a recurring amount is billed."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        """The number of months in one period (1, 3 or 12)."""
        return _PERIOD_MONTHS[self]


_PERIOD_MONTHS: Final = {
    BillingPeriod.MONTHLY: 1,
    BillingPeriod.QUARTERLY: 3,
    BillingPeriod.YEARLY: 12,
}


class RenewalMode(StrEnum):
    """Whether a contract renews by itself at its end date or needs someone to renew it."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


def _count(value: object, attribute: attrs.Attribute[int], number: object) -> None:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValidationError(f"term.{attribute.name}", "must be a non-negative integer", number)


@attrs.frozen
class Term:
    """A duration of whole years and months, for contract terms and notice periods.

    ``Term(years=1)`` and ``Term(months=12)`` last as long but are different
    values (they are written as agreed); compare `total_months` to compare
    lengths.

    Attributes:
        years: Whole years.
        months: Whole months (may exceed 11).

    >>> from datetime import date
    >>> Term(years=1).end(date(2024, 2, 29))
    datetime.date(2025, 2, 28)
    """

    years: int = attrs.field(default=0, validator=_count)
    months: int = attrs.field(default=0, validator=_count)

    def __attrs_post_init__(self) -> None:
        total = self.total_months
        if not 0 < total <= MAX_TERM_MONTHS:
            raise ValidationError(
                "term", f"must last 1 to {MAX_TERM_MONTHS} months", f"{total} months"
            )

    @property
    def total_months(self) -> int:
        """The length in months."""
        return self.years * 12 + self.months

    def to_relativedelta(self) -> relativedelta:
        """The term as a `dateutil.relativedelta.relativedelta`."""
        return relativedelta(years=self.years, months=self.months)

    def end(self, start: dt.date) -> dt.date:
        """The first day after the term that begins on ``start`` (the end is exclusive).

        A month without the start's day ends on its last day instead.
        """
        day = check_date(start, "start_date")
        try:
            return day + self.to_relativedelta()
        except (ValueError, OverflowError):
            raise ValidationError("term", "must end before the year 10000", day) from None

    def before(self, end: dt.date) -> dt.date:
        """The day one term before ``end``: where a notice period counted back from it starts."""
        day = check_date(end, "end_date")
        try:
            return day - self.to_relativedelta()
        except (ValueError, OverflowError):
            raise ValidationError("notice_period", "must start after the year 1", day) from None

    def __str__(self) -> str:
        parts = [
            f"{n} {unit}{'' if n == 1 else 's'}"
            for n, unit in ((self.years, "year"), (self.months, "month"))
            if n
        ]
        return " ".join(parts)


def check_date(value: object, field: str) -> dt.date:
    """``value`` if it is a `datetime.date` (and not a datetime), else `ValidationError`."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValidationError(field, "must be a date (not a datetime)", value)
    return value


def check_term(value: object, field: str = "term") -> Term:
    """``value`` if it is a `Term`, else `ValidationError` naming ``field``."""
    if not isinstance(value, Term):
        raise ValidationError(field, "must be a Term", value)
    return value


def check_uplift(value: object, field: str = "uplift") -> Decimal:
    """A renewal uplift in percent: a Decimal, int or decimal string from 0 to `MAX_UPLIFT`."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValidationError(field, "must be a Decimal percentage", value)
    try:
        percent = Decimal(value.strip() if isinstance(value, str) else value)
    except ArithmeticError:
        raise ValidationError(field, "must be a decimal number", value) from None
    if not percent.is_finite() or not 0 <= percent <= MAX_UPLIFT:
        raise ValidationError(field, f"must be a percentage from 0 to {MAX_UPLIFT}", value)
    return percent


def uplifted(amount: Money, uplift: Decimal) -> Money:
    """``amount`` raised by ``uplift`` percent, rounded half to even to the minor unit.

    >>> str(uplifted(Money.of("1000", "JPY"), Decimal("2.5")))
    '1025 JPY'
    >>> str(uplifted(Money.of("99.99", "EUR"), Decimal("3")))
    '102.99 EUR'
    """
    if not isinstance(amount, Money):
        raise ValidationError("amount", "must be Money", amount)
    return amount * (1 + check_uplift(uplift).scaleb(-2))


def _whole_periods(term: Term, period: BillingPeriod) -> int:
    count, rest = divmod(term.total_months, period.months)
    if rest:
        raise ValidationError(
            "term", f"must be a whole number of {period.value} periods", str(term)
        )
    return count


def billing_schedule(
    start: dt.date, term: Term, period: BillingPeriod | str
) -> tuple[dt.date, ...]:
    """The bill dates of a term billed in advance every ``period``.

    The first bill is on ``start``; each later one falls on the start's day of
    the month, or on the month's last day when the month is shorter. The term
    must be a whole number of periods (`ValidationError` naming ``term``).
    """
    first = check_date(start, "start_date")
    how_often = to_enum(BillingPeriod, "billing_period")(period)
    count = _whole_periods(check_term(term), how_often)
    term.end(first)  # refuses a term that runs past the calendar
    # bymonthday=(day, -1) with bysetpos=1 picks the anchor day where the month has it, else
    # the month's last day (for day <= 28 both sets hold only the anchor day).
    rule = rrule(
        MONTHLY,
        dtstart=dt.datetime.combine(first, dt.time()),
        interval=how_often.months,
        count=count,
        bymonthday=(first.day, -1),
        bysetpos=1,
    )
    return tuple(moment.date() for moment in rule)


@attrs.frozen
class Bill:
    """One bill of a billing schedule: the amount for the period it is dated.

    Attributes:
        date: When it is billed (the first day of its period: billing is in advance).
        period_start: First day of the period it covers.
        period_end: First day after that period (exclusive); the next bill's start.
        amount: The amount billed.
    """

    date: dt.date
    period_start: dt.date
    period_end: dt.date
    amount: Money


def bills(
    start: dt.date, term: Term, period: BillingPeriod | str, amount: Money
) -> tuple[Bill, ...]:
    """The bills of a term: ``amount`` every ``period`` from ``start``, in advance.

    Each bill's period ends where the next one starts; the last ends at the term's end.
    """
    if not isinstance(amount, Money):
        raise ValidationError("amount", "must be Money", amount)
    dates = billing_schedule(start, term, period)
    ends = (*dates[1:], term.end(start))
    return tuple(Bill(day, day, end, amount) for day, end in zip(dates, ends, strict=True))


def _description(value: object) -> str:
    return clean_line(value, "description", max_len=500)


def _optional_term(value: object) -> Term | None:
    return None if value is None else check_term(value, "notice_period")


def _optional_renewal(value: object) -> RenewalMode | None:
    return None if value is None else to_enum(RenewalMode, "renewal")(value)


def _optional_uplift(value: object) -> Decimal | None:
    return None if value is None else check_uplift(value)


@attrs.frozen
class Amendment:
    """An agreed change to a contract's terms; None leaves a term as it was.

    Attributes:
        at: When it was agreed (timezone-aware).
        description: What was agreed and why, in a line.
        amount: The new amount per billing period.
        notice_period: The new notice period.
        renewal: The new renewal mode.
        uplift: The new renewal uplift, in percent.
    """

    at: dt.datetime = attrs.field(validator=aware())
    description: str = attrs.field(converter=_description)
    amount: Money | None = attrs.field(default=None, validator=of_type(Money, optional=True))
    notice_period: Term | None = attrs.field(default=None, converter=_optional_term)
    renewal: RenewalMode | None = attrs.field(default=None, converter=_optional_renewal)
    uplift: Decimal | None = attrs.field(default=None, converter=_optional_uplift)

    def __attrs_post_init__(self) -> None:
        if not self.changes:
            raise ValidationError("changes", "must change at least one term")

    @property
    def changes(self) -> tuple[str, ...]:
        """Names of the terms this amendment changes."""
        names = ("amount", "notice_period", "renewal", "uplift")
        return tuple(name for name in names if getattr(self, name) is not None)
