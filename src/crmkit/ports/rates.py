"""The exchange-rate port: how many units of one currency buy one unit of another.

Reports that add up amounts in several currencies convert each amount into
one reporting currency through an `ExchangeRates` the host supplies (a table,
a central bank feed, a treasury system). crmkit ships `FixedRates`
(`crmkit.adapters.fixed_rates`), an in-memory table.

A rate is a positive `Decimal`: ``rate("USD", "EUR", day)`` is the number of
euros one US dollar buys on ``day``. An implementation raises `RateMissing`
when it has no rate for the pair on that day, never a `KeyError`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.kernel.money import MINOR_UNITS


def check_currency(value: object, field: str) -> str:
    """An active ISO 4217 code, else `ValidationError` naming ``field``."""
    if not isinstance(value, str) or value not in MINOR_UNITS:
        raise ValidationError(field, "must be an active ISO 4217 code", value)
    return value


def check_day(value: object, field: str = "on") -> date:
    """A calendar day (a `date`, not a `datetime`), else `ValidationError` naming ``field``."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(field, "must be a date", value)
    return value


class RateMissing(CrmError, LookupError):
    """No exchange rate is known for a currency pair on a day.

    Attributes:
        source: The ISO 4217 code converted from.
        target: The ISO 4217 code converted to.
        on: The day the rate was asked for.
    """

    def __init__(self, source: str, target: str, on: date):
        self.source = source
        self.target = target
        self.on = on
        super().__init__(f"no exchange rate {source}->{target} on {on.isoformat()}")


@runtime_checkable
class ExchangeRates(Protocol):
    """A source of exchange rates (ISO 4217 codes)."""

    def rate(self, source: str, target: str, on: date) -> Decimal:
        """Units of ``target`` that one unit of ``source`` buys on ``on``.

        Raises `RateMissing` naming the pair and the day when there is none.
        """
        ...
