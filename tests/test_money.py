"""Money: minor units, no floats, no mixed currencies, half-even rounding, exact allocation."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from crmkit import Money, ValidationError
from crmkit.kernel.money import MINOR_UNITS, minor_units, total
from crmkit.testing.strategies import MAX_MINOR, currencies, money


@pytest.mark.parametrize(
    ("currency", "places", "fine", "too_precise"),
    [
        ("JPY", 0, "1500", "1500.5"),
        ("EUR", 2, "19.99", "19.999"),
        ("KWD", 3, "1.005", "1.0005"),
    ],
)
def test_minor_units_decide_the_allowed_places(
    currency: str, places: int, fine: str, too_precise: str
) -> None:
    assert minor_units(currency) == places
    amount = Money.of(fine, currency)
    assert amount.amount.as_tuple().exponent == -places
    assert amount.to_minor() == int(Decimal(fine).scaleb(places))
    with pytest.raises(ValidationError) as info:
        Money.of(too_precise, currency)
    assert info.value.field == "amount"
    assert f"at most {places} decimal places" in info.value.rule


def test_amounts_are_padded_to_the_minor_unit() -> None:
    assert str(Money.of("5", "EUR")) == "5.00 EUR"
    assert str(Money.of("5", "KWD")) == "5.000 KWD"
    assert str(Money.of(5, "JPY")) == "5 JPY"
    assert Money.of("1.1", "EUR") == Money.of("1.10", "EUR")


@pytest.mark.parametrize("bad", [1.5, 0.1, float("nan"), True])
def test_floats_and_bools_are_refused_everywhere(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"float|Decimal"):
        Money.of(bad, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money.rounded(bad, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(bad, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="factor"):
        Money.of("1", "EUR") * bad  # type: ignore[operator]
    with pytest.raises(ValidationError):
        Money.of("1", "EUR").allocate([bad, 1])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "sNaN", "1e", "", "one"])
def test_non_finite_and_non_numeric_text_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        Money.of(bad, "EUR")
    assert info.value.field == "amount"


@pytest.mark.parametrize("code", ["eur", "EURO", "XXX", "", None, 978])
def test_unknown_currency_codes_are_refused(code: object) -> None:
    with pytest.raises(ValidationError) as info:
        Money.of("1", code)  # type: ignore[arg-type]
    assert info.value.field == "currency"


def test_mixed_currencies_are_refused() -> None:
    eur, usd = Money.of("1", "EUR"), Money.of("1", "USD")
    for operation in (
        lambda: eur + usd,
        lambda: eur - usd,
        lambda: eur < usd,
        lambda: eur <= usd,
        lambda: eur > usd,
        lambda: eur >= usd,
        lambda: total([eur, usd], "EUR"),
    ):
        with pytest.raises(ValidationError, match="cannot mix EUR with USD"):
            operation()


def test_arithmetic_within_one_currency() -> None:
    a, b = Money.of("10.25", "EUR"), Money.of("0.75", "EUR")
    assert a + b == Money.of("11", "EUR")
    assert a - b == Money.of("9.50", "EUR")
    assert -a == Money.of("-10.25", "EUR")
    assert b < a
    assert a >= b
    assert total([a, b, b], "EUR") == Money.of("11.75", "EUR")
    assert total([], "JPY") == Money.zero("JPY")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "EUR", "0.12"),
        ("0.135", "EUR", "0.14"),
        ("-0.125", "EUR", "-0.12"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1.0005", "KWD", "1.000"),
        ("1.0015", "KWD", "1.002"),
    ],
)
def test_rounded_rounds_half_to_even(amount: str, currency: str, expected: str) -> None:
    assert Money.rounded(amount, currency) == Money.of(expected, currency)


def test_multiplying_rounds_half_to_even() -> None:
    assert Money.of("0.05", "EUR") * Decimal("0.5") == Money.of("0.02", "EUR")
    assert Money.of("0.15", "EUR") * Decimal("0.5") == Money.of("0.08", "EUR")
    assert 3 * Money.of("19.99", "EUR") == Money.of("59.97", "EUR")


def test_multiplying_rounds_once_not_first_to_28_digits() -> None:
    # The exact product lies just above half a cent; rounding it to 28 digits first
    # would make it a tie, which half-even rounding sends down.
    amount = Money.of("1000000000000000.01", "EUR")
    factor = Decimal("0.500000000000000000000000000001")
    assert amount * factor == Money.of("500000000000000.01", "EUR")


def _half_even_minor(exact: Fraction, currency: str) -> int:
    return round(exact * 10 ** MINOR_UNITS[currency])  # round() on a Fraction is half-even


@given(
    money(min_minor=-(10**15), max_minor=10**15),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**4), max_value=10**4),
)
def test_multiplying_rounds_the_exact_product_once(amount: Money, factor: Decimal) -> None:
    exact = Fraction(amount.amount) * Fraction(factor)
    assert (amount * factor).to_minor() == _half_even_minor(exact, amount.currency)


@given(
    money(),
    st.lists(
        st.integers(0, 10**6) | st.decimals(min_value=0, max_value=10**6, places=3),
        min_size=1,
        max_size=8,
    ).filter(lambda ratios: sum(ratios) > 0),
)
def test_allocate_adds_up_exactly_and_stays_within_one_minor_unit(
    amount: Money, ratios: list[int | Decimal]
) -> None:
    parts = amount.allocate(ratios)
    assert len(parts) == len(ratios)
    assert {part.currency for part in parts} == {amount.currency}
    assert sum(part.to_minor() for part in parts) == amount.to_minor()
    whole = sum(Fraction(r) for r in ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        share = amount.to_minor() * Fraction(ratio) / whole
        assert abs(part.to_minor() - share) < 1


def test_allocate_gives_leftovers_to_the_largest_remainders_first() -> None:
    assert [str(p) for p in Money.of("10", "EUR").allocate([1, 1, 1])] == [
        "3.34 EUR",
        "3.33 EUR",
        "3.33 EUR",
    ]
    assert [p.to_minor() for p in Money.from_minor(7, "JPY").allocate([3, 7])] == [2, 5]
    assert [p.to_minor() for p in Money.from_minor(5, "JPY").allocate([3, 7])] == [2, 3]
    assert [p.to_minor() for p in Money.from_minor(-5, "JPY").allocate([1, 1])] == [-2, -3]


@pytest.mark.parametrize("ratios", [[], [0, 0], [1, -1], "12", 3, None, {"a": 1}])
def test_allocate_refuses_bad_ratios(ratios: object) -> None:
    with pytest.raises(ValidationError) as info:
        Money.of("1", "EUR").allocate(ratios)  # type: ignore[arg-type]
    assert info.value.field == "ratios"


@given(money())
def test_minor_units_round_trip(amount: Money) -> None:
    assert Money.from_minor(amount.to_minor(), amount.currency) == amount
    assert Money.of(str(amount.amount), amount.currency) == amount


@given(st.integers(-MAX_MINOR, MAX_MINOR), currencies())
def test_every_signed_64_bit_minor_amount_round_trips(units: int, currency: str) -> None:
    assert Money.from_minor(units, currency).to_minor() == units


def test_amounts_beyond_64_bit_minor_units_are_refused() -> None:
    with pytest.raises(ValidationError, match="too large"):
        Money.from_minor(MAX_MINOR + 1, "EUR")
    with pytest.raises(ValidationError, match="too large"):
        Money.from_minor(MAX_MINOR, "EUR") + Money.from_minor(1, "EUR")
    with pytest.raises(ValidationError, match="too large"):
        Money.of("1", "EUR") * Decimal("1e999999")
    assert Money.of("1", "EUR") * Decimal("1e-999999") == Money.zero("EUR")
