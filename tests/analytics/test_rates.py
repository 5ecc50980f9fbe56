"""Exchange rates: the port, the in-memory FixedRates table and money conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crmkit.adapters.fixed_rates import FixedRates, Rate
from crmkit.analytics.currency import ReportingCurrency, convert
from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.kernel.money import Money
from crmkit.ports.rates import ExchangeRates, RateMissing

D1 = date(2026, 1, 15)

RATES = FixedRates(
    [
        Rate("USD", "EUR", "0.90"),
        Rate("GBP", "EUR", "1.20"),
        Rate("GBP", "EUR", "1.10", since=date(2026, 3, 1)),
        Rate("GBP", "EUR", "1.15", since=date(2026, 6, 1)),
        Rate("EUR", "JPY", "160", since=date(2026, 2, 1)),
        Rate("KWD", "EUR", "3"),
    ]
)


def test_fixed_rates_is_an_exchange_rates() -> None:
    assert isinstance(RATES, ExchangeRates)


def test_identity_direct_and_dated_rates() -> None:
    assert RATES.rate("EUR", "EUR", D1) == Decimal(1)
    assert RATES.rate("USD", "EUR", D1) == Decimal("0.90")
    # Undated 1.20 applies before 1 March, 1.10 from 1 March (inclusive), 1.15 from 1 June.
    assert RATES.rate("GBP", "EUR", date(2026, 2, 28)) == Decimal("1.20")
    assert RATES.rate("GBP", "EUR", date(2026, 3, 1)) == Decimal("1.10")
    assert RATES.rate("GBP", "EUR", date(2026, 5, 31)) == Decimal("1.10")
    assert RATES.rate("GBP", "EUR", date(2027, 1, 1)) == Decimal("1.15")


def test_inverse_rate_when_only_the_opposite_pair_is_given() -> None:
    # 1 / 0.90 to 28 significant digits.
    assert RATES.rate("EUR", "USD", D1) == Decimal("1.111111111111111111111111111")
    # 1 / 160 exactly.
    assert RATES.rate("JPY", "EUR", date(2026, 2, 1)) == Decimal("0.00625")


def test_missing_rate_names_the_pair_and_day() -> None:
    with pytest.raises(RateMissing, match=r"USD->GBP on 2026-01-15") as caught:
        RATES.rate("USD", "GBP", D1)
    assert (caught.value.source, caught.value.target, caught.value.on) == ("USD", "GBP", D1)
    assert isinstance(caught.value, CrmError)
    # EUR->JPY only starts on 1 February: nothing before, directly or inversely.
    with pytest.raises(RateMissing, match="JPY->EUR on 2026-01-31"):
        RATES.rate("JPY", "EUR", date(2026, 1, 31))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("usd", "EUR", D1), "source"),
        (("USD", "XXX", D1), "target"),
        (("USD", "EUR", datetime(2026, 1, 1, tzinfo=UTC)), "on"),
        (("USD", "EUR", "2026-01-01"), "on"),
    ],
)
def test_rate_refuses_bad_arguments(args: tuple[object, object, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RATES.rate(*args)  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Rate("USD", "USD", "1"), "target"),
        (lambda: Rate("USD", "EUR", 0.9), "rate"),
        (lambda: Rate("USD", "EUR", "0"), "rate"),
        (lambda: Rate("USD", "EUR", "-1"), "rate"),
        (lambda: Rate("USD", "EUR", "1", since="2026-01-01"), "since"),
        (lambda: FixedRates([Rate("USD", "EUR", "1"), Rate("USD", "EUR", "2")]), "rates[1]"),
        (lambda: FixedRates([("USD", "EUR", "1")]), "rates[0]"),  # type: ignore[list-item]
        (lambda: FixedRates({("USD", "EUR"): "1"}), "rates"),  # type: ignore[dict-item]
        (lambda: FixedRates.of({"USD": "1"}), "table"),  # type: ignore[dict-item]
        (lambda: FixedRates.of([]), "table"),  # type: ignore[arg-type]
    ],
)
def test_table_refuses_bad_rows(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


def test_convert_rounds_half_even_to_the_target_minor_unit() -> None:
    # 100.05 USD x 0.90 = 90.045 EUR -> 90.04 (half to even); 100.15 x 0.90 = 90.135 -> 90.14.
    assert convert(Money.of("100.05", "USD"), "EUR", D1, RATES) == Money.of("90.04", "EUR")
    assert convert(Money.of("100.15", "USD"), "EUR", D1, RATES) == Money.of("90.14", "EUR")
    # 12.34 EUR x 160 = 1974.4 JPY -> 1974 (JPY has no minor unit).
    assert convert(Money.of("12.34", "EUR"), "JPY", date(2026, 2, 1), RATES) == Money.of(
        "1974", "JPY"
    )
    # 1.235 KWD x 3 = 3.705 EUR -> 3.70 (half to even).
    assert convert(Money.of("1.235", "KWD"), "EUR", D1, RATES) == Money.of("3.70", "EUR")
    # Inverse: 90.00 EUR x 1.111...1 (28 digits) = 99.99999... USD -> 100.00.
    assert convert(Money.of("90.00", "EUR"), "USD", D1, RATES) == Money.of("100.00", "USD")
    # The same currency is returned as it is, without asking the rates.
    same = Money.of("5.00", "EUR")
    assert convert(same, "EUR", D1, FixedRates()) is same


def test_convert_raises_rate_missing_and_validation_errors() -> None:
    with pytest.raises(RateMissing):
        convert(Money.of("1", "CHF"), "EUR", D1, RATES)
    cases: list[tuple[tuple[object, ...], str]] = [
        (("1.00", "EUR", D1, RATES), "money"),
        ((Money.of("1", "USD"), "eur", D1, RATES), "target"),
        ((Money.of("1", "USD"), "EUR", None, RATES), "on"),
        ((Money.of("1", "USD"), "EUR", D1, {"USD": 1}), "rates"),
    ]
    for args, field in cases:
        with pytest.raises(ValidationError) as caught:
            convert(*args)  # type: ignore[arg-type]
        assert caught.value.field == field


class _FloatRates:
    def rate(self, source: str, target: str, on: date) -> Decimal:
        return 0.9  # type: ignore[return-value]


def test_a_rate_that_is_not_a_positive_decimal_is_refused() -> None:
    with pytest.raises(ValidationError, match="USD->EUR") as caught:
        convert(Money.of("1", "USD"), "EUR", D1, _FloatRates())
    assert caught.value.field == "rate"


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def rate(self, source: str, target: str, on: date) -> Decimal:
        self.calls += 1
        return RATES.rate(source, target, on)


def test_reporting_currency_asks_once_per_source_currency() -> None:
    counting = _Counting()
    to_eur = ReportingCurrency("EUR", counting, D1)
    amounts = [Money.of("10", "USD"), Money.of("20", "USD"), Money.of("1", "EUR")]
    # 10 x 0.90 = 9.00; 20 x 0.90 = 18.00; EUR stays.
    assert [to_eur(m) for m in amounts] == [
        Money.of("9.00", "EUR"),
        Money.of("18.00", "EUR"),
        Money.of("1.00", "EUR"),
    ]
    assert counting.calls == 1
    assert to_eur.zero() == Money.zero("EUR")
    with pytest.raises(ValidationError) as caught:
        to_eur("10 USD")  # type: ignore[arg-type]
    assert caught.value.field == "money"
    with pytest.raises(ValidationError) as caught:
        ReportingCurrency("EURO", RATES, D1)
    assert caught.value.field == "currency"
