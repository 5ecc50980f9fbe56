"""Campaigns and campaign members: guards, money rules, events and round trips."""

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.marketing import campaign_events, member_events
from crmkit.marketing.campaign import Campaign, CampaignStatus, CampaignType
from crmkit.marketing.member import CampaignMember, MemberStatus, ResponseChannel
from crmkit.testing._strategies_campaigns import campaign_members, campaigns

STAMP = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-marketing")
EUR = "EUR"
_conv = make_converter()


def round_trips(value: Any, cls: type) -> None:
    data = _conv.unstructure(value)
    assert structure(_conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


def planned(**kw: Any) -> Campaign:
    campaign, _ = Campaign.plan("cmp-1", "Spring", "email", "u-anna", STAMP, currency=EUR, **kw)
    return campaign


def test_plan_sets_currency_and_zero_cost() -> None:
    campaign, event = Campaign.plan(
        "cmp-2", "  Fair  ", CampaignType.EVENT, "u-anna", STAMP, currency="JPY",
        parent_id="cmp-1", starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 3),
        budget=Money.of("50000", "JPY"),
    )  # fmt: skip
    assert campaign.name == "Fair"
    assert campaign.actual_cost == Money.zero("JPY")
    assert campaign.status is CampaignStatus.PLANNED
    assert event.subjects() == ("cmp-2", "cmp-1")
    assert event.summary() == "campaign planned: Fair"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"budget": Money.of("1", "USD")}, "budget"),
        ({"expected_revenue": Money.of("-1", EUR)}, "expected_revenue"),
        ({"starts_on": date(2026, 5, 2), "ends_on": date(2026, 5, 1)}, "ends_on"),
        ({"starts_on": datetime(2026, 5, 2, tzinfo=UTC)}, "starts_on"),
        ({"parent_id": "cmp-1"}, "parent_id"),
        ({"type": "fax"}, "type"),
        ({"currency": "XXX1"}, "currency"),
    ],
)
def test_plan_refuses_bad_values(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"type": "email", "currency": EUR, **kw}
    with pytest.raises(ValidationError) as info:
        Campaign.plan("cmp-1", "Spring", args.pop("type"), "u-anna", STAMP, **args)
    assert info.value.field == field


def test_record_cost_adds_in_the_same_currency() -> None:
    campaign = planned()
    campaign, event = campaign.record_cost(Money.of("10.05", EUR), STAMP)
    campaign, _ = campaign.record_cost(Money.of("0.95", EUR), STAMP)
    assert campaign.actual_cost == Money.of("11.00", EUR)
    assert event.summary() == "campaign cost recorded: 10.05 EUR"
    for bad in (Money.of("1", "USD"), Money.of("0", EUR), Money.of("-1", EUR), "1"):
        with pytest.raises(ValidationError) as info:
            campaign.record_cost(bad, STAMP)  # type: ignore[arg-type]
        assert info.value.field == "amount"


def test_closed_campaign_refuses_costs_and_updates() -> None:
    campaign, _ = planned().abort("budget cut", STAMP)
    with pytest.raises(InvalidTransition) as info:
        campaign.record_cost(Money.of("1", EUR), STAMP)
    assert (info.value.state, info.value.command) == ("aborted", "record_cost")
    with pytest.raises(InvalidTransition):
        campaign.update(STAMP, name="Other")
    with pytest.raises(ValidationError):
        planned().abort("   ", STAMP)


def test_update_changes_given_fields_only() -> None:
    campaign = planned(budget=Money.of("100", EUR))
    updated, event = campaign.update(STAMP, ends_on=date(2026, 6, 30))
    assert (updated.name, updated.budget, updated.ends_on) == (
        "Spring", Money.of("100", EUR), date(2026, 6, 30),
    )  # fmt: skip
    assert event.ends_on == date(2026, 6, 30)
    with pytest.raises(ValidationError, match="change nothing"):
        updated.update(STAMP, name="Spring")
    with pytest.raises(ValidationError):
        updated.update(STAMP, starts_on=date(2026, 7, 1))


def test_member_needs_exactly_one_of_contact_and_lead() -> None:
    with pytest.raises(ValidationError):
        CampaignMember.target("m-1", "cmp-1", STAMP)
    with pytest.raises(ValidationError):
        CampaignMember.target("m-1", "cmp-1", STAMP, contact_id="c-1", lead_id="l-1")


def test_member_events_keep_notes_out_of_summaries() -> None:
    member, _ = CampaignMember.target("m-1", "cmp-1", STAMP, lead_id="lead-1")
    member, _ = member.send(STAMP)
    with pytest.raises(ValidationError) as info:
        member.respond("pigeon", STAMP)
    assert info.value.field == "channel"
    member, event = member.respond(ResponseChannel.PHONE, STAMP, note="Secret phone 555")
    assert event.summary() == "campaign member responded by phone"
    assert event.subjects() == ("m-1", "cmp-1", "lead-1")
    assert member.response_note == "Secret phone 555"
    assert member.status is MemberStatus.RESPONDED


def test_event_types_are_unique_and_kinds_are_set() -> None:
    names = [cls.event_type for cls in (*campaign_events.EVENTS, *member_events.EVENTS)]
    assert len(names) == len(set(names)) == 14
    assert {cls.aggregate_kind for cls in campaign_events.EVENTS} == {"campaign"}
    assert {cls.aggregate_kind for cls in member_events.EVENTS} == {"campaign_member"}


def test_aggregates_and_events_round_trip() -> None:
    campaign = planned(starts_on=date(2026, 4, 1), expected_revenue=Money.of("9", EUR))
    campaign, activated = campaign.activate(STAMP)
    campaign, cost = campaign.record_cost(Money.of("3.50", EUR), STAMP)
    round_trips(campaign, Campaign)
    round_trips(cost, campaign_events.CampaignCostRecorded)
    round_trips(activated, campaign_events.CampaignActivated)
    member, targeted = CampaignMember.target("m-1", "cmp-1", STAMP, contact_id="c-1")
    member, _ = member.bounce("soft", STAMP)
    member, _ = member.send(STAMP)
    member, responded = member.respond("web", STAMP, note="hi")
    member, converted = member.convert("lead-9", STAMP)
    round_trips(member, CampaignMember)
    for event in (targeted, responded, converted):
        round_trips(event, type(event))


@settings(max_examples=40)
@given(campaigns())
def test_generated_campaigns_round_trip(campaign: Campaign) -> None:
    round_trips(campaign, Campaign)
    assert campaign.actual_cost == Money.zero(campaign.currency)


@settings(max_examples=40)
@given(campaign_members())
def test_generated_members_round_trip(member: CampaignMember) -> None:
    round_trips(member, CampaignMember)
