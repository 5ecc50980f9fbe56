"""Pricing: tax rates, priced lines and exact totals.

The rounding rule, which every figure follows (half to even, the kernel's
`crmkit.kernel.money.ROUNDING`):

1. Each line's net (quantity × unit price, less the line's discount percent) is
   computed exactly and rounded once to the currency's minor unit.
2. The order discount is a percentage of the sum of the line nets, rounded once,
   then split across the lines in proportion to their nets with
   `Money.allocate`, so the discounted line nets add up exactly.
3. Tax is computed per tax rate on the sum of the discounted nets of the lines
   with that rate, and rounded once per rate. An exclusive rate adds
   ``base × rate``; an inclusive rate extracts the tax from the gross base:
   ``net = base / (1 + rate)``, ``tax = base − net``.
4. ``net`` is the sum of the discounted line nets *as priced* (so lines with an
   inclusive rate contribute their tax-inclusive amount), and
   ``total = net + exclusive tax``.

Every figure is therefore a whole number of minor units and the identities
``subtotal − discount == net`` and ``net + exclusive tax == total`` hold exactly.

>>> vat = TaxRate("vat19", Decimal("0.19"))
>>> line = Line(None, "Consulting", Decimal(3), Money.of("100.00", "EUR"), Decimal(10), vat)
>>> line.net
Money(amount=Decimal('270.00'), currency='EUR')
>>> t = totals([line], "EUR", order_discount=Decimal(5))
>>> str(t.net), str(t.tax), str(t.total)
('256.50 EUR', '48.74 EUR', '305.24 EUR')
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

import attrs

from crmkit.kernel.checks import items, of_type, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import ProductId, check_id
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.numbers import decimal_of
from crmkit.kernel.text import clean_line, clean_text

_MAX_QUANTITY = Decimal(10) ** 12
_MAX_PLACES = 6  # quantities, percents and rates: at most six decimal places


def to_decimal(value: object, field: str) -> Decimal:
    """A finite `Decimal` from a Decimal, an int or a decimal string (never a float or bool)."""
    result = decimal_of(value, field)
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_PLACES:
        raise ValidationError(field, f"must have at most {_MAX_PLACES} decimal places", value)
    return result


def check_percent(value: object, field: str = "discount") -> Decimal:
    """A percentage from 0 to 100 inclusive (for example ``Decimal("12.5")``)."""
    result = to_decimal(value, field)
    if not 0 <= result <= 100:
        raise ValidationError(field, "must be a percentage from 0 to 100", value)
    return result


def _rate(value: object) -> Decimal:
    result = to_decimal(value, "rate")
    if not 0 <= result < 10:
        raise ValidationError("rate", "must be a fraction from 0 (e.g. 0.19 for 19%)", value)
    return result


def _code(value: object) -> str:
    return clean_line(value, "code", max_len=40)


@attrs.frozen
class TaxRate:
    """A tax rate, such as VAT at 19%.

    Attributes:
        code: Short name that identifies the rate, for example ``de_vat_19``.
        rate: The rate as a fraction: ``Decimal("0.19")`` is 19%.
        inclusive: Whether prices already include the tax (it is then extracted).
    """

    code: str = attrs.field(converter=_code)
    rate: Decimal = attrs.field(converter=_rate)
    inclusive: bool = attrs.field(default=False, validator=of_type(bool))


def _product_id(value: object) -> ProductId | None:
    return None if value is None else ProductId(check_id(value, "product_id"))


def _description(value: object) -> str:
    return clean_text(value, "description", max_len=2000, allow_empty=False)


def _quantity(value: object) -> Decimal:
    result = to_decimal(value, "quantity")
    if not 0 < result < _MAX_QUANTITY:
        raise ValidationError("quantity", "must be greater than 0 and below 10**12", value)
    return result


def _unit_price(instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError("unit_price", "must be Money", value)
    if value.amount < 0:
        raise ValidationError("unit_price", "must not be negative", value)


def _discount(value: object) -> Decimal:
    return check_percent(value, "discount")


def _exact(value: Fraction, currency: str) -> Money:
    """``value`` rounded half to even to the currency's minor unit (`round` on a Fraction)."""
    return Money.from_minor(round(value * 10 ** minor_units(currency)), currency)


@attrs.frozen
class Line:
    """One priced line of a quote or an opportunity.

    Attributes:
        product_id: The catalogue product, or None for a free-text line.
        description: What is sold.
        quantity: How many units; greater than zero.
        unit_price: Price of one unit (tax-inclusive when ``tax`` is inclusive); not negative.
        discount: Line discount in percent, 0 to 100.
        tax: The tax rate that applies, or None.
    """

    product_id: ProductId | None = attrs.field(converter=_product_id)
    description: str = attrs.field(converter=_description)
    quantity: Decimal = attrs.field(converter=_quantity)
    unit_price: Money = attrs.field(validator=_unit_price)
    discount: Decimal = attrs.field(default=Decimal(0), converter=_discount)
    tax: TaxRate | None = attrs.field(default=None, validator=of_type(TaxRate, optional=True))

    @property
    def currency(self) -> str:
        """The currency of the unit price."""
        return self.unit_price.currency

    @property
    def gross(self) -> Money:
        """Quantity × unit price before the line discount, rounded to the minor unit."""
        return _exact(Fraction(self.quantity) * Fraction(self.unit_price.amount), self.currency)

    @property
    def net(self) -> Money:
        """Quantity × unit price less the line discount, rounded once to the minor unit."""
        keep = 1 - Fraction(self.discount) / 100
        exact = Fraction(self.quantity) * Fraction(self.unit_price.amount) * keep
        return _exact(exact, self.currency)


