"""Inbound messages on the store: threading by real header shapes, every routing rule,
atomicity and bad input, on the memory store and SQLite (PostgreSQL with a test server)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest

from crmkit import Crm, Email, FakeClock, Principal
from crmkit.activities.activity import Activity, ActivityKind, RecordRef
from crmkit.app.inbound import InboundMessage, InboundResult
from crmkit.app.records import ACTIVITIES, CASES, COMPLAINTS, LEADS
from crmkit.interactions.routing import (
    DEFAULT_ROUTING,
    Match,
    Rule,
    omitting,
)
from crmkit.interactions.threading import InboundEmail, from_headers
from crmkit.kernel.errors import NotFound, ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.parties.values import Phone
from crmkit.ports.storage import DocumentStore
from crmkit.service.case import CaseStatus

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT = Principal("u-agent")
OFFER_ID = "<offer-1@crm.example>"  # what crmkit sent on the opportunity
ACK_ID = "<case-ack-1@crm.example>"  # what crmkit sent on the case


@attrs.frozen
class World:
    """Ann (open case and open opportunity), Bob (open opportunity), Cleo (nothing open)."""

    crm: Crm
    clock: FakeClock
    ann: str
    bob: str
    cleo: str
    acme: str
    case: str
    case_number: str
    deal: str
    bob_deal: str
    offer_activity: str
    ack_activity: str


@pytest.fixture
def world(any_store: DocumentStore) -> World:
    clock = FakeClock(START)
    crm = Crm(any_store, clock=clock, ids=SequentialIds("r"))
    with crm.unit_of_work(AGENT) as uow:
        acme = uow.accounts.create("ACME GmbH")
        ann = uow.contacts.create(
            "Berg", first_name="Ann", emails=[Email("ann.berg@example.com")],
            phones=[Phone("+4930123456")], account_id=acme.id,
        )  # fmt: skip
        bob = uow.contacts.create("Bauer", first_name="Bob", emails=[Email("bob@example.com")])
        cleo = uow.contacts.create("Chen", first_name="Cleo", emails=[Email("cleo@example.com")])
        due = date(2026, 6, 30)
        deal = uow.opportunities.open(
            "ACME upgrade", amount=Money.of("1000", "EUR"), close_date=due, contact_ids=[ann.id]
        )
        bob_deal = uow.opportunities.open(
            "Bob's licence", amount=Money.of("50", "EUR"), close_date=due, contact_ids=[bob.id]
        )
        about = [RecordRef("opportunity", deal.id), RecordRef("contact", ann.id)]
        offer = uow.activities.log(
            "email", "Your offer", about, direction="outbound", message_id=OFFER_ID
        )
    clock.advance(timedelta(hours=1))  # the case is Ann's most recently updated record
    with crm.unit_of_work(AGENT) as uow:
        case = uow.cases.open("Printer jams", "It jams", type="incident", contact_id=ann.id)
        ack = uow.activities.log(
            "email", "We got your request", [RecordRef("case", case.id)],
            direction="outbound", message_id=ACK_ID,
        )  # fmt: skip
    clock.advance(timedelta(hours=1))
    return World(
        crm, clock, ann.id, bob.id, cleo.id, acme.id, case.id, case.number, deal.id,
        bob_deal.id, offer.id, ack.id,
    )  # fmt: skip


def receive(world: World, message: InboundMessage, **kw: Any) -> InboundResult:
    with world.crm.unit_of_work(AGENT) as uow:
        return uow.inbound.receive(message, **kw)


def email(world: World, headers: dict[str, str], body: str = "") -> InboundResult:
    return receive(world, InboundMessage.of_email(from_headers(headers), body=body))


def on_timeline(world: World, record_id: str, activity_id: str) -> bool:
    page = world.crm.timeline(record_id, AGENT, limit=50)
    return any(entry.record == RecordRef("activity", activity_id) for entry in page.items)


def count(world: World, rtype: Any) -> int:
    with world.crm.unit_of_work(AGENT) as uow:
        return sum(1 for _ in uow.find_ids(rtype))


# --- threading: real header shapes -------------------------------------------------------------


def test_a_reply_with_in_reply_to_goes_to_the_thread_not_the_open_case(world: World) -> None:
    # Gmail: In-Reply-To and References both name crmkit's offer. Ann has a newer open case,
    # which the open_case rule would pick: the thread decides first.
    got = email(world, {
        "Message-ID": "<CAJx1=b7Kq+9@mail.gmail.com>",
        "In-Reply-To": OFFER_ID,
        "References": OFFER_ID,
        "Subject": "Re: Your offer",
        "From": "Ann Berg <Ann.Berg@Example.COM>",
        "Date": "Mon, 2 Mar 2026 12:15:02 +0100",
    }, body="Looks good, send the contract.")  # fmt: skip
    assert got.record == RecordRef("opportunity", world.deal)
    assert (got.rule, got.reason) == ("thread", "continues the thread by in_reply_to")
    assert (got.thread.by, got.thread.matched_id) == ("in_reply_to", OFFER_ID)
    assert got.thread_activity_id == world.offer_activity
    assert (got.created, got.duplicate, got.contact_id) == (False, False, world.ann)
    activity = got.activity
    assert (activity.kind, activity.direction, activity.status) == ("email", "inbound", "done")
    assert activity.links == (
        RecordRef("opportunity", world.deal), RecordRef("contact", world.ann),
        RecordRef("account", world.acme),
    )  # fmt: skip
    assert activity.message_id == "<CAJx1=b7Kq+9@mail.gmail.com>"
    assert activity.references == (OFFER_ID,)
    assert activity.occurred_at == datetime(2026, 3, 2, 11, 15, 2, tzinfo=UTC)
    for record in (world.deal, world.ann, world.acme):
        assert on_timeline(world, record, activity.id)
    # The stored activity reads back with its thread ids.
    with world.crm.unit_of_work(AGENT) as uow:
        assert uow.activities.get(activity.id) == activity


def test_a_forward_starts_a_fresh_thread(world: World) -> None:
    # Fwd: keeps the old References but has no In-Reply-To: a new thread, routed by the rules.
    got = email(world, {
        "Message-ID": "<fwd-1@example.com>",
        "References": OFFER_ID,
        "Subject": "Fwd: Your offer",
        "From": "ann.berg@example.com",
    })  # fmt: skip
    assert not got.thread.found
    assert got.thread_activity_id is None
    assert (got.rule, got.record) == ("open_case", RecordRef("case", world.case))
    assert got.reason == "most recently updated open case (1 open)"


def test_a_reply_without_in_reply_to_threads_by_references(world: World) -> None:
    # Some mobile and web clients drop In-Reply-To but keep References.
    got = email(world, {
        "Message-ID": "<r-42@mobile.example>",
        "References": f"<root@elsewhere.example>\r\n {OFFER_ID}",
        "Subject": "AW: Your offer",
        "From": "bob@example.com",  # a colleague forwarded it to Bob, who answers in the thread
    })  # fmt: skip
    assert got.record == RecordRef("opportunity", world.deal)
    assert (got.rule, got.thread.by, got.thread.matched_id) == ("thread", "references", OFFER_ID)
    assert got.contact_id == world.bob
    assert got.activity.links[:2] == (
        RecordRef("opportunity", world.deal), RecordRef("contact", world.bob),
    )  # fmt: skip


def test_a_long_references_chain_takes_the_newest_known_id(world: World) -> None:
    # 14 ids, oldest first: the ack of the case at position 3, the offer at position 10, the
    # rest unknown; In-Reply-To (the last) is unknown too. Newest first: the offer wins.
    chain = [f"<m{i}@chain.example>" for i in range(14)]
    chain[3], chain[10] = ACK_ID, OFFER_ID
    got = email(world, {
        "Message-ID": "<m14@chain.example>",
        "In-Reply-To": chain[-1],
        "References": "\r\n\t".join(chain),
        "Subject": "Re: Re: Re: Re: everything",
        "From": "cleo@example.com",
    })  # fmt: skip
    assert got.record == RecordRef("opportunity", world.deal)
    assert (got.thread.by, got.thread.matched_id) == ("references", OFFER_ID)
    assert got.activity.references == tuple(chain)
    # A chain whose only known id is the case's (older) ack goes to the case. (The ids of
    # the first chain are known now: the message logged above refers to them.)
    chain = [f"<n{i}@chain.example>" for i in range(14)]
    chain[3] = ACK_ID
    got = email(world, {
        "Message-ID": "<n14@chain.example>",
        "References": " ".join(chain),
        "Subject": "Re: everything",
        "From": "cleo@example.com",
    })  # fmt: skip
    assert (got.record, got.thread.matched_id) == (RecordRef("case", world.case), ACK_ID)
    assert got.thread_activity_id == world.ack_activity


def test_a_subject_case_tag_finds_the_case(world: World) -> None:
    # Outlook kept only Thread-Index; the case number in the subject finds the case.
    got = email(world, {
        "Subject": f"RE: [Case #{world.case_number}] Printer jams",
        "Thread-Index": "AQHZ5q8xR3JhbmQ0Ymx1ZWJveA==",
        "From": "it-desk@acme.example",
    })  # fmt: skip
    assert got.record == RecordRef("case", world.case)
    assert (got.rule, got.thread.by, got.thread.matched_id) == (
        "thread", "subject", world.case_number,
    )  # fmt: skip
    assert got.thread_activity_id is None
    assert got.contact_id is None
    assert got.activity.links == (RecordRef("case", world.case),)
    # A lower-case tag and a tag naming the case id find it too.
    lower = email(
        world, {"Subject": f"[#{world.case_number.lower()}] still", "From": "x@y.example"}
    )
    by_id = email(world, {"Subject": f"[Ticket #{world.case}] again", "From": "x@y.example"})
    assert lower.record == by_id.record == RecordRef("case", world.case)


def test_replies_chain_on_messages_crmkit_logged(world: World) -> None:
    # A reply to the inbound reply: its Message-ID was stored, so the next one finds it.
    first = email(world, {
        "Message-ID": "<a1@example.com>", "In-Reply-To": ACK_ID, "References": ACK_ID,
        "Subject": "Re: We got your request", "From": "ann.berg@example.com",
    })  # fmt: skip
    second = email(world, {
        "Message-ID": "<a2@example.com>", "In-Reply-To": "<a1@example.com>",
        "Subject": "Re: Re: We got your request", "From": "ann.berg@example.com",
    })  # fmt: skip
    assert first.record == second.record == RecordRef("case", world.case)
    assert second.thread_activity_id == first.activity.id
    # A reply to a message crmkit never saw, whose thread it logged (the references of a1).
    sibling = email(world, {
        "Message-ID": "<a3@example.com>", "In-Reply-To": "<lost@example.com>",
        "References": f"{ACK_ID} <lost@example.com>", "Subject": "Re: lost",
        "From": "cleo@example.com",
    })  # fmt: skip
    assert sibling.record == RecordRef("case", world.case)
    assert sibling.thread_activity_id == world.ack_activity


def test_the_same_email_delivered_twice_is_logged_once(world: World) -> None:
    headers = {"Message-ID": "<dup@example.com>", "In-Reply-To": OFFER_ID, "Subject": "Re: x",
               "From": "ann.berg@example.com"}  # fmt: skip
    first = email(world, headers)
    before = count(world, ACTIVITIES)
    again = email(world, headers)
    assert again.duplicate
    assert not first.duplicate
    assert (again.activity, again.record, again.rule) == (first.activity, first.record, None)
    assert again.contact_id == world.ann
    assert count(world, ACTIVITIES) == before


def test_a_reply_to_a_case_waiting_on_the_customer_resumes_it(world: World) -> None:
    with world.crm.unit_of_work(AGENT) as uow:
        uow.cases.assign(world.case, "u-agent")
        uow.cases.start(world.case)
        uow.cases.wait_on_customer(world.case)
    got = email(world, {"Message-ID": "<w@example.com>", "In-Reply-To": ACK_ID, "Subject": "Re",
                        "From": "ann.berg@example.com"})  # fmt: skip
    assert got.record == RecordRef("case", world.case)
    with world.crm.unit_of_work(AGENT) as uow:
        assert uow.cases.get(world.case).status is CaseStatus.IN_PROGRESS


# --- routing on the store: every default rule ----------------------------------------------------


def test_open_case_a_call_from_a_known_number(world: World) -> None:
    # The number written another way still matches Ann's stored +4930123456 exactly.
    got = receive(world, InboundMessage("call", "+49 30 123456", body="Printer still jams"))
    assert (got.rule, got.record, got.created) == (
        "open_case",
        RecordRef("case", world.case),
        False,
    )
    assert got.contact_id == world.ann
    assert got.activity.kind is ActivityKind.CALL
    assert got.activity.subject == "Inbound call"
    assert on_timeline(world, world.case, got.activity.id)
    assert on_timeline(world, world.ann, got.activity.id)


def test_open_case_the_most_recently_updated_of_two(world: World) -> None:
    with world.crm.unit_of_work(AGENT) as uow:
        newer = uow.cases.open("Toner", "Empty", type="incident", contact_id=world.ann)
    got = receive(world, InboundMessage("chat", "ann.berg@example.com", "Hello"))
    assert got.record == RecordRef("case", newer.id)
    assert got.reason == "most recently updated open case (2 open)"


def test_open_opportunity_for_a_contact_without_cases(world: World) -> None:
    got = receive(world, InboundMessage("chat", "BOB@example.com", "Pricing?", "How much more?"))
    assert (got.rule, got.record) == ("open_opportunity", RecordRef("opportunity", world.bob_deal))
    assert got.reason == "most recently updated open opportunity (1 open)"
    assert got.activity.kind is ActivityKind.CHAT
    assert on_timeline(world, world.bob_deal, got.activity.id)
    assert on_timeline(world, world.bob, got.activity.id)


def test_complaint_words_make_a_complaint_for_a_known_contact(world: World) -> None:
    got = receive(world, InboundMessage("social", "cleo@example.com", "Arrived BROKEN"))
    assert (got.rule, got.reason, got.created) == ("complaint", "text contains 'broken'", True)
    assert got.record.kind == "complaint"
    with world.crm.unit_of_work(AGENT) as uow:
        complaint = uow.complaints.get(got.record.id)
    assert (complaint.contact_id, complaint.channel, complaint.category) == (
        world.cleo, "social", "general",
    )  # fmt: skip
    assert complaint.subject == "Arrived BROKEN"
    assert got.activity.kind is ActivityKind.SOCIAL
    assert on_timeline(world, got.record.id, got.activity.id)
    assert on_timeline(world, world.cleo, got.activity.id)


def test_complaint_words_from_an_unknown_sender_create_the_contact(world: World) -> None:
    # A complaint needs a customer: the sender becomes a contact, as help desks do.
    message = InboundMessage("call", "+4940999888", body="I want a refund", name="Dora Diaz")
    got = receive(world, message, acknowledge=False)
    assert (got.rule, got.record.kind, got.contact_created) == ("complaint", "complaint", True)
    with world.crm.unit_of_work(AGENT) as uow:
        complaint = uow.complaints.get(got.record.id)
        contact = uow.contacts.get(complaint.contact_id or "")
    assert (complaint.channel, contact.last_name, contact.phones) == (
        "phone", "Dora Diaz", (Phone("+4940999888"),),
    )  # fmt: skip
    assert got.contact_id == contact.id
    assert got.activity.links == (got.record, RecordRef("contact", contact.id))
    # The next call from that number is the new contact's; a complaint is not an open case,
    # and the call has no complaint words, so it opens a case.
    again = receive(world, InboundMessage("call", "+49 40 999888", "Any news?"))
    assert (again.contact_id, again.rule, again.contact_created) == (contact.id, "new_case", False)
    # A withheld number with nothing to file the complaint under is refused.
    with pytest.raises(ValidationError) as error:
        receive(world, InboundMessage("call", "", body="I want a refund"))
    assert error.value.field == "sender"


def test_new_case_for_a_known_contact_without_open_records(world: World) -> None:
    got = receive(world, InboundMessage("email", "cleo@example.com", "How do I reset it?"))
    assert (got.rule, got.reason, got.created) == (
        "new_case", "a known contact without open records", True,
    )  # fmt: skip
    with world.crm.unit_of_work(AGENT) as uow:
        case = uow.cases.get(got.record.id)
    assert (case.contact_id, case.type, case.subject) == (
        world.cleo,
        "inbound",
        "How do I reset it?",
    )
    assert on_timeline(world, case.id, got.activity.id)


def test_new_lead_for_an_unknown_sender_then_reused(world: World) -> None:
    got = receive(world, InboundMessage("social", "@newfan", "What does it cost?"))
    assert (got.rule, got.reason, got.created) == ("new_lead", "an unknown sender", True)
    with world.crm.unit_of_work(AGENT) as uow:
        lead = uow.leads.get(got.record.id)
    assert (lead.last_name, lead.source.channel) == ("@newfan", "social")
    assert on_timeline(world, lead.id, got.activity.id)
    # An unknown email sender writes twice: the second message reuses the first lead.
    first = receive(world, InboundMessage("email", "dana@startup.example", "Demo?"))
    again = receive(world, InboundMessage("email", "Dana@Startup.example", "Demo, please?"))
    assert first.created
    assert not again.created
    assert again.record == first.record
    with world.crm.unit_of_work(AGENT) as uow:
        assert uow.leads.get(first.record.id).email == Email("dana@startup.example")


def test_custom_rules_on_the_store(world: World) -> None:
    # Without open_case, Ann's call goes to her open opportunity.
    got = receive(
        world, InboundMessage("call", "+4930123456"), rules=omitting(DEFAULT_ROUTING, "open_case")
    )
    assert (got.rule, got.record) == ("open_opportunity", RecordRef("opportunity", world.deal))
    with pytest.raises(ValidationError) as no_rule:
        receive(world, InboundMessage("chat", "x"), rules=omitting(DEFAULT_ROUTING, "new_lead"))
    assert no_rule.value.field == "rules"

    def new_deal(inbound: object, context: object) -> Match:
        return Match("opportunity", None, "always")

    with pytest.raises(ValidationError) as refused:
        receive(world, InboundMessage("chat", "x"), rules=[Rule("deal", new_deal)])
    assert refused.value.field == "route"


# --- atomicity ---------------------------------------------------------------------------------


def test_a_failure_leaves_the_store_as_it_was(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = (ACTIVITIES, LEADS, COMPLAINTS, CASES)
    before = [count(world, rtype) for rtype in kinds]
    timeline = len(world.crm.timeline(world.cleo, AGENT, limit=100).items)

    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Activity, "log", broken)
    for message in (
        InboundMessage("social", "cleo@example.com", "broken again"),  # a complaint, then fails
        InboundMessage("chat", "@someone", "hi"),  # a lead, then fails
        InboundMessage("call", "cleo@example.com", "question"),  # a case, then fails
    ):
        with pytest.raises(RuntimeError):
            receive(world, message)
    assert [count(world, rtype) for rtype in kinds] == before
    assert len(world.crm.timeline(world.cleo, AGENT, limit=100).items) == timeline
    monkeypatch.undo()

    # A later command of the same unit that fails undoes the new lead and its activity too.
    def lead_then_fail() -> None:
        with world.crm.unit_of_work(AGENT) as uow:
            uow.inbound.receive(InboundMessage("email", "eve@new.example", "Hi"))
            uow.activities.log("email", "x", [], direction="inbound")

    with pytest.raises(ValidationError, match="about"):
        lead_then_fail()
    assert [count(world, rtype) for rtype in kinds] == before


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: InboundMessage("fax", "x"), "channel"),
        (lambda: InboundMessage("chat", 5), "sender"),
        (lambda: InboundMessage("call", "x", email=InboundEmail()), "email"),
        (lambda: InboundMessage("chat", "x", email="<a@b>"), "email"),
        (lambda: InboundMessage("chat", "x", occurred_at=datetime(2026, 3, 1)), "occurred_at"),
        (lambda: InboundMessage("chat", "x", subject="a\x00b"), "subject"),
        (lambda: InboundMessage("chat", "x", contact_id=""), "contact_id"),
        (lambda: InboundMessage.of_email({"Subject": "x"}), "email"),  # type: ignore[arg-type]
    ],
)
def test_bad_messages_name_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        build()
    assert error.value.field == field


def test_bad_calls_name_the_field(world: World) -> None:
    with world.crm.unit_of_work(AGENT) as uow:
        with pytest.raises(ValidationError) as error:
            uow.inbound.receive("From: ann@example.com")  # type: ignore[arg-type]
        assert error.value.field == "message"
        with pytest.raises(ValidationError) as error:
            uow.inbound.receive(InboundMessage("chat", "x"), rules=[object()])  # type: ignore[list-item]
        assert error.value.field == "rules[0]"
        with pytest.raises(NotFound):
            uow.inbound.receive(InboundMessage("chat", "x", contact_id="c-missing"))


def test_long_subjects_are_cut_to_one_line() -> None:
    message = InboundMessage.of_email(from_headers({"Subject": "x" * 998}))
    assert message.subject == "x" * 200


# --- the activity's new field ------------------------------------------------------------------


def test_activity_references_round_trip_and_old_records_load() -> None:
    activity, _ = Activity.log(
        "a-1", "chat", "Hi", (RecordRef("lead", "l-1"),), _stamp(),
        message_id="<m@x>", references=("<r1@x>", "<r2@x>", "<r1@x>"),
    )  # fmt: skip
    assert activity.references == ("<r1@x>", "<r2@x>")
    conv = make_converter()
    data = conv.unstructure(activity)
    assert structure(conv, data, Activity) == activity
    assert Loaders().load(Activity, json.loads(dumps(data))) == activity
    old = {key: value for key, value in data.items() if key != "references"}
    assert Loaders().load(Activity, old).references == ()
    assert structure(conv, old, Activity).references == ()
    with pytest.raises(ValidationError) as error:
        Activity.log("a-2", "email", "Hi", (RecordRef("lead", "l-1"),), _stamp(),
                     references=("<a@b>", 5))  # type: ignore[arg-type]  # fmt: skip
    assert error.value.field == "references[1]"


def _stamp() -> Any:
    from crmkit.kernel.events import Stamp

    return Stamp(START, "u-agent")


def test_message_ids_are_indexed_for_threading(world: World) -> None:
    with world.crm.unit_of_work(AGENT) as uow:
        offer = uow.activities.get(world.offer_activity)
        assert ACTIVITIES.index(offer)["message_ids"] == (OFFER_ID,)
        threaded = attrs.evolve(offer, references=(ACK_ID, OFFER_ID))
        assert ACTIVITIES.index(threaded)["message_ids"] == (OFFER_ID, ACK_ID)
