"""The service desk through the unit of work: complaint to resolved case, SLA ticks, articles."""

from datetime import UTC, datetime, timedelta

import pytest

import crmkit
from crmkit import Crm, Email, FakeClock, InvalidTransition, Money, Principal
from crmkit.kernel.ids import SequentialIds
from crmkit.ports.storage import DocumentStore
from crmkit.service.case import CaseStatus
from crmkit.service.complaint import ComplaintStatus
from crmkit.service.complaint_events import Resolution, ResolutionType, RootCause
from crmkit.service.sla import SlaMetric
from crmkit.testing.faults import every_step_is_atomic

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # office hours: weekdays 9-12, 13-17 UTC
AGENT = Principal("u-sam", roles={"service_agent"})


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(MONDAY), ids=SequentialIds("r"))


def _customer(crm: Crm) -> str:
    with crm.unit_of_work(AGENT) as uow:
        acme = uow.accounts.create("ACME GmbH")
        bob = uow.contacts.create(
            "Berg", first_name="Bob", emails=[Email("bob@acme.example")], account_id=acme.id
        )
    return bob.id


def test_a_complaint_is_acknowledged_through_the_outbox_and_escalated_into_a_case(
    crm: Crm,
) -> None:
    bob = _customer(crm)
    with crm.unit_of_work(AGENT) as uow:
        complaint = uow.complaints.receive(
            "Pump arrived broken",
            "The housing is cracked.",
            channel="email",
            category="delivery",
            severity="major",
            contact_id=bob,
        )
    assert complaint.status is ComplaintStatus.ACKNOWLEDGED
    claimed = crm.store.claim_outbox(crm.tenant, now=2**62, limit=10, lease=60_000_000)
    assert [entry.message.key for entry in claimed] == [f"complaint-acknowledgement-{complaint.id}"]
    with crm.unit_of_work(AGENT) as uow:
        uow.complaints.investigate(complaint.id)
        case = uow.complaints.escalate(complaint.id)
    assert (case.type, case.priority.value, case.complaint_id) == (
        "complaint",
        "high",
        complaint.id,
    )
    assert case.sla is not None
    assert case.sla.policy_id == "urgent"
    with crm.unit_of_work(AGENT) as uow:
        assert uow.complaints.get(complaint.id).case_id == case.id
        uow.complaints.resolve(
            complaint.id,
            Resolution(ResolutionType.REPLACEMENT, note="new pump sent"),
            RootCause("packaging"),
        )


def test_the_sla_clock_pauses_warns_breaches_and_escalates(crm: Crm) -> None:
    clock = crm.clock
    assert isinstance(clock, FakeClock)
    bob = _customer(crm)
    with crm.unit_of_work(AGENT) as uow:
        case = uow.cases.open("No power", "Unit dead", type="incident", contact_id=bob)
    assert case.sla is not None
    assert case.sla.policy_id == "standard"
    first = case.sla.run(SlaMetric.FIRST_RESPONSE)
    assert first.deadline == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # 8 business hours
    clock.advance(timedelta(hours=1))  # 10:00
    with crm.unit_of_work(AGENT) as uow:
        uow.cases.assign(case.id, "u-sam")
        uow.cases.start(case.id)
        uow.cases.respond(case.id)
        waiting = uow.cases.wait_on_customer(case.id)
    assert waiting.status is CaseStatus.WAITING_ON_CUSTOMER
    clock.advance(timedelta(days=7))  # a week waiting: paused, nothing is due
    with crm.unit_of_work(AGENT) as uow:
        assert uow.cases.tick().evaluated == 0
        uow.cases.customer_replied(case.id)
    # Resolution is due 40 business hours after Monday 09:00; one was used before the pause.
    clock.advance(timedelta(days=6))  # Sunday: 34 business hours used, past the 80% warning
    with crm.unit_of_work(AGENT) as uow:
        report = uow.cases.tick()
        assert uow.cases.get(case.id).escalation_level == 1
    assert (report.evaluated, report.warnings, report.breaches) == (1, 1, 0)
    clock.advance(timedelta(days=2))  # Tuesday 10:00: 42 business hours used
    with crm.unit_of_work(AGENT) as uow:
        report = uow.cases.tick()
    assert (report.evaluated, report.warnings, report.breaches) == (1, 0, 1)
    with crm.unit_of_work(AGENT) as uow:
        escalated = uow.cases.get(case.id)
        assert uow.cases.tick().evaluated == 0  # a breached SLA stays breached, once
    assert escalated.escalation_level == 2
    assert escalated.sla is not None
    assert escalated.sla.run(SlaMetric.RESOLUTION).breached_at is not None


