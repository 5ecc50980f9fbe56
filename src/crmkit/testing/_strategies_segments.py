"""Hypothesis strategies for segments: profiles, criteria trees and segments.

Profiles and criteria draw from the same small pools (and instants cluster
around `AS_OF`), so criteria match some profiles and miss others; text comes
in several cases so case-insensitive matching is exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.kernel.money import Money
from crmkit.marketing.segment import (
    AccountTag,
    ActiveWithin,
    All,
    Any,
    Consented,
    Criterion,
    HasTags,
    InactiveFor,
    InCity,
    InCountry,
    Industry,
    InRegion,
    Not,
    Profile,
    PurchasedWithin,
    RfmClass,
    Segment,
    SpendAtLeast,
    WithinRadius,
)

AS_OF: Final = datetime(2026, 6, 1, 12, tzinfo=UTC)
"""The instant that generated activity dates cluster around."""

SEGMENT_COUNTRIES: Final = ("DE", "FR", "US")
SEGMENT_REGIONS: Final = ("Bavaria", "BAVARIA", "Texas", "Île-de-France")
SEGMENT_CITIES: Final = ("Berlin", "berlin", "Hamburg", "Paris", "Austin")
SEGMENT_TAGS: Final = ("vip", "new", "b2b", "churn")
SEGMENT_INDUSTRIES: Final = ("Retail", "retail", "Software", "Energy")
SEGMENT_RFM: Final = ("champion", "loyal", "at_risk", "lost")
SEGMENT_CONSENTS: Final = ("email:marketing", "sms:marketing", "email:sales", "post:research")
"""The pools that profiles and criteria draw their values from."""

_ZONES: Final = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))


@cache
def instants() -> st.SearchStrategy[datetime]:
    """Aware instants within 120 days of `AS_OF`, to the microsecond, in a few offsets."""
    offsets = st.integers(-120 * 86_400_000_000, 120 * 86_400_000_000)
    return st.builds(
        lambda micros, tz: (AS_OF + timedelta(microseconds=micros)).astimezone(tz),
        offsets | st.sampled_from((0, -86_400_000_000 * 30, -86_400_000_000 * 90)),
        st.sampled_from(_ZONES),
    )


@cache
def amounts() -> st.SearchStrategy[Money]:
    """Money in EUR, USD or JPY, from zero to 10 000 major units."""
    return st.builds(
        Money.from_minor, st.integers(0, 1_000_000), st.sampled_from(("EUR", "USD", "JPY"))
    )


def _coordinate(limit: int, centre: str) -> st.SearchStrategy[Decimal]:
    near = st.decimals(Decimal(centre) - 5, Decimal(centre) + 5, places=4)
    return near | st.decimals(-limit, limit, places=4)


@cache
def profiles() -> st.SearchStrategy[Profile]:
    """Profiles with every field optional, drawn from the shared pools."""
    tags = st.lists(st.sampled_from(SEGMENT_TAGS), max_size=3).map(tuple)
    consent = st.dictionaries(
        st.sampled_from(SEGMENT_CONSENTS), st.sampled_from(("granted", "withdrawn", "unknown"))
    )
    return st.builds(
        Profile,
        contact_id=st.integers(1, 10_000).map(lambda n: f"c{n}"),
        country=st.none() | st.sampled_from(SEGMENT_COUNTRIES),
        region=st.none() | st.sampled_from(SEGMENT_REGIONS),
        city=st.none() | st.sampled_from(SEGMENT_CITIES),
        latitude=st.none() | _coordinate(90, "52"),
        longitude=st.none() | _coordinate(180, "10"),
        tags=tags,
        account_tags=tags,
        account_industry=st.none() | st.sampled_from(SEGMENT_INDUSTRIES),
        last_activity_at=st.none() | instants(),
        last_purchase_at=st.none() | instants(),
        total_spend=st.none() | amounts(),
        rfm_class=st.none() | st.sampled_from(SEGMENT_RFM),
        consent=consent,
    )


def _some(pool: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=3).map(tuple)


def _consented(key: str) -> Consented:
    channel, _, purpose = key.partition(":")
    return Consented(channel, purpose)


@cache
def leaf_criteria() -> st.SearchStrategy[Criterion]:
    """Every kind of criterion except the combinators."""
    days = st.integers(0, 150)
    return st.one_of(
        st.builds(InCountry, _some(SEGMENT_COUNTRIES)),
        st.builds(InRegion, st.sampled_from(SEGMENT_COUNTRIES), _some(SEGMENT_REGIONS)),
        st.builds(InCity, _some(SEGMENT_CITIES)),
        st.builds(
            WithinRadius,
            _coordinate(90, "52"),
            _coordinate(180, "10"),
            st.decimals(0, 2000, places=3),
        ),
        st.builds(HasTags, _some(SEGMENT_TAGS), st.booleans()),
        st.builds(AccountTag, _some(SEGMENT_TAGS), st.booleans()),
        st.builds(Industry, _some(SEGMENT_INDUSTRIES)),
        st.builds(ActiveWithin, days),
        st.builds(InactiveFor, days),
        st.builds(PurchasedWithin, days),
        st.builds(SpendAtLeast, amounts()),
        st.builds(RfmClass, _some(SEGMENT_RFM)),
        st.sampled_from(SEGMENT_CONSENTS).map(_consented),
    )


@cache
def criteria(max_leaves: int = 8) -> st.SearchStrategy[Criterion]:
    """Criterion trees of `All`, `Any` and `Not` over `leaf_criteria`."""

    def extend(children: st.SearchStrategy[Criterion]) -> st.SearchStrategy[Criterion]:
        parts = st.lists(children, max_size=4).map(tuple)
        return st.builds(All, parts) | st.builds(Any, parts) | st.builds(Not, children)

    return st.recursive(leaf_criteria(), extend, max_leaves=max_leaves)


@cache
def segments() -> st.SearchStrategy[Segment]:
    """Dynamic segments over `criteria`."""
    return st.builds(
        Segment,
        st.integers(1, 999).map(lambda n: f"seg-{n}"),
        st.sampled_from(("VIPs", "Lapsed buyers", "Berlin B2B")),
        criteria(),
    )
