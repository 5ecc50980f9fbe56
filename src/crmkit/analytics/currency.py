"""Converting money into one reporting currency through an `ExchangeRates`.

`convert` multiplies exactly by the rate and rounds once, half to even, to the
target currency's minor unit. `ReportingCurrency` does the same for many
amounts on one day, asking the rates once per source currency.

>>> from datetime import date
>>> from crmkit.adapters.fixed_rates import FixedRates
>>> rates = FixedRates.of({("USD", "EUR"): "0.9"})
>>> str(convert(Money.of("100.05", "USD"), "EUR", date(2026, 1, 1), rates))
'90.04 EUR'
"""

from __future__ import annotations

from datetime import date
from decimal import MAX_EMAX, MIN_EMIN, Decimal, localcontext

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.ports.rates import ExchangeRates, check_currency, check_day


def _check_rates(rates: object) -> ExchangeRates:
    if not isinstance(rates, ExchangeRates):
        raise ValidationError("rates", "must be an ExchangeRates (with a rate method)", rates)
    return rates


def _checked_rate(value: object, source: str, target: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValidationError("rate", f"{source}->{target} must be a positive Decimal", value)
    return value


def _times(money: Money, rate: Decimal, target: str) -> Money:
    # Multiply exactly (the default context would round to 28 digits first), round once.
    digits = len(money.amount.as_tuple().digits) + len(rate.as_tuple().digits) + 25
    try:
        with localcontext(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN):
            return Money.rounded(money.amount * rate, target)
    except ArithmeticError:
        raise ValidationError("amount", "is too large to convert", money) from None


def convert(money: Money, target: str, on: date, rates: ExchangeRates) -> Money:
    """``money`` in ``target`` at the rate of day ``on``, rounded half-even to its minor unit.

    Raises `ValidationError` (naming ``money``, ``target``, ``on``, ``rates`` or
    ``rate``) on bad input and `RateMissing` when the rates know no rate.
    """
    if not isinstance(money, Money):
        raise ValidationError("money", "must be Money", money)
    check_currency(target, "target")
    check_day(on)
    _check_rates(rates)
    if money.currency == target:
        return money
    rate = _checked_rate(rates.rate(money.currency, target, on), money.currency, target)
    return _times(money, rate, target)


class ReportingCurrency:
    """Converts many amounts into ``currency`` at the rates of day ``on``.

    Asks ``rates`` once per source currency (a report converts thousands of
    amounts in a handful of currencies).

    Attributes:
        currency: The reporting currency (ISO 4217).
        on: The day whose rates apply.
    """

    def __init__(self, currency: str, rates: ExchangeRates, on: date) -> None:
        self.currency = check_currency(currency, "currency")
        self.on = check_day(on)
        self._rates = _check_rates(rates)
        self._cache: dict[str, Decimal] = {}

    def zero(self) -> Money:
        """No money in the reporting currency."""
        return Money.zero(self.currency)

    def __call__(self, money: Money) -> Money:
        """``money`` in the reporting currency, rounded half-even to its minor unit."""
        if not isinstance(money, Money):
            raise ValidationError("money", "must be Money", money)
        if money.currency == self.currency:
            return money
        rate = self._cache.get(money.currency)
        if rate is None:
            given = self._rates.rate(money.currency, self.currency, self.on)
            rate = _checked_rate(given, money.currency, self.currency)
            self._cache[money.currency] = rate
        return _times(money, rate, self.currency)
