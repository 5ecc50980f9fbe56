"""The sales process through the unit of work: lead to contract, on memory and SQLite stores."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

import crmkit
from crmkit import Crm, DuplicateRecord, Email, FakeClock, InvalidTransition, Principal
from crmkit.app.leads import POSSIBLE_DUPLICATE
from crmkit.app.policies import PolicyLoop
from crmkit.app.records import CONTRACTS, OPPORTUNITIES
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.parties.events import AccountChanged
from crmkit.ports.storage import DocumentStore
from crmkit.sales.contract import ContractStatus
from crmkit.sales.lead import LeadStatus
from crmkit.sales.opportunity import OpportunityStatus
from crmkit.sales.pricing import TaxRate
from crmkit.sales.quote import QuoteStatus
from crmkit.testing.faults import every_step_is_atomic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"sales_rep"})
MAX = Principal("u-max", roles={"sales_manager"})
BANT = {"budget": "50000", "authority": "decision_maker", "need": "pumps", "timeline": "now"}


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0, tick=timedelta(minutes=1)), ids=SequentialIds("r"))


def _qualified_lead(crm: Crm, **fields: object) -> str:
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.capture(
            first_name="Bob",
            last_name="Berg",
            email="bob.berg@acme.example",
            company="ACME GmbH",
            title="Head of Purchasing",
            **fields,
        )
        uow.leads.work(lead.id)
        uow.leads.qualify(lead.id, **BANT)
    return lead.id


def test_capture_checks_for_duplicates_and_does_what_it_is_told(crm: Crm) -> None:
    lead_id = _qualified_lead(crm)
    with crm.unit_of_work(ANNA) as uow:
        flagged = uow.leads.capture(last_name="Berg", email="Bob.Berg@ACME.example")
        reused = uow.leads.capture_web_form({"email": "bob.berg@acme.example", "lastname": "Berg"})
        with pytest.raises(DuplicateRecord):
            uow.leads.capture(email="bob.berg@acme.example", on_duplicate="refuse")
        fresh = uow.leads.capture(last_name="Nobody", email="nobody@elsewhere.example")
    assert POSSIBLE_DUPLICATE in flagged.tags
    assert reused.id == lead_id
    assert POSSIBLE_DUPLICATE not in fresh.tags


def test_a_csv_import_captures_good_rows_and_reports_bad_ones(crm: Crm) -> None:
    text = (
        "email,last_name,company\na@x.example,Alpha,ACME\nnot-an-email,Beta,\nc@x.example,,Gamma\n"
    )
    with crm.unit_of_work(ANNA) as uow:
        result = uow.leads.import_csv(text)
    assert [lead.last_name for lead in result.leads] == ["Alpha", None]
    assert [row.line for row in result.rejected] == [3]
    assert result.rejected[0].error is not None
    assert "email" in str(result.rejected[0].error)


def test_qualify_is_guarded_by_the_configured_criteria(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.capture(last_name="Kim", company="Initech")
        uow.leads.work(lead.id)
        with pytest.raises(InvalidTransition, match="budget"):
            uow.leads.qualify(lead.id, authority="decision_maker")
        uow.leads.answer(lead.id, authority="decision_maker")
        scored = uow.leads.score(lead.id)
        assert uow.leads.get(lead.id).score == scored.value == 15
    assert scored.explain() == ["q_authority=decision_maker: +15 points"]


def test_lead_to_contract_end_to_end(crm: Crm) -> None:
    lead_id = _qualified_lead(crm)
    with crm.unit_of_work(ANNA) as uow:
        conversion = uow.leads.convert(lead_id, amount=Money.of("12000", "EUR"))
        deal = conversion.opportunity
        assert deal is not None
        uow.opportunities.move(deal.id, "proposal")
        pump = uow.products.create("PUMP-40", "Pump 40", tax=TaxRate("DE19", Decimal("0.19")))
        prices = uow.price_lists.create("Germany", "EUR")
        uow.price_lists.set_price(prices.id, pump.id, Money.of("300.00", "EUR"))
        line = uow.price_lists.line(prices.id, pump.id, 40, discount=20)
        quote = uow.quotes.draft(
            conversion.account.id,
            "EUR",
            lines=[line],
            contact_id=conversion.contact.id,
            opportunity_id=deal.id,
        )
        with pytest.raises(InvalidTransition, match="needs approval"):
            uow.quotes.present(quote.id)
        uow.quotes.edit(quote.id, lines=[uow.price_lists.line(prices.id, pump.id, 40, 5)])
        uow.quotes.present(quote.id)
    assert (conversion.new_account, conversion.new_contact) == (True, True)
    with crm.unit_of_work(MAX) as uow:
        accepted = uow.quotes.accept(quote.id)
        uow.opportunities.win(deal.id)
    assert accepted.status is QuoteStatus.ACCEPTED
    assert accepted.totals.total == Money.of("13566.00", "EUR")  # 11400 net + 19% tax
    with crm.unit_of_work(MAX) as uow:
        contract = uow.find(CONTRACTS).items[0]
        lead = uow.leads.get(lead_id)
        won = uow.find(OPPORTUNITIES).items[0]
    assert contract.quote_id == quote.id
    assert contract.amount == Money.of("11400.00", "EUR")
    assert contract.status is ContractStatus.DRAFT
    assert (lead.status, lead.account_id, lead.opportunity_id) == (
        LeadStatus.CONVERTED,
        conversion.account.id,
        deal.id,
    )
    assert won.status is OpportunityStatus.WON
    history = [e.summary for e in crm.timeline(conversion.account.id, ANNA, limit=100)]
    assert any("accepted" in line for line in history)


def test_conversion_links_existing_records_and_fills_only_their_empty_fields(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH", industry="Machinery")
        bob = uow.contacts.create("Berg", first_name="Bob", emails=[Email("bob.berg@acme.example")])
    lead_id = _qualified_lead(crm, phone="+4940123456")
    with crm.unit_of_work(ANNA) as uow:
        conversion = uow.leads.convert(lead_id, opportunity=False)
    assert (conversion.account.id, conversion.contact.id) == (acme.id, bob.id)
    assert (conversion.new_account, conversion.new_contact) == (False, False)
    assert conversion.contact.title == "Head of Purchasing"  # was empty: filled
    assert conversion.contact.first_name == "Bob"
    assert [p.number for p in conversion.contact.phones] == ["+4940123456"]
    assert acme.id in conversion.contact.account_ids
    assert conversion.opportunity is None


def test_conversion_and_acceptance_are_atomic_at_every_step(crm: Crm) -> None:
    lead_id = _qualified_lead(crm)
    steps = every_step_is_atomic(crm, lambda uow: uow.leads.convert(lead_id))
    assert steps >= 5  # account, contact, link, opportunity, lead
    with crm.unit_of_work(ANNA) as uow:
        lead = uow.leads.get(lead_id)
        assert lead.account_id is not None
        quote = uow.quotes.draft(lead.account_id, "EUR", valid_until=date(2026, 4, 1))
        line = crmkit.sales.pricing.Line(None, "Service", Decimal(1), Money.of("100", "EUR"))
        uow.quotes.edit(quote.id, lines=[line])
        uow.quotes.present(quote.id)
    assert every_step_is_atomic(crm, lambda uow: uow.quotes.accept(quote.id)) == 2


def test_contracts_come_up_for_renewal_and_expire_as_the_clock_passes() -> None:
    clock = FakeClock(T0)
    crm = crmkit.open("memory://", clock=clock, ids=SequentialIds("r"))
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
        contract = uow.contracts.draft(
            acme.id,
            amount=Money.of("100", "EUR"),
            start_date=date(2026, 3, 2),
            term=crmkit.sales.terms.Term(months=12),
            notice_period=crmkit.sales.terms.Term(months=3),
        )
        uow.contracts.send(contract.id)
        uow.contracts.sign(contract.id)
    with crm.unit_of_work(ANNA) as uow:
        assert uow.contracts.run_due() == ()
    clock.advance(timedelta(days=280))  # 2026-12-07: inside the notice window
    with crm.unit_of_work(ANNA) as uow:
        flagged = uow.contracts.run_due()
    assert [c.status for c in flagged] == [ContractStatus.UP_FOR_RENEWAL]
    clock.advance(timedelta(days=90))  # past the end date, manual renewal: expired
    with crm.unit_of_work(ANNA) as uow:
        assert [c.status for c in uow.contracts.run_due()] == [ContractStatus.EXPIRED]
        assert uow.contracts.run_due() == ()


def test_presented_quotes_expire_when_the_clock_passes_their_validity() -> None:
    clock = FakeClock(T0)
    crm = crmkit.open("memory://", clock=clock, ids=SequentialIds("r"))
    line = crmkit.Line(None, "Service", Decimal(1), Money.of("100", "EUR"))
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
        quote = uow.quotes.draft(acme.id, "EUR", lines=[line], valid_until=date(2026, 3, 10))
        uow.quotes.present(quote.id)
        assert uow.quotes.expire_due() == ()
    clock.advance(timedelta(days=8))  # 2026-03-10: still valid that day
    with crm.unit_of_work(ANNA) as uow:
        assert uow.quotes.expire_due() == ()
    clock.advance(timedelta(days=1))
    with crm.unit_of_work(ANNA) as uow:
        assert [q.status for q in uow.quotes.expire_due()] == [QuoteStatus.EXPIRED]
    with crm.unit_of_work(ANNA) as uow, pytest.raises(InvalidTransition, match="accept"):
        uow.quotes.accept(quote.id)


def test_policies_that_trigger_each_other_stop_with_a_clear_error() -> None:
    def tag_again(event: crmkit.DomainEvent, uow: crmkit.UnitOfWork) -> None:
        uow.accounts.tag(event.aggregate_id, f"round-{event.version}")

    policies = crmkit.Policies([(AccountChanged, tag_again)])
    crm = crmkit.open("memory://", clock=FakeClock(T0), ids=SequentialIds("r"), policies=policies)
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
    with pytest.raises(PolicyLoop, match="8 deep"), crm.unit_of_work(ANNA) as uow:
        uow.accounts.tag(acme.id, "vip")
    with crm.unit_of_work(ANNA) as uow:
        assert uow.accounts.get(acme.id).tags == ()  # nothing of the loop was written
