"""Pricing: exact totals to the minor unit, checked against an independent Decimal oracle."""

import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.pricing import Line, TaxLine, TaxRate, Totals, check_percent, totals
from crmkit.testing._strategies_quotes import document_lines, percents

CURRENCIES = ("JPY", "EUR", "KWD")
VAT = TaxRate("vat19", Decimal("0.19"))
VAT_IN = TaxRate("vat19_in", Decimal("0.19"), inclusive=True)


def _round(value: Decimal, currency: str) -> Decimal:
    """The oracle: quantize half to even at generous precision."""
    with localcontext(prec=80):
        return value.quantize(Decimal(1).scaleb(-minor_units(currency)), ROUND_HALF_EVEN)


def _whole_minor_units(money: Money) -> bool:
    exp = minor_units(money.currency)
    return money.amount == money.amount.quantize(Decimal(1).scaleb(-exp))


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    currency=st.sampled_from(CURRENCIES),
    order_discount=percents(),
)
def test_total_is_lines_less_discounts_plus_tax_exact_to_the_minor_unit(
    data: st.DataObject, currency: str, order_discount: Decimal
) -> None:
    lines = data.draw(document_lines(currency, max_size=6))
    result = totals(lines, currency, order_discount=order_discount)
    figures = [result.subtotal, result.discount, result.net, result.tax, result.total]
    figures += [result.order_discount, *result.line_nets]
    figures += [m for row in result.tax_by_rate for m in (row.base, row.tax)]
    assert all(m.currency == currency and _whole_minor_units(m) for m in figures)

    with localcontext(prec=80):
        line_nets = [
            _round(line.quantity * line.unit_price.amount * (100 - line.discount) / 100, currency)
            for line in lines
        ]
        gross = [_round(line.quantity * line.unit_price.amount, currency) for line in lines]
        cut = _round(sum(line_nets, Decimal(0)) * order_discount / 100, currency)
    assert [line.net.amount for line in lines] == line_nets
    assert result.subtotal.amount == sum(gross, Decimal(0))
    assert result.order_discount.amount == cut
    # the order discount is spread exactly: discounted line nets add up to the net
    assert sum((m.amount for m in result.line_nets), Decimal(0)) == result.net.amount
    assert result.net.amount == sum(line_nets, Decimal(0)) - cut
    assert all(0 <= d.amount <= n for d, n in zip(result.line_nets, line_nets, strict=True))
    assert result.subtotal - result.discount == result.net

    exclusive = Decimal(0)
    for row in result.tax_by_rate:
        base = sum(
            (n.amount for line, n in zip(lines, result.line_nets, strict=True)
             if line.tax == row.rate),
            Decimal(0),
        )  # fmt: skip
        assert row.base.amount == base
        with localcontext(prec=80):
            if row.rate.inclusive:
                assert row.tax.amount == base - _round(base / (1 + row.rate.rate), currency)
            else:
                assert row.tax.amount == _round(base * row.rate.rate, currency)
                exclusive += row.tax.amount
    taxed = {line.tax.code for line in lines if line.tax is not None}
    assert [row.rate.code for row in result.tax_by_rate] == sorted(taxed)
    assert result.tax.amount == sum((row.tax.amount for row in result.tax_by_rate), Decimal(0))
    assert result.total.amount == result.net.amount + exclusive
    assert result.exclusive_tax.amount == exclusive


def test_line_net_rounds_once_half_to_even() -> None:
    # 3 × 0.13 × 50% = 0.195 -> 0.20; 0.5 × 0.25 = 0.125 -> 0.12; 1.5 × 0.25 = 0.375 -> 0.38
    assert Line(None, "x", 3, Money.of("0.13", "EUR"), "50").net == Money.of("0.20", "EUR")
    assert Line(None, "x", "0.5", Money.of("0.25", "EUR")).net == Money.of("0.12", "EUR")
    assert Line(None, "x", "1.5", Money.of("0.25", "EUR")).net == Money.of("0.38", "EUR")


