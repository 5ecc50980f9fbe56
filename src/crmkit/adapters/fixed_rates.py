"""`FixedRates`: an in-memory table of exchange rates, for tests, demos and small hosts.

Each `Rate` holds a currency pair, the rate and, optionally, the first day it
applies (``since``). Asked for a pair on a day, the table answers:

1. ``1`` for the same currency;
2. the pair's latest rate whose ``since`` is on or before the day (a rate
   without ``since`` applies from the beginning of time);
3. else ``1 / rate`` of the opposite pair found the same way, to 28
   significant digits;
4. else it raises `RateMissing` naming the pair and the day.

>>> from datetime import date
>>> rates = FixedRates.of({("USD", "EUR"): "0.90"})
>>> rates.rate("USD", "EUR", date(2026, 1, 1))
Decimal('0.90')
>>> rates.rate("EUR", "EUR", date(2026, 1, 1))
Decimal('1')
>>> rates.rate("EUR", "USD", date(2026, 1, 1))
Decimal('1.111111111111111111111111111')
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, localcontext
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.numbers import decimal_of
from crmkit.ports.rates import RateMissing, check_currency, check_day

_PRECISION: Final = 28


def _source(value: object) -> str:
    return check_currency(value, "source")


def _target(value: object) -> str:
    return check_currency(value, "target")


def _rate(value: object) -> Decimal:
    result = decimal_of(value, "rate")
    if result <= 0:
        raise ValidationError("rate", "must be positive", value)
    return result


def _since(value: object) -> date | None:
    return None if value is None else check_day(value, "since")


@attrs.frozen
class Rate:
    """One exchange rate of a `FixedRates` table.

    Attributes:
        source: The currency converted from (ISO 4217).
        target: The currency converted to (ISO 4217), not ``source``.
        rate: Units of ``target`` that one unit of ``source`` buys; positive.
        since: The first day the rate applies, or None for always.
    """

    source: str = attrs.field(converter=_source)
    target: str = attrs.field(converter=_target)
    rate: Decimal = attrs.field(converter=_rate)
    since: date | None = attrs.field(default=None, converter=_since)

    def __attrs_post_init__(self) -> None:
        if self.source == self.target:
            raise ValidationError("target", "must differ from source", self.target)


class FixedRates:
    """An in-memory `ExchangeRates`: a table of `Rate` rows, optionally dated."""

    def __init__(self, rates: Iterable[Rate] = ()) -> None:
        if isinstance(rates, str | bytes | Mapping) or not isinstance(rates, Iterable):
            raise ValidationError("rates", "must be an iterable of Rate", type(rates).__name__)
        table: dict[tuple[str, str], dict[int, Decimal]] = {}
        for index, row in enumerate(rates):
            if not isinstance(row, Rate):
                raise ValidationError(f"rates[{index}]", "must be a Rate", type(row).__name__)
            days = table.setdefault((row.source, row.target), {})
            # A rate without a start day sorts before every dated one.
            day = 0 if row.since is None else row.since.toordinal()
            if day in days:
                raise ValidationError(
                    f"rates[{index}]", "must not repeat a pair and start day", row.since
                )
            days[day] = row.rate
        self._days: dict[tuple[str, str], list[int]] = {}
        self._rates: dict[tuple[str, str], list[Decimal]] = {}
        for pair, days in table.items():
            ordered = sorted(days)
            self._days[pair] = ordered
            self._rates[pair] = [days[d] for d in ordered]

    @classmethod
    def of(cls, table: Mapping[tuple[str, str], Decimal | int | str]) -> FixedRates:
        """Undated rates from a mapping of ``(source, target)`` to rate."""
        if not isinstance(table, Mapping):
            raise ValidationError("table", "must be a mapping of (source, target) to rate", table)
        rows: list[Rate] = []
        for key, value in table.items():
            if not isinstance(key, tuple) or len(key) != 2:
                raise ValidationError("table", "keys must be (source, target) pairs", key)
            rows.append(Rate(key[0], key[1], value))
        return cls(rows)

    def rate(self, source: str, target: str, on: date) -> Decimal:
        """Units of ``target`` one unit of ``source`` buys on ``on`` (see the module rules)."""
        check_currency(source, "source")
        check_currency(target, "target")
        check_day(on)
        if source == target:
            return Decimal(1)
        direct = self._lookup((source, target), on)
        if direct is not None:
            return direct
        inverse = self._lookup((target, source), on)
        if inverse is not None:
            with localcontext(prec=_PRECISION):
                return Decimal(1) / inverse
        raise RateMissing(source, target, on)

    def _lookup(self, pair: tuple[str, str], on: date) -> Decimal | None:
        days = self._days.get(pair)
        if days is None:
            return None
        index = bisect_right(days, on.toordinal())
        return None if index == 0 else self._rates[pair][index - 1]
