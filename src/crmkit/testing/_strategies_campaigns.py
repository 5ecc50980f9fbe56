"""Hypothesis strategies for campaigns, campaign members and attribution touches.

Every value is built through the public constructors and commands, so it is
valid and normalised exactly as crmkit would store it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import Touch
from crmkit.marketing.campaign import Campaign, CampaignType
from crmkit.marketing.member import CampaignMember

__all__ = ["campaign_members", "campaigns", "money_amounts", "touches"]

_IDS = st.from_regex(r"[a-z]{1,3}-[0-9]{1,4}", fullmatch=True)
_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_NAMES = ("Spring mailing", "Trade fair", "Ads Q2", "Webinar", "Ünïcode launch")
_CURRENCIES = ("EUR", "JPY", "KWD", "USD")


def _times() -> st.SearchStrategy[datetime]:
    return st.integers(0, 500 * 24 * 60).map(lambda m: _START + timedelta(minutes=m))


def _stamps() -> st.SearchStrategy[Stamp]:
    return st.builds(Stamp, _times(), _IDS)


@cache
def money_amounts(currency: str = "EUR") -> st.SearchStrategy[Money]:
    """Non-negative amounts in ``currency``, from zero to ten million major units."""
    return st.integers(0, 10**7 * 1000).map(lambda units: Money.from_minor(units, currency))


@cache
def campaigns() -> st.SearchStrategy[Campaign]:
    """Newly planned campaigns, in various currencies, with or without dates and budget."""

    def plan(
        id: str, name: str, type: CampaignType, stamp: Stamp, currency: str, start: int | None,
        days: int, budget: int | None, expected: int | None,
    ) -> Campaign:  # fmt: skip
        starts_on = None if start is None else date(2026, 1, 1) + timedelta(days=start)
        ends_on = None if starts_on is None else starts_on + timedelta(days=days)
        campaign, _ = Campaign.plan(
            id, name, type, "u-owner", stamp, currency=currency, starts_on=starts_on,
            ends_on=ends_on,
            budget=None if budget is None else Money.from_minor(budget, currency),
            expected_revenue=None if expected is None else Money.from_minor(expected, currency),
        )  # fmt: skip
        return campaign

    return st.builds(
        plan,
        _IDS,
        st.sampled_from(_NAMES),
        st.sampled_from(CampaignType),
        _stamps(),
        st.sampled_from(_CURRENCIES),
        st.none() | st.integers(0, 365),
        st.integers(0, 90),
        st.none() | st.integers(0, 10**9),
        st.none() | st.integers(0, 10**9),
    )


@cache
def campaign_members() -> st.SearchStrategy[CampaignMember]:
    """Newly targeted members: a contact or a lead of campaign ``cmp-1``."""

    def target(id: str, stamp: Stamp, who: str, is_contact: bool) -> CampaignMember:
        member, _ = CampaignMember.target(
            id, "cmp-1", stamp, contact_id=who if is_contact else None,
            lead_id=None if is_contact else who,
        )  # fmt: skip
        return member

    return st.builds(target, _IDS, _stamps(), _IDS, st.booleans())


@cache
def touches() -> st.SearchStrategy[Touch]:
    """Touches by a few campaigns (``cmp-a`` … ``cmp-e``), often at the same time."""
    return st.builds(
        Touch,
        st.sampled_from(("cmp-a", "cmp-b", "cmp-c", "cmp-d", "cmp-e")),
        st.integers(0, 20).map(lambda h: _START + timedelta(hours=h)),
    )
