"""Terms and billing schedules: counts, bounds and month ends, for any start date."""

import calendar
import json
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.terms import (
    Bill,
    BillingPeriod,
    Term,
    billing_schedule,
    bills,
    check_uplift,
    uplifted,
)
from crmkit.testing._strategies_contracts import billing_periods, start_dates, terms

PROPERTY = settings(max_examples=400, deadline=None)


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@PROPERTY
@given(start=start_dates(), term=terms(5), period=billing_periods())
def test_schedule_counts_bounds_and_month_ends(
    start: date, term: Term, period: BillingPeriod
) -> None:
    if term.total_months % period.months:
        with pytest.raises(ValidationError) as info:
            billing_schedule(start, term, period)
        assert info.value.field == "term"
        return
    dates = billing_schedule(start, term, period)
    end = term.end(start)
    assert len(dates) == term.total_months // period.months
    assert dates[0] == start
    assert all(start <= day < end for day in dates)
    assert list(dates) == sorted(set(dates))
    for k, day in enumerate(dates):
        last = calendar.monthrange(day.year, day.month)[1]
        assert day.day == min(start.day, last)
        assert _months_between(start, day) == k * period.months
        assert day == start + relativedelta(months=k * period.months)


@PROPERTY
@given(data=st.data(), start=start_dates(), period=billing_periods())
def test_bills_cover_the_term_without_gaps(
    data: st.DataObject, start: date, period: BillingPeriod
) -> None:
    count = data.draw(st.integers(1, 60 // period.months), label="periods")
    term = Term(months=count * period.months)
    amount = Money.of("99.99", "EUR")
    schedule = bills(start, term, period, amount)
    assert len(schedule) == count
    assert schedule[0].period_start == start
    assert schedule[-1].period_end == term.end(start)
    for bill, following in pairwise(schedule):
        assert bill.period_end == following.period_start == following.date
    for bill in schedule:
        assert bill.date == bill.period_start < bill.period_end
        assert bill.amount == amount
    assert tuple(bill.date for bill in schedule) == billing_schedule(start, term, period)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 1, 31), ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]),
        (date(2028, 1, 31), ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]),
        (date(2026, 1, 30), ["2026-01-30", "2026-02-28", "2026-03-30", "2026-04-30", "2026-05-30"]),
        (date(2024, 2, 29), ["2024-02-29", "2024-03-29", "2024-04-29", "2024-05-29", "2024-06-29"]),
    ],
)
def test_month_ends_are_right(start: date, expected: list[str]) -> None:
    dates = billing_schedule(start, Term(months=5), BillingPeriod.MONTHLY)
    assert [day.isoformat() for day in dates] == expected


def test_quarterly_and_yearly_schedules() -> None:
    quarterly = billing_schedule(date(2026, 11, 30), Term(years=1), "quarterly")
    assert [d.isoformat() for d in quarterly] == [
        "2026-11-30",
        "2027-02-28",
        "2027-05-30",
        "2027-08-30",
    ]
    yearly = billing_schedule(date(2024, 2, 29), Term(years=3), BillingPeriod.YEARLY)
    assert [d.isoformat() for d in yearly] == ["2024-02-29", "2025-02-28", "2026-02-28"]


def test_term_end_is_exclusive_and_clips_to_month_end() -> None:
    assert Term(years=1).end(date(2026, 1, 31)) == date(2027, 1, 31)
    assert Term(months=1).end(date(2026, 1, 31)) == date(2026, 2, 28)
    assert Term(years=1).end(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Term(years=1, months=2).end(date(2026, 3, 15)) == date(2027, 5, 15)
    assert Term(months=14).to_relativedelta() == relativedelta(years=1, months=2)
    assert Term(months=3).before(date(2026, 5, 31)) == date(2026, 2, 28)
    assert str(Term(years=1, months=2)) == "1 year 2 months"
    assert str(Term(years=2)) == "2 years"
    assert Term(years=1).total_months == Term(months=12).total_months == 12


def test_billing_period_months() -> None:
    months = {period: period.months for period in BillingPeriod}
    assert months == {"monthly": 1, "quarterly": 3, "yearly": 12}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "term"),
        ({"years": -1, "months": 14}, "term.years"),
        ({"months": 1.5}, "term.months"),
        ({"months": True}, "term.months"),
        ({"years": 101}, "term"),
    ],
)
def test_term_refuses_bad_lengths(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Term(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((datetime(2026, 1, 1), Term(years=1), "monthly"), "start_date"),
        (("2026-01-01", Term(years=1), "monthly"), "start_date"),
        ((date(2026, 1, 1), 12, "monthly"), "term"),
        ((date(2026, 1, 1), Term(months=4), "quarterly"), "term"),
        ((date(2026, 1, 1), Term(months=6), "yearly"), "term"),
        ((date(2026, 1, 1), Term(years=1), "weekly"), "billing_period"),
        ((date(9999, 6, 1), Term(years=1), "monthly"), "term"),
    ],
)
def test_schedule_refuses_bad_input(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        billing_schedule(*args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_bills_refuse_a_float_amount() -> None:
    with pytest.raises(ValidationError) as info:
        bills(date(2026, 1, 1), Term(years=1), "monthly", 9.99)  # type: ignore[arg-type]
    assert info.value.field == "amount"


@pytest.mark.parametrize(
    ("amount", "uplift", "expected"),
    [
        ("1000", "2.5", "1025 JPY"),
        ("999", "3.5", "1034 JPY"),  # 1033.965
        ("1050", "5", "1102 JPY"),  # 1102.5: half to even
        ("10.10", "5", "10.60 EUR"),  # 10.605: half to even
        ("99.99", "3", "102.99 EUR"),  # 102.9897
        ("1.235", "10", "1.358 KWD"),  # 1.3585: half to even
        ("1.001", "2.5", "1.026 KWD"),  # 1.026025
        ("100", "0", "100.00 EUR"),
    ],
)
def test_uplift_rounds_half_even_to_the_minor_unit(amount: str, uplift: str, expected: str) -> None:
    currency = expected.split()[1]
    assert str(uplifted(Money.of(amount, currency), Decimal(uplift))) == expected


@pytest.mark.parametrize("bad", ["-1", "1001", "NaN", 1.5, True, "abc", None])
def test_uplift_refuses_bad_percentages(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_uplift(bad)
    assert info.value.field == "uplift"


@given(term=terms(5))
def test_term_round_trips(term: Term) -> None:
    conv = make_converter()
    data = conv.unstructure(term)
    assert structure(conv, data, Term) == term
    assert Loaders().load(Term, json.loads(dumps(data))) == term


def test_bill_round_trips() -> None:
    conv = make_converter()
    for bill in bills(date(2028, 1, 31), Term(months=3), "monthly", Money.of("5", "KWD")):
        data = conv.unstructure(bill)
        assert data["date"] == bill.date.isoformat()
        assert structure(conv, data, Bill) == bill
        assert Loaders().load(Bill, json.loads(dumps(data))) == bill


def test_structuring_a_bad_term_names_the_field() -> None:
    conv = make_converter()
    with pytest.raises(ValidationError) as info:
        structure(conv, {"years": 0, "months": 0}, Term)
    assert info.value.field == "term"
