"""Money: an exact `Decimal` amount in an ISO 4217 currency.

Rules:

* An amount never comes from a float. `Money` holds at most as many decimal
  places as its currency's minor unit (JPY 0, EUR 2, KWD 3); a more precise
  amount is refused, not silently rounded.
* Arithmetic refuses to mix currencies.
* Where a result needs rounding (multiplying by a rate, `Money.rounded`), the
  rule is round half to even ("banker's rounding"), which does not drift
  upwards over many roundings.
* `Money.allocate` splits an amount by ratios without losing a minor unit.
* Stored and indexed as integer minor units plus the currency code, so SQL
  sorts and sums agree with Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from math import floor
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.numbers import decimal_of

ROUNDING: Final = ROUND_HALF_EVEN
"""The rounding rule crmkit applies when an amount must be rounded."""

_MAX_MINOR = 2**63 - 1  # minor units must fit a signed 64-bit SQL integer

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
    "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
    "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}
"""Decimal places of each active ISO 4217 currency."""

_QUANTA: Final = {exp: Decimal(1).scaleb(-exp) for exp in set(MINOR_UNITS.values())}


def minor_units(currency: object) -> int:
    """Decimal places of an ISO 4217 currency code.

    >>> minor_units("JPY"), minor_units("EUR"), minor_units("KWD")
    (0, 2, 3)
    """
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise ValidationError("currency", "must be an active ISO 4217 code", currency)
    return MINOR_UNITS[currency]


def _check_amount(instance: Money, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not isinstance(value, Decimal):
        raise ValidationError("amount", "must be a Decimal", value)


@attrs.frozen(order=False)
class Money:
    """An amount of money in one currency.

    Attributes:
        amount: The amount, with at most the currency's decimal places.
        currency: Its ISO 4217 currency code.

    >>> Money.of("19.99", "EUR") * 3
    Money(amount=Decimal('59.97'), currency='EUR')
    >>> [str(part) for part in Money.of("10", "EUR").allocate([1, 1, 1])]
    ['3.34 EUR', '3.33 EUR', '3.33 EUR']
    """

    amount: Decimal = attrs.field(validator=_check_amount)
    currency: str

    def __attrs_post_init__(self) -> None:
        exp = minor_units(self.currency)
        if not self.amount.is_finite():
            raise ValidationError("amount", "must be finite", self.amount)
        try:
            exact = self.amount.quantize(_QUANTA[exp], rounding=ROUNDING)
        except InvalidOperation:
            raise ValidationError("amount", "is too large", self.amount) from None
        if exact != self.amount:
            raise ValidationError(
                "amount",
                f"must have at most {exp} decimal places for {self.currency}",
                self.amount,
            )
        if abs(exact.scaleb(exp)) > _MAX_MINOR:
            raise ValidationError("amount", "is too large", self.amount)
        object.__setattr__(self, "amount", exact)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Exact money from a `Decimal`, an int or a decimal string (never a float)."""
        return cls(decimal_of(amount, "amount"), currency)

    @classmethod
    def rounded(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Money from an amount rounded half to even to the currency's minor unit."""
        value = decimal_of(amount, "amount")
        try:
            exact = value.quantize(_QUANTA[minor_units(currency)], rounding=ROUNDING)
        except InvalidOperation:
            raise ValidationError("amount", "is too large", value) from None
        return cls(exact, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """No money in ``currency``."""
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """Money from integer minor units (cents, fils ...)."""
        if isinstance(units, bool) or not isinstance(units, int):
            raise ValidationError("amount", "minor units must be an int", units)
        return cls(Decimal(units).scaleb(-minor_units(currency)), currency)

    def to_minor(self) -> int:
        """The amount in integer minor units, as stored and indexed."""
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise ValidationError("amount", "must be Money", other)
        if other.currency != self.currency:
            raise ValidationError(
                "currency", f"cannot mix {self.currency} with {other.currency}", other.currency
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise ValidationError("factor", "must be a Decimal or an int", factor)
        value = decimal_of(factor, "factor")
        # Multiply exactly (the default context would round to 28 digits first), then
        # round once, half to even.
        digits = len(self.amount.as_tuple().digits) + len(value.as_tuple().digits) + 25
        try:
            with localcontext(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN):
                return Money.rounded(self.amount * value, self.currency)
        except ArithmeticError:
            raise ValidationError("amount", "is too large", factor) from None

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def allocate(self, ratios: Sequence[int | Decimal]) -> list[Money]:
        """Split into parts proportional to ``ratios``; the parts add up exactly.

        Leftover minor units go one each to the parts with the largest
        remainders, earlier parts first on ties.
        """
        if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence):
            raise ValidationError("ratios", "must be a list or tuple of ratios", ratios)
        weights = [Fraction(decimal_of(r, "ratios")) for r in ratios]
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValidationError("ratios", "must be non-negative with a positive sum", ratios)
        total = self.to_minor()
        whole = sum(weights)
        shares = [total * w / whole for w in weights]  # exact: no rounding before the floor
        parts = [floor(s) for s in shares]
        order = sorted(range(len(parts)), key=lambda i: (-(shares[i] - parts[i]), i))
        for i in order[: total - sum(parts)]:
            parts[i] += 1
        return [Money.from_minor(p, self.currency) for p in parts]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum of ``amounts``, all in ``currency`` (zero when there are none)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
