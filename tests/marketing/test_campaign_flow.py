"""A campaign through the unit of work: target, send, respond as leads, win, attribute, measure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.app.marketing_records import CREDITS, PROFILES
from crmkit.app.notifier import Template
from crmkit.kernel.errors import InvalidTransition, NotFound, ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel
from crmkit.marketing.member import MemberStatus
from crmkit.parties.values import Address, Email
from crmkit.ports.storage import DocumentStore
from crmkit.testing.faults import every_step_is_atomic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIA = Principal("u-mia", roles={"marketer"})
OFFER = Template("Spring offer", "Hello $first_name, your code is $coupon.")
BANT = {"budget": "50000", "authority": "decision_maker", "need": "pumps", "timeline": "now"}


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0, tick=timedelta(minutes=1)), ids=SequentialIds("r"))


def _contact(crm: Crm, last: str, *, consent: bool = True, country: str = "DE") -> str:
    with crm.unit_of_work(MIA) as uow:
        account = uow.accounts.create(f"{last} GmbH", industry="Manufacturing", tags=["vip"])
        contact = uow.contacts.create(
            last,
            first_name="Kim",
            emails=[Email(f"{last.lower()}@example.com")],
            addresses=[Address(("Main St 1",), "Berlin", country)],
            account_id=account.id,
        )
        if consent:
            uow.contacts.record_consent(
                contact.id, "email", "marketing", granted=True, source="web form"
            )
    return contact.id


def _campaign(crm: Crm, *contacts: str) -> str:
    with crm.unit_of_work(MIA) as uow:
        campaign = uow.campaigns.plan("Spring", "email", currency="EUR")
        uow.campaigns.activate(campaign.id)
        uow.campaigns.record_cost(campaign.id, Money.of("300", "EUR"))
        uow.campaigns.target(campaign.id, contact_ids=contacts)
    return campaign.id


def test_a_campaign_turns_responses_into_attributed_revenue(crm: Crm) -> None:
    anna, bert, cara = (_contact(crm, n, consent=n != "Cara") for n in ("Anna", "Bert", "Cara"))
    cid = _campaign(crm, anna, bert, cara)
    with crm.unit_of_work(MIA) as uow:
        again = uow.campaigns.target(cid, contact_ids=[anna])
        report = uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": f"C-{m.id}"})
    assert again == ()
    assert len(report.sent) == 2
    assert [reason for _, reason in report.refused] == ["no_consent"]
    outbox = crm.store.claim_outbox(crm.tenant, now=2**62, limit=10, lease=1)
    assert len(outbox) == 2
    assert all(entry.message.purpose == "marketing" for entry in outbox)

    with crm.unit_of_work(MIA) as uow:
        member = uow.members.of(cid, anna)
        response = uow.members.respond(member.id, "email", note="call me")
        assert response.lead is not None
        assert response.lead.source.campaign_id == cid
        assert response.member.status is MemberStatus.CONVERTED
        uow.leads.work(response.lead.id)
        uow.leads.qualify(response.lead.id, **BANT)
        conversion = uow.leads.convert(
            response.lead.id, contact_id=anna, amount=Money.of("1200", "EUR")
        )
        assert conversion.opportunity is not None
        uow.opportunities.win(conversion.opportunity.id)
        bounced = uow.members.bounce(uow.members.of(cid, bert).id, "hard")
    assert bounced.status is MemberStatus.BOUNCED

    with crm.unit_of_work(MIA) as uow:
        results = uow.campaigns.results(cid)
        linear = uow.campaigns.revenue_won(cid, "linear")
        assert uow.audiences.get(bert).hard_bounced
        profile = uow.audiences.profile(anna)
    assert (results.sent, results.delivered, results.responded, results.converted) == (2, 1, 1, 1)
    assert results.cost_per_lead == Money.of("300", "EUR")
    assert results.revenue_won == Money.of("1200", "EUR") == linear
    assert str(results.roi) == "3.0000"  # (1200 - 300) / 300
    assert profile.total_spend == Money.of("1200", "EUR")
    assert profile.last_purchase_at is not None


def test_reopening_a_won_deal_takes_its_credit_and_spend_back(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    cid = _campaign(crm, anna)
    with crm.unit_of_work(MIA) as uow:
        uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
        response = uow.members.respond(uow.members.of(cid, anna).id, "web")
        assert response.lead is not None
        deal = uow.opportunities.open(
            "Pumps", amount=Money.of("500", "EUR"), close_date=T0.date(), contact_ids=[anna]
        )
        uow.opportunities.win(deal.id)
    with crm.unit_of_work(MIA) as uow:
        assert uow.campaigns.revenue_won(cid) == Money.of("500", "EUR")
        uow.opportunities.reopen(deal.id)
    with crm.unit_of_work(MIA) as uow:
        assert uow.campaigns.revenue_won(cid) == Money.zero("EUR")
        assert uow.get(CREDITS, deal.id).void
        assert uow.audiences.profile(anna).total_spend == Money.zero("EUR")


def test_opting_out_unsubscribes_from_the_campaign(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    cid = _campaign(crm, anna)
    with crm.unit_of_work(MIA) as uow:
        uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
        uow.members.opt_out(uow.members.of(cid, anna).id)
        assert uow.audiences.get(anna).unsubscribed_campaigns == (cid,)
        with pytest.raises(InvalidTransition, match="opted_out"):
            uow.members.respond(uow.members.of(cid, anna).id, "email")


def test_profiles_follow_the_contact_and_its_account(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    with crm.unit_of_work(MIA) as uow:
        profile = uow.get(PROFILES, anna).profile
        assert (profile.country, profile.city, profile.account_tags) == ("DE", "Berlin", ("vip",))
        assert profile.consent == {"email:marketing": "granted"}
        uow.accounts.update(uow.contacts.get(anna).accounts[0].account_id, industry="Retail")
    with crm.unit_of_work(MIA) as uow:
        assert uow.get(PROFILES, anna).profile.account_industry == "Retail"


def test_bad_input_names_the_field(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    with crm.unit_of_work(MIA) as uow:
        with pytest.raises(ValidationError, match="currency"):
            uow.campaigns.plan("X", "email", currency="XXX")
        campaign = uow.campaigns.plan("X", "email", currency="EUR")
        with pytest.raises(ValidationError, match="active"):
            uow.campaigns.send(campaign.id, OFFER)
        with pytest.raises(NotFound):
            uow.campaigns.target(campaign.id, contact_ids=["nobody"])
        with pytest.raises(NotFound):
            uow.members.of(campaign.id, anna)
        with pytest.raises(ValidationError, match="model"):
            uow.campaigns.revenue_won(campaign.id, "middle_touch")
        with pytest.raises(ValidationError, match="status"):
            uow.campaigns.members(campaign.id, status="lost")


def test_responding_is_atomic(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    cid = _campaign(crm, anna)
    with crm.unit_of_work(MIA) as uow:
        uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
        member_id = uow.members.of(cid, anna).id
    assert every_step_is_atomic(crm, lambda uow: uow.members.respond(member_id, "email")) >= 3


def test_attribution_models_split_a_deal_between_campaigns(crm: Crm) -> None:
    anna = _contact(crm, "Anna")
    first, second = _campaign(crm, anna), _campaign(crm, anna)
    for cid in (first, second):
        with crm.unit_of_work(MIA) as uow:
            uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
            uow.members.respond(uow.members.of(cid, anna).id, "email", lead=False)
    with crm.unit_of_work(MIA) as uow:
        deal = uow.opportunities.open(
            "Pumps", amount=Money.of("100", "EUR"), close_date=T0.date(), contact_ids=[anna]
        )
        uow.opportunities.win(deal.id)
    with crm.unit_of_work(MIA) as uow:
        got = {
            model.value: (
                uow.campaigns.revenue_won(first, model),
                uow.campaigns.revenue_won(second, model),
            )
            for model in AttributionModel
        }
    eur = lambda a: Money.of(a, "EUR")  # noqa: E731
    assert got == {
        "first_touch": (eur("100"), eur("0")),
        "last_touch": (eur("0"), eur("100")),
        "linear": (eur("50"), eur("50")),
    }


def test_a_response_that_makes_the_lead_is_one_touch_on_a_ticking_clock(
    any_store: DocumentStore,
) -> None:
    crm = Crm(any_store, clock=FakeClock(T0, tick=timedelta(seconds=7)), ids=SequentialIds("t"))
    anna = _contact(crm, "Anna")
    fair, spring = _campaign(crm, anna), _campaign(crm, anna)
    with crm.unit_of_work(MIA) as uow:
        for cid in (fair, spring):
            uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
        uow.members.respond(uow.members.of(fair, anna).id, "event", lead=False)
        response = uow.members.respond(uow.members.of(spring, anna).id, "email")
        assert response.lead is not None
        uow.leads.work(response.lead.id)
        uow.leads.qualify(response.lead.id, **BANT)
        deal = uow.leads.convert(response.lead.id, contact_id=anna, amount=Money.of("90", "EUR"))
        assert deal.opportunity is not None
        uow.opportunities.win(deal.opportunity.id)
        credit = uow.get(CREDITS, deal.opportunity.id)
    assert [t.campaign_id for t in credit.touches] == [fair, spring]
    with crm.unit_of_work(MIA) as uow:
        assert uow.campaigns.revenue_won(fair, "linear") == Money.of("45", "EUR")
        assert uow.campaigns.revenue_won(spring, "linear") == Money.of("45", "EUR")


def test_a_lead_member_is_found_by_its_lead(crm: Crm) -> None:
    with crm.unit_of_work(MIA) as uow:
        lead = uow.leads.capture(last_name="Lee", email="lee@example.com")
        campaign = uow.campaigns.plan("Fair", "event", currency="EUR")
        (member,) = uow.campaigns.target(campaign.id, lead_ids=[lead.id])
        assert uow.members.of(campaign.id, lead_id=lead.id) == member
        with pytest.raises(ValidationError, match="contact_id"):
            uow.members.of(campaign.id)


def test_a_deal_without_a_lead_is_not_credited_to_others_responses(crm: Crm) -> None:
    anna, bert = _contact(crm, "Anna"), _contact(crm, "Bert")
    cid = _campaign(crm, bert)
    with crm.unit_of_work(MIA) as uow:
        uow.campaigns.send(cid, OFFER, data=lambda m: {"coupon": "X"})
        uow.members.respond(uow.members.of(cid, bert).id, "email", lead=False)
        deal = uow.opportunities.open(
            "Pumps", amount=Money.of("100", "EUR"), close_date=T0.date(), contact_ids=[anna]
        )
        uow.opportunities.win(deal.id)
        assert uow.get(CREDITS, deal.id).touches == ()
