"""Reporting periods, shared by every analytics report.

A `Period` is a week (ISO, starting on Monday), a month, a quarter or a year.
An instant belongs to the period holding its calendar day in the zone the
caller passes (UTC by default): `period_start`. A calendar day (a close date)
needs no zone: `first_day`. `period_label` names a period for display:
``2026-W09``, ``2026-03``, ``2026-Q1`` or ``2026``.

>>> from datetime import UTC
>>> late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
>>> period_start(late, Period.MONTH, "Europe/Berlin")
datetime.date(2026, 4, 1)
>>> first_day(date(2026, 2, 14), Period.QUARTER), period_label(date(2026, 2, 14), Period.QUARTER)
(datetime.date(2026, 1, 1), '2026-Q1')
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import require_aware, zone as _zone_named

__all__ = ["Period", "check_period", "check_zone", "first_day", "period_label", "period_start"]


class Period(StrEnum):
    """The length of a reporting period."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_to_period = to_enum(Period, "period")


def check_period(value: object) -> Period:
    """A `Period` from itself or its name; `ValidationError` naming ``period`` else."""
    return _to_period(value)


def check_zone(value: object) -> tzinfo:
    """A time zone from a `tzinfo` (such as a `ZoneInfo`) or an IANA name such as ``Europe/Berlin``.

    Anything else, or an unknown name, raises `ValidationError` naming ``zone``.
    """
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        return _zone_named(value, "zone")
    raise ValidationError("zone", "must be a tzinfo or an IANA time zone name", value)


def first_day(day: date, period: Period) -> date:
    """The first day of the ``period`` holding calendar day ``day``."""
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def period_start(at: datetime, period: Period | str, zone: tzinfo | str = UTC) -> date:
    """The first day of the ``period`` holding instant ``at``, on the calendar of ``zone``."""
    local = require_aware(at, "at").astimezone(check_zone(zone))
    return first_day(local.date(), check_period(period))


def period_label(day: date, period: Period) -> str:
    """The label of the period holding ``day``: ``2026-W09``, ``2026-03``, ``2026-Q1``, ``2026``."""
    if period is Period.MONTH:
        return f"{day.year:04d}-{day.month:02d}"
    if period is Period.QUARTER:
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if period is Period.YEAR:
        return f"{day.year:04d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"