@attrs.frozen
class TaxLine:
    """The tax of one rate over the lines that carry it.

    Attributes:
        rate: The tax rate.
        base: Sum of the discounted nets of its lines (tax-inclusive for an inclusive rate).
        tax: The tax, rounded once for the rate.
    """

    rate: TaxRate = attrs.field(validator=of_type(TaxRate))
    base: Money = attrs.field(validator=of_type(Money))
    tax: Money = attrs.field(validator=of_type(Money))


@attrs.frozen
class Totals:
    """Every figure of a priced document, exact to the minor unit.

    Attributes:
        subtotal: Sum of the lines' gross amounts (quantity × unit price).
        discount: Line discounts plus the order discount.
        net: ``subtotal − discount``: the sum of the discounted line nets, as priced.
        tax: All tax, inclusive and exclusive.
        total: ``net + exclusive tax``: what the customer pays.
        tax_by_rate: One entry per tax rate, sorted by code.
        order_discount: The order discount's amount (part of ``discount``).
        line_nets: Each line's net after its share of the order discount, in line order.
    """

    subtotal: Money = attrs.field(validator=of_type(Money))
    discount: Money = attrs.field(validator=of_type(Money))
    net: Money = attrs.field(validator=of_type(Money))
    tax: Money = attrs.field(validator=of_type(Money))
    total: Money = attrs.field(validator=of_type(Money))
    tax_by_rate: tuple[TaxLine, ...] = attrs.field(validator=tuple_of(TaxLine))
    order_discount: Money = attrs.field(validator=of_type(Money))
    line_nets: tuple[Money, ...] = attrs.field(validator=tuple_of(Money))

    @property
    def exclusive_tax(self) -> Money:
        """Tax added on top of the net (``total − net``)."""
        return self.total - self.net


def totals(
    lines: Iterable[Line], currency: str, *, order_discount: Decimal | int | str = Decimal(0)
) -> Totals:
    """The exact totals of ``lines`` in ``currency`` (see the module's rounding rule).

    Raises `ValidationError` when a line is not a `Line`, a line's currency differs
    from ``currency``, two rates share a code, or ``order_discount`` is no percentage.
    """
    rows: tuple[Line, ...] = items(lines, "lines")
    minor_units(currency)
    percent = check_percent(order_discount, "order_discount")
    for index, line in enumerate(rows):
        if not isinstance(line, Line):
            raise ValidationError(f"lines[{index}]", "must be a Line", line)
        if line.currency != currency:
            raise ValidationError(
                f"lines[{index}].unit_price", f"must be in {currency}", line.currency
            )
    zero = Money.zero(currency)
    nets = [line.net for line in rows]
    net_sum = sum(nets, zero)
    cut = _exact(Fraction(net_sum.amount) * Fraction(percent) / 100, currency)
    if cut.amount and net_sum.amount:
        shares = cut.allocate([n.amount for n in nets])
    else:
        shares = [zero for _ in nets]
    line_nets = tuple(n - s for n, s in zip(nets, shares, strict=True))
    subtotal = sum((line.gross for line in rows), zero)
    net = sum(line_nets, zero)
    tax_lines, tax, exclusive = _taxes(rows, line_nets, currency)
    return Totals(
        subtotal=subtotal,
        discount=subtotal - net,
        net=net,
        tax=tax,
        total=net + exclusive,
        tax_by_rate=tax_lines,
        order_discount=cut,
        line_nets=line_nets,
    )


def _taxes(
    rows: tuple[Line, ...], line_nets: tuple[Money, ...], currency: str
) -> tuple[tuple[TaxLine, ...], Money, Money]:
    """Tax lines per rate, all tax, and exclusive tax only."""
    zero = Money.zero(currency)
    bases: dict[str, tuple[TaxRate, Money]] = {}
    for index, (line, amount) in enumerate(zip(rows, line_nets, strict=True)):
        if line.tax is None:
            continue
        known = bases.get(line.tax.code)
        if known is not None and known[0] != line.tax:
            raise ValidationError(
                f"lines[{index}].tax", "must not reuse a code with another rate", line.tax.code
            )
        bases[line.tax.code] = (line.tax, amount + (known[1] if known else zero))
    tax_lines = []
    tax = exclusive = zero
    for code in sorted(bases):
        rate, base = bases[code]
        factor = Fraction(rate.rate)
        if rate.inclusive:
            amount = base - _exact(Fraction(base.amount) / (1 + factor), currency)
        else:
            amount = _exact(Fraction(base.amount) * factor, currency)
            exclusive = exclusive + amount
        tax = tax + amount
        tax_lines.append(TaxLine(rate, base, amount))
    return tuple(tax_lines), tax, exclusive
