"""Day counts of the sales reports (cycle lengths, time in stage).

Durations are `Decimal` days rounded half to even to 2 decimal places. Periods
live in `crmkit.analytics.periods`; ratios are rounded half to even to 4 places
as in every analytics report.

>>> days(timedelta(days=1, hours=12)), round_days(Decimal("2.345"))
(Decimal('1.5'), Decimal('2.34'))
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import median
from typing import Final

DAY_PLACES: Final = Decimal("0.01")
"""Day counts are rounded half to even to this quantum (2 decimal places)."""

_DAY_MICROS: Final = Decimal(86_400_000_000)


def days(span: timedelta) -> Decimal:
    """A duration in exact `Decimal` days (not rounded)."""
    return Decimal(span // timedelta(microseconds=1)) / _DAY_MICROS


def round_days(value: Decimal) -> Decimal:
    """Days rounded half-even to 2 decimal places."""
    return value.quantize(DAY_PLACES, rounding=ROUND_HALF_EVEN)


def mean_median(values: list[Decimal]) -> tuple[Decimal | None, Decimal | None]:
    """Mean and median of exact day counts, each rounded to 2 places; None, None if empty."""
    if not values:
        return None, None
    mean = sum(values, Decimal(0)) / len(values)
    return round_days(mean), round_days(median(values))