def test_resolved_cases_reopen_within_the_window_and_close_by_themselves_after(crm: Crm) -> None:
    clock = crm.clock
    assert isinstance(clock, FakeClock)
    bob = _customer(crm)
    with crm.unit_of_work(AGENT) as uow:
        case = uow.cases.open("Question", "How to reset?", type="question", contact_id=bob)
        uow.cases.resolve(case.id, "Sent the manual")
    clock.advance(timedelta(days=2))
    with crm.unit_of_work(AGENT) as uow:
        uow.cases.reopen(case.id)
        uow.cases.resolve(case.id, "Walked through it on the phone")
        uow.cases.rate(case.id, 5, "quick help")
    clock.advance(timedelta(days=8))
    with crm.unit_of_work(AGENT) as uow, pytest.raises(InvalidTransition, match="reopen"):
        uow.cases.reopen(case.id)
    with crm.unit_of_work(AGENT) as uow:
        closed = uow.cases.close_due()
    assert [c.status for c in closed] == [CaseStatus.CLOSED]


def test_articles_are_found_by_keywords_once_published(crm: Crm) -> None:
    with crm.unit_of_work(AGENT) as uow:
        reset = uow.articles.draft(
            "Resetting the pump controller", body="Hold the reset button ten seconds."
        )
        uow.articles.draft("Pump warranty", body="Two years on every pump.", tags=["warranty"])
        uow.articles.publish(reset.id)
    with crm.unit_of_work(AGENT) as uow:
        assert [a.title for a in uow.articles.search("reset pump")] == [
            "Resetting the pump controller"
        ]
        assert uow.articles.search("warranty") == ()  # still a draft


def test_escalating_a_complaint_is_atomic_at_every_step(crm: Crm) -> None:
    bob = _customer(crm)
    with crm.unit_of_work(AGENT) as uow:
        complaint = uow.complaints.receive(
            "Late delivery", "Two weeks late.", channel="phone", category="delivery",
            contact_id=bob, acknowledge=False,
        )  # fmt: skip
        uow.complaints.investigate(complaint.id)
    steps = every_step_is_atomic(crm, lambda uow: uow.complaints.escalate(complaint.id))
    assert steps == 3  # the case opened, its SLA clock started, the complaint escalated


def test_a_refund_needs_an_amount() -> None:
    with pytest.raises(crmkit.ValidationError, match="amount"):
        Resolution(ResolutionType.REFUND)
    assert Resolution(ResolutionType.REFUND, Money.of("20", "EUR")).amount == Money.of("20", "EUR")


def test_cases_are_routed_to_queues_and_assigned_by_skill_and_load() -> None:
    from crmkit.kernel.directory import Directory, User

    settings = crmkit.ServiceSettings(
        queues=(
            crmkit.Queue("billing", skills=("invoices",), types=("billing",)),
            crmkit.Queue("general"),
        ),
        directory=Directory(
            (
                User("u-ann", skills=("german",), capacity=1),
                User("u-ben", skills=("german", "invoices")),
                User("u-cat", skills=("invoices",)),
            )
        ),
    )
    crm = crmkit.open(
        "memory://", clock=FakeClock(MONDAY), ids=SequentialIds("r"), service=settings
    )
    bob = _customer(crm)
    with crm.unit_of_work(AGENT) as uow:
        bill = uow.cases.open("Wrong invoice", "Charged twice", type="billing", contact_id=bob,
                              skills_needed=["invoices"])  # fmt: skip
        other = uow.cases.open("Manual?", "Where is it?", type="question", contact_id=bob)
    assert (bill.queue, other.queue) == ("billing", "general")
    with crm.unit_of_work(AGENT) as uow:
        assert uow.cases.assign(bill.id).owner_id == "u-ben"  # has the skill, first in turn
    with crm.unit_of_work(AGENT) as uow:
        third = uow.cases.open("Refund", "Please", type="billing", contact_id=bob,
                               skills_needed=["invoices"])  # fmt: skip
    with crm.unit_of_work(AGENT) as uow:
        assert uow.cases.assign(third.id).owner_id == "u-cat"  # u-ben holds one case already