def test_inclusive_tax_is_extracted_from_the_gross() -> None:
    line = Line("p-1", "Book", 1, Money.of("119.00", "EUR"), tax=VAT_IN)
    result = totals([line], "EUR")
    assert result.tax == Money.of("19.00", "EUR")
    assert result.net == result.total == Money.of("119.00", "EUR")
    assert result.tax_by_rate == (TaxLine(VAT_IN, Money.of("119.00", "EUR"), result.tax),)


def test_exclusive_tax_is_rounded_once_per_rate_not_per_line() -> None:
    # per line 0.03 × 0.19 = 0.0057 -> 0.01, ten lines 0.10; per rate 0.30 × 0.19 = 0.057 -> 0.06
    lines = [Line(None, "x", 1, Money.of("0.03", "EUR"), tax=VAT)] * 10
    result = totals(lines, "EUR")
    assert result.tax == Money.of("0.06", "EUR")
    assert result.total == Money.of("0.36", "EUR")


def test_order_discount_is_allocated_so_line_nets_add_up() -> None:
    lines = [Line(None, "x", 1, Money.of("1", "JPY"))] * 3
    result = totals(lines, "JPY", order_discount=50)
    assert result.order_discount == Money.of(2, "JPY")  # 1.5 -> 2
    assert sorted(m.amount for m in result.line_nets) == [0, 0, 1]
    assert result.net == Money.of(1, "JPY")


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        totals([Line(None, "x", 1, Money.of("1", "USD"))], "EUR")
    assert info.value.field == "lines[0].unit_price"


def test_one_code_with_two_rates_is_refused() -> None:
    other = TaxRate("vat19", Decimal("0.07"))
    one = Money.of(1, "EUR")
    lines = [Line(None, "a", 1, one, tax=VAT), Line(None, "b", 1, one, tax=other)]
    with pytest.raises(ValidationError) as info:
        totals(lines, "EUR")
    assert info.value.field == "lines[1].tax"


def test_no_lines_give_zero_totals() -> None:
    result = totals([], "KWD", order_discount=10)
    assert result.total == result.net == result.tax == Money.zero("KWD")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": "NaN"}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"discount": 101}, "discount"),
        ({"discount": -1}, "discount"),
        ({"unit_price": Money.of("-1", "EUR")}, "unit_price"),
        ({"unit_price": "1.00"}, "unit_price"),
        ({"description": ""}, "description"),
        ({"product_id": "has space"}, "product_id"),
        ({"tax": "vat"}, "tax"),
    ],
)
def test_bad_lines_name_the_field(kwargs: dict[str, object], field: str) -> None:
    given: dict[str, object] = {"product_id": None, "description": "x", "quantity": 1}
    given |= {"unit_price": Money.of(1, "EUR"), "discount": 0, "tax": None} | kwargs
    with pytest.raises(ValidationError) as info:
        Line(**given)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize("bad", [Decimal(-1), Decimal(10), 0.19, "x", None])
def test_bad_tax_rates_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        TaxRate("vat", bad)


def test_bad_totals_arguments_raise_validation_errors() -> None:
    with pytest.raises(ValidationError):
        totals([], "XXX")
    with pytest.raises(ValidationError):
        totals("lines", "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        totals([object()], "EUR")  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        check_percent("150")


@pytest.mark.parametrize("currency", CURRENCIES)
def test_lines_and_totals_round_trip(currency: str) -> None:
    conv = make_converter()
    price = Money.from_minor(12345, currency)
    lines = [Line("p-1", "A", "2.5", price, "12.5", VAT), Line(None, "B", 1, price, 0, VAT_IN)]
    result = totals(lines, currency, order_discount=3)
    for value, cls in [(lines[0], Line), (VAT, TaxRate), (result, Totals)]:
        data = conv.unstructure(value)
        assert structure(conv, data, cls) == value
        assert Loaders().load(cls, json.loads(dumps(data))) == value
