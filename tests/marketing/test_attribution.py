"""Attribution and campaign results against hand-computed fixtures, plus exactness properties.

Remainder rule under test (linear): touches are ordered by time, then campaign
id; the minor units left after the equal split go one each to the earliest
touches.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import (
    AttributionModel,
    CampaignResults,
    Touch,
    attribute,
    results,
)
from crmkit.marketing.campaign import Campaign
from crmkit.marketing.member import CampaignMember
from crmkit.testing._strategies_campaigns import touches

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STAMP = Stamp(T0, "u-1")


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


FIRST, LAST, LINEAR = AttributionModel.FIRST_TOUCH, "last_touch", AttributionModel.LINEAR
# The touches are listed out of time order on purpose: attribute sorts them.
EMAIL_WEB_EVENT = [Touch("web", day(2)), Touch("email", day(1)), Touch("event", day(3))]
SAME_TIME = [Touch("cmp-c", day(1)), Touch("cmp-a", day(1)), Touch("cmp-b", day(1))]

FIXTURES = [
    # (touches, revenue, model, hand-computed result)
    pytest.param(EMAIL_WEB_EVENT, eur("1000.00"), FIRST, {"email": eur("1000.00")}, id="first"),
    pytest.param(EMAIL_WEB_EVENT, eur("1000.00"), LAST, {"event": eur("1000.00")}, id="last"),
    # 100.00 / 3 = 33.333…: 10000 cents = 3 × 3333 + 1; the spare cent goes to the earliest (email).
    pytest.param(
        EMAIL_WEB_EVENT,
        eur("100.00"),
        LINEAR,
        {"email": eur("33.34"), "web": eur("33.33"), "event": eur("33.33")},
        id="linear-eur",
    ),
    # 1000 JPY (no minor unit) / 3: 333 each, 1 yen left for the earliest touch.
    pytest.param(
        EMAIL_WEB_EVENT,
        Money.of("1000", "JPY"),
        LINEAR,
        {
            "email": Money.of("334", "JPY"),
            "web": Money.of("333", "JPY"),
            "event": Money.of("333", "JPY"),
        },
        id="linear-jpy",
    ),
    # 7 JPY / 4 touches = 1.75: 1 each, 3 yen left go to the first three touches.
    pytest.param(
        [Touch("d", day(4)), Touch("c", day(3)), Touch("b", day(2)), Touch("a", day(1))],
        Money.of("7", "JPY"),
        LINEAR,
        {
            "a": Money.of("2", "JPY"),
            "b": Money.of("2", "JPY"),
            "c": Money.of("2", "JPY"),
            "d": Money.of("1", "JPY"),
        },
        id="linear-jpy-4",
    ),
    # 1.000 KWD (3 places) / 3: 0.334 to the earliest, 0.333 each to the others.
    pytest.param(
        EMAIL_WEB_EVENT,
        Money.of("1.000", "KWD"),
        LINEAR,
        {
            "email": Money.of("0.334", "KWD"),
            "web": Money.of("0.333", "KWD"),
            "event": Money.of("0.333", "KWD"),
        },
        id="linear-kwd",
    ),
    # A campaign touching twice gets two shares: a@1 3.34 + a@3 3.33 = 6.67, b@2 3.33.
    pytest.param(
        [Touch("a", day(3)), Touch("b", day(2)), Touch("a", day(1))],
        eur("10.00"),
        LINEAR,
        {"a": eur("6.67"), "b": eur("3.33")},
        id="linear-repeat",
    ),
    # Same time: ordered by campaign id, so cmp-a is first and cmp-c last.
    pytest.param(SAME_TIME, eur("5.00"), FIRST, {"cmp-a": eur("5.00")}, id="tie-first"),
    pytest.param(SAME_TIME, eur("5.00"), LAST, {"cmp-c": eur("5.00")}, id="tie-last"),
    # 0.02 EUR over three tied touches: 0 each, the 2 cents go to cmp-a then cmp-b.
    pytest.param(
        SAME_TIME,
        eur("0.02"),
        LINEAR,
        {"cmp-a": eur("0.01"), "cmp-b": eur("0.01"), "cmp-c": eur("0.00")},
        id="tie-linear",
    ),
    pytest.param([], eur("100.00"), LINEAR, {}, id="no-touches"),
]


@pytest.mark.parametrize(("given_touches", "revenue", "model", "expected"), FIXTURES)
def test_attribution_matches_hand_computed_fixtures(
    given_touches: list[Touch], revenue: Money, model: str, expected: dict[str, Money]
) -> None:
    got = attribute(given_touches, revenue, model)
    assert got == expected
    assert list(got) == list(expected)  # in touch order
    assert [str(v) for v in got.values()] == [str(v) for v in expected.values()]  # scale too


def test_attribution_refuses_bad_input() -> None:
    for args, field in [
        (([Touch("a", day(1))], eur("1"), "middle"), "model"),
        ((["a"], eur("1"), LINEAR), "touches[0]"),
        (("a", eur("1"), LINEAR), "touches"),
        (([], 1, LINEAR), "revenue"),
    ]:
        with pytest.raises(ValidationError) as info:
            attribute(*args)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(ValidationError):
        Touch("a", datetime(2026, 3, 1))  # naive


@settings(max_examples=150)
@given(
    st.lists(touches(), max_size=12),
    st.integers(0, 10**9),
    st.sampled_from(("EUR", "JPY", "KWD")),
    st.sampled_from(AttributionModel),
)
def test_attributed_amounts_sum_exactly_to_the_revenue(
    given_touches: list[Touch], units: int, currency: str, model: AttributionModel
) -> None:
    revenue = Money.from_minor(units, currency)
    got = attribute(given_touches, revenue, model)
    if not given_touches:
        assert got == {}
        return
    total = Money.zero(currency)
    for amount in got.values():
        total += amount
        assert amount.currency == currency
        assert amount.amount >= 0
    assert total == revenue
    assert set(got) <= {t.campaign_id for t in given_touches}
    assert got == attribute(list(reversed(given_touches)), revenue, model)  # order-free
    ordered = sorted(given_touches, key=lambda t: (t.at, t.campaign_id))
    if model is AttributionModel.FIRST_TOUCH:
        assert list(got) == [ordered[0].campaign_id]
    if model is AttributionModel.LAST_TOUCH:
        assert list(got) == [ordered[-1].campaign_id]


def _campaign(cost: str | None) -> Campaign:
    campaign, _ = Campaign.plan("cmp-1", "Mailing", "email", "u-1", STAMP, currency="EUR")
    campaign, _ = campaign.activate(STAMP)
    if cost is not None:
        campaign, _ = campaign.record_cost(eur(cost), STAMP)
    return campaign


def _member(n: int, *steps: str) -> CampaignMember:
    member, _ = CampaignMember.target(f"m-{n}", "cmp-1", STAMP, contact_id=f"c-{n}")
    for step in steps:
        if step == "send":
            member, _ = member.send(STAMP)
        elif step == "respond":
            member, _ = member.respond("email", STAMP)
        elif step.startswith("convert:"):
            member, _ = member.convert(step.removeprefix("convert:"), STAMP)
        elif step == "opt_out":
            member, _ = member.opt_out(STAMP)
        else:
            member, _ = member.bounce(step.removeprefix("bounce:"), STAMP)
    return member


MEMBERS = [
    _member(1, "send", "respond", "convert:lead-1"),
    _member(2, "send", "respond", "convert:lead-2"),
    _member(3, "send", "respond"),
    _member(4, "send"),
    _member(5, "send", "bounce:soft"),
    _member(6, "send", "opt_out"),
    _member(7),
    _member(8, "opt_out"),
    _member(9, "bounce:hard"),
    _member(10, "send", "respond", "opt_out"),
]


def test_results_match_hand_computed_counts() -> None:
    # sent: 1,2,3,4,5,6,9,10 = 8; bounced 5 and 9 → delivered 6; responded 1,2,3,10 = 4;
    # converted 1,2 → 2 leads; 500.00 / 2 = 250.00 per lead; (1200 - 500) / 500 = 1.4.
    got = results(_campaign("500.00"), MEMBERS, eur("1200.00"))
    assert got == CampaignResults(
        sent=8, delivered=6, responded=4, converted=2, leads=2, cost=eur("500.00"),
        cost_per_lead=eur("250.00"), revenue_won=eur("1200.00"), roi=Decimal("1.4000"),
    )  # fmt: skip


def test_results_rounding_and_empty_cases() -> None:
    three = [_member(n, "send", "respond", f"convert:lead-{n}") for n in (1, 2, 3)]
    # 100.00 / 3 = 33.333… → 33.33; (0 - 100) / 100 = -1; (50 - 30) / 30 = 0.66666… → 0.6667.
    got = results(_campaign("100.00"), three, eur("0"))
    assert (got.cost_per_lead, got.roi) == (eur("33.33"), Decimal("-1.0000"))
    assert results(_campaign("30.00"), [], eur("50")).roi == Decimal("0.6667")
    free = results(_campaign(None), [], eur("10"))
    assert (free.cost_per_lead, free.roi, free.sent, free.leads) == (None, None, 0, 0)


def test_results_refuse_foreign_members_and_currency() -> None:
    other, _ = CampaignMember.target("m-x", "cmp-2", STAMP, lead_id="lead-x")
    with pytest.raises(ValidationError) as info:
        results(_campaign("1"), [other], eur("1"))
    assert info.value.field == "members[0]"
    with pytest.raises(ValidationError) as info:
        results(_campaign("1"), [], Money.of("1", "USD"))
    assert info.value.field == "revenue_won"
