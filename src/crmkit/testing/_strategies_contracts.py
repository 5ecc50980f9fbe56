"""Hypothesis strategies for contracts: terms, billing periods, start dates, contracts, events.

Every value is built through crmkit's public constructors and commands, so it
is valid exactly as crmkit would store it. Start dates lean towards the ends
of months (the 28th to the 31st) and leap days, where calendars go wrong.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.sales.contract import Contract
from crmkit.sales.terms import Amendment, BillingPeriod, RenewalMode, Term

CONTRACT_CURRENCIES: Final = ("EUR", "JPY", "KWD", "USD")
"""Currencies the contract strategies use: zero, two and three decimal places."""

CONTRACT_ZONES: Final = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
"""IANA zone keys the contract strategies give contracts."""

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@cache
def billing_periods() -> st.SearchStrategy[BillingPeriod]:
    """Monthly, quarterly or yearly."""
    return st.sampled_from(BillingPeriod)


@cache
def terms(max_years: int = 5) -> st.SearchStrategy[Term]:
    """Terms of 1 to ``max_years`` years, or of 1 to ``12 * max_years`` months."""
    return st.one_of(
        st.integers(1, max_years).map(lambda years: Term(years=years)),
        st.integers(1, 12 * max_years).map(lambda months: Term(months=months)),
    )


def whole_terms(period: BillingPeriod, max_periods: int = 20) -> st.SearchStrategy[Term]:
    """Terms that are a whole number (1 to ``max_periods``) of ``period``s."""
    return st.integers(1, max_periods).map(lambda n: Term(months=n * period.months))


def _month_end(year: int, month: int, back: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1] - back)


@cache
def start_dates(min_year: int = 1990, max_year: int = 2100) -> st.SearchStrategy[date]:
    """Any date between the years, half of them the 28th to the 31st or a leap day."""
    ends = st.builds(
        _month_end, st.integers(min_year, max_year), st.integers(1, 12), st.integers(0, 3)
    )
    leap_days = (
        st.integers(min_year, max_year).filter(calendar.isleap).map(lambda year: date(year, 2, 29))
    )
    return st.one_of(st.dates(date(min_year, 1, 1), date(max_year, 12, 31)), ends, leap_days)


@cache
def contract_amounts() -> st.SearchStrategy[Money]:
    """Non-negative amounts per period in `CONTRACT_CURRENCIES`, up to ten million units."""
    return st.builds(
        lambda units, currency: Money.from_minor(units, currency),
        st.integers(0, 10**10),
        st.sampled_from(CONTRACT_CURRENCIES),
    )


@cache
def uplifts() -> st.SearchStrategy[Decimal]:
    """Renewal uplifts from 0 to 25 percent, with up to two decimal places."""
    return st.integers(0, 2500).map(lambda hundredths: Decimal(hundredths).scaleb(-2))


@cache
def contract_stamps() -> st.SearchStrategy[Stamp]:
    """Stamps between 2000 and 2030 with a fixed UTC offset."""
    return st.builds(
        lambda seconds, hours, actor: Stamp(
            (_EPOCH + timedelta(seconds=seconds)).astimezone(timezone(timedelta(hours=hours))),
            actor,
        ),
        st.integers(0, 30 * 366 * 86400),
        st.integers(-12, 14),
        st.sampled_from(("u-1", "u-2", "job-renewals")),
    )


@cache
def drafted_contracts() -> st.SearchStrategy[tuple[Contract, DomainEvent]]:
    """Draft contracts with their `ContractDrafted` event."""

    def draft(
        period: BillingPeriod,
        periods: int,
        notice: int,
        start: date,
        amount: Money,
        renewal: RenewalMode,
        uplift: Decimal,
        zone: str,
        stamp: Stamp,
        contact: str | None,
    ) -> tuple[Contract, DomainEvent]:
        term = Term(months=periods * period.months)
        return Contract.draft(
            "k-1",
            "C-0001",
            stamp,
            account_id="a-1",
            contact_id=contact,
            start_date=start,
            term=term,
            billing_period=period,
            amount=amount,
            notice_period=Term(months=min(notice, term.total_months)),
            renewal=renewal,
            uplift=uplift,
            time_zone=zone,
        )

    return st.builds(
        draft,
        billing_periods(),
        st.integers(1, 12),
        st.integers(1, 6),
        start_dates(),
        contract_amounts(),
        st.sampled_from(RenewalMode),
        uplifts(),
        st.sampled_from(CONTRACT_ZONES),
        contract_stamps(),
        st.none() | st.just("c-1"),
    )


@cache
def contracts() -> st.SearchStrategy[Contract]:
    """Contracts in the states a clock need not reach: draft, awaiting signature, active."""

    def advance(drafted: tuple[Contract, DomainEvent], steps: int) -> Contract:
        contract = drafted[0]
        stamp = Stamp(contract.created_at, "u-1")
        if steps >= 1:
            contract = contract.send(stamp)[0]
        if steps >= 2:
            contract = contract.sign(stamp)[0]
        return contract

    return st.builds(advance, drafted_contracts(), st.integers(0, 2))


def _amendment(
    at: datetime,
    description: str,
    amount: Money | None,
    notice: Term | None,
    renewal: RenewalMode | None,
    uplift: Decimal | None,
) -> Amendment:
    if (amount, notice, renewal, uplift) == (None, None, None, None):
        renewal = RenewalMode.MANUAL  # an amendment changes at least one term
    return Amendment(at, description, amount, notice, renewal, uplift)


@cache
def amendments() -> st.SearchStrategy[Amendment]:
    """Amendments in EUR that change one to four terms."""
    return st.builds(
        _amendment,
        contract_stamps().map(lambda stamp: stamp.at),
        st.sampled_from(("price review", "new notice terms", "renewal changed")),
        st.none() | st.integers(0, 10**6).map(lambda cents: Money.from_minor(cents, "EUR")),
        st.none() | st.integers(1, 6).map(lambda months: Term(months=months)),
        st.none() | st.sampled_from(RenewalMode),
        st.none() | uplifts(),
    )
