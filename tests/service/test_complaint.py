"""Complaints: intake rules, resolution validation, acknowledgement data, events, serialisation."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from crmkit.app.notifier import Template
from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service import complaint_events
from crmkit.service.complaint import (
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    IntakeChannel,
    Resolution,
    ResolutionType,
    RootCause,
    acknowledgement,
)
from crmkit.service.complaint_events import (
    EVENTS,
    ComplaintEscalated,
    ComplaintReceived,
    ComplaintResolved,
)
from crmkit.testing._strategies_complaints import complaints, resolutions, root_causes

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "Mrs Jane Doe at 12 Elm Street"
_conv = make_converter()


def at(minutes: int = 0) -> Stamp:
    return Stamp(START + timedelta(minutes=minutes), "u-agent")


def receive(**changes: object) -> Complaint:
    given: dict[str, object] = {
        "channel": "phone", "subject": f"Complaint from {SECRET}", "description": SECRET,
        "category": "billing", "severity": "moderate", "contact_id": "c-1",
    }  # fmt: skip
    given.update(changes)
    complaint, _ = Complaint.receive("cmp-1", at(), **given)  # type: ignore[arg-type]
    return complaint


def round_trips(value: object) -> None:
    cls = type(value)
    data = _conv.unstructure(value)
    assert structure(_conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


# --- intake ---


def test_a_complaint_needs_a_contact_or_an_account() -> None:
    with pytest.raises(ValidationError) as info:
        receive(contact_id=None)
    assert info.value.field == "customer"
    assert receive(contact_id=None, account_id="a-1").account_id == "a-1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", "fax"),
        ("severity", "apocalyptic"),
        ("category", "Delivery Issue"),
        ("subject", ""),
        ("description", "   "),
        ("product_id", "p 1"),
        ("order_ref", 17),
        ("tags", "vip"),
    ],
)
def test_bad_intake_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        receive(**{field: value})
    assert info.value.field.split("[")[0] == field


def test_personal_fields_never_show_in_errors() -> None:
    with pytest.raises(ValidationError) as info:
        receive(description=SECRET + "\x00")
    assert SECRET not in str(info.value)
    assert info.value.value is None


def test_received_complaint_has_every_intake_field() -> None:
    complaint, event = Complaint.receive(
        "cmp-9", at(), channel=IntakeChannel.IN_PERSON, subject=" Broken  ",
        description="It broke.", category="product_quality", severity=ComplaintSeverity.CRITICAL,
        account_id="a-1", product_id="p-1", order_ref="ORD-1", contract_id="k-1",
        tags=["VIP", "vip", "Press"],
    )  # fmt: skip
    assert complaint.subject == "Broken"
    assert complaint.tags == ("press", "vip")
    assert (event.product_id, event.order_ref, event.contract_id) == ("p-1", "ORD-1", "k-1")
    assert event.subjects() == ("cmp-9", "a-1")
    assert event.summary() == "complaint received by in_person: product_quality, critical"
    assert Complaint.replay([event]) == complaint


# --- resolutions ---


@pytest.mark.parametrize("kind", ["refund", "credit"])
def test_refunds_and_credits_need_an_amount(kind: str) -> None:
    with pytest.raises(ValidationError) as info:
        Resolution(kind)
    assert (info.value.field, info.value.rule) == ("amount", f"is required for a {kind}")
    assert Resolution(kind, Money.of(5, "EUR")).amount == Money.of(5, "EUR")


def test_an_apology_forbids_an_amount() -> None:
    with pytest.raises(ValidationError, match="amount: must be None for an apology"):
        Resolution("apology", Money.of(5, "EUR"))
    assert Resolution(ResolutionType.APOLOGY).amount is None


def test_amounts_are_positive_money_and_types_are_known() -> None:
    with pytest.raises(ValidationError, match="must be positive"):
        Resolution("refund", Money.of(0, "EUR"))
    with pytest.raises(ValidationError) as info:
        Resolution("refund", "20.00")  # type: ignore[arg-type]
    assert info.value.field == "amount"
    with pytest.raises(ValidationError) as info:
        Resolution("voucher")
    assert info.value.field == "type"
    assert Resolution("replacement", Money.of("99.90", "EUR")).amount is not None
    assert str(Resolution("repair")) == "repair"


def test_root_cause_category_is_a_token_and_note_is_personal() -> None:
    with pytest.raises(ValidationError) as info:
        RootCause("Carrier Damage")
    assert info.value.field == "category"
    with pytest.raises(ValidationError) as info:
        RootCause("carrier", SECRET + "\x01")
    assert info.value.value is None
    assert SECRET not in str(info.value)


def test_resolve_needs_a_resolution_and_a_root_cause() -> None:
    complaint, _ = receive().investigate(at(1))
    with pytest.raises(ValidationError) as info:
        complaint.resolve("refund", RootCause("x"), at(2))  # type: ignore[arg-type]
    assert info.value.field == "resolution"
    with pytest.raises(ValidationError) as info:
        complaint.resolve(Resolution("apology"), "late", at(2))  # type: ignore[arg-type]
    assert info.value.field == "root_cause"


# --- lifecycle details ---


def test_escalation_records_the_case_once_and_shows_on_its_timeline() -> None:
    complaint, _ = receive().acknowledge(at(1))
    complaint, event = complaint.escalate("case-1", at(2))
    assert isinstance(event, ComplaintEscalated)
    assert (complaint.status, complaint.case_id) == (ComplaintStatus.INVESTIGATING, "case-1")
    assert event.subjects() == ("cmp-1", "c-1", "case-1")
    with pytest.raises(InvalidTransition, match="already escalated to case case-1"):
        complaint.escalate("case-2", at(3))
    complaint, later = complaint.assign("u-2", at(4))
    assert "case-1" in later.subjects()


def test_received_complaints_cannot_be_resolved_or_escalated_before_acknowledgement() -> None:
    complaint = receive()
    with pytest.raises(InvalidTransition, match="complaint in state 'received' cannot 'resolve'"):
        complaint.resolve(Resolution("apology"), RootCause("x"), at(1))
    with pytest.raises(InvalidTransition, match="'escalate'"):
        complaint.escalate("case-1", at(1))


def test_reopen_clears_the_resolution_but_history_keeps_it() -> None:
    complaint, received = Complaint.receive(
        "cmp-2", at(), channel="web", subject="s", description="d", category="billing",
        severity="minor", contact_id="c-1",
    )  # fmt: skip
    complaint, e1 = complaint.acknowledge(at(1))
    complaint, e2 = complaint.resolve(
        Resolution("credit", Money.of(10, "EUR")), RootCause("x"), at(2)
    )
    assert complaint.resolved_at == at(2).at
    with pytest.raises(InvalidTransition, match="reopen it first"):
        complaint.assign("u-1", at(3))
    complaint, e3 = complaint.reopen("Credit never arrived.", at(3))
    assert complaint.status is ComplaintStatus.INVESTIGATING
    assert (complaint.resolution, complaint.root_cause, complaint.resolved_at) == (None, None, None)
    assert isinstance(e2, ComplaintResolved)
    assert e2.resolution.amount == Money.of(10, "EUR")
    assert Complaint.replay([received, e1, e2, e3]) == complaint


def test_a_rejected_complaint_is_final_and_keeps_its_reason() -> None:
    complaint, event = receive().reject("Outside warranty.", at(1))
    assert complaint.rejection_reason == "Outside warranty."
    assert event.summary() == "complaint rejected"
    with pytest.raises(InvalidTransition, match="a closed complaint does not change"):
        complaint.categorise("delivery", "minor", at(2))
    with pytest.raises(InvalidTransition):
        complaint.reopen("again", at(2))


def test_replay_refuses_foreign_or_out_of_order_events() -> None:
    complaint, received = Complaint.receive(
        "cmp-3", at(), channel="web", subject="s", description="d", category="billing",
        severity="minor", contact_id="c-1",
    )  # fmt: skip
    _, ack = complaint.acknowledge(at(1))
    with pytest.raises(ValidationError):
        Complaint.replay([ack])
    with pytest.raises(ValidationError):
        Complaint.replay([received, ack, ack])


# --- acknowledgement data ---


def test_acknowledgement_gives_the_template_its_values() -> None:
    complaint = receive(subject="Late delivery")
    values = acknowledgement(complaint)
    assert values == {
        "complaint_id": "cmp-1",
        "subject": "Late delivery",
        "received_on": "2026-03-02",
        "received_at": "2026-03-02T09:00:00+00:00",
        "channel": "phone",
        "category": "billing",
        "severity": "moderate",
    }
    template = Template("Re: $subject [$complaint_id]", "We received it on $received_on.")
    assert template.render(values) == (
        "Re: Late delivery [cmp-1]", "We received it on 2026-03-02.", None,
    )  # fmt: skip
    with pytest.raises(ValidationError):
        acknowledgement("cmp-1")  # type: ignore[arg-type]


# --- events and serialisation ---


def test_events_are_unique_and_summaries_hold_no_personal_data() -> None:
    assert len({cls.event_type for cls in EVENTS}) == len(EVENTS)
    assert all(cls.aggregate_kind == "complaint" for cls in EVENTS)
    complaint, received = Complaint.receive(
        "cmp-4", at(), channel="email", subject=SECRET, description=SECRET, category="billing",
        severity="minor", contact_id="c-1",
    )  # fmt: skip
    events: list[DomainEvent] = [received]
    commands: tuple[Callable[[Complaint, Stamp], tuple[Complaint, DomainEvent]], ...] = (
        lambda c, s: c.acknowledge(s),
        lambda c, s: c.escalate("case-9", s),
        lambda c, s: c.assign("u-1", s),
        lambda c, s: c.categorise("delivery", "major", s),
        lambda c, s: c.retag(["vip"], s),
        lambda c, s: c.resolve(
            Resolution("refund", Money.of(1, "EUR"), SECRET), RootCause("x", SECRET), s
        ),
        lambda c, s: c.reopen(SECRET, s),
        lambda c, s: c.reject(SECRET, s),
    )
    for command in commands:
        complaint, event = command(complaint, at(len(events)))
        events.append(event)
    assert {type(e) for e in events} == set(EVENTS) - {complaint_events.ComplaintInvestigating}
    for event in events:
        assert SECRET not in event.summary()
        assert event.summary().startswith("complaint ")
        round_trips(event)
    assert Complaint.replay(events) == complaint
    round_trips(complaint)
    assert isinstance(events[0], ComplaintReceived)


@settings(max_examples=60)
@given(complaints(), resolutions(), root_causes())
def test_aggregates_and_values_round_trip(
    complaint: Complaint, resolution: Resolution, cause: RootCause
) -> None:
    round_trips(complaint)
    round_trips(resolution)
    round_trips(cause)
    acked, _ = complaint.acknowledge(Stamp(complaint.created_at + timedelta(hours=1), "u-1"))
    resolved, event = acked.resolve(resolution, cause, Stamp(acked.updated_at, "u-1"))
    round_trips(resolved)
    round_trips(event)
    assert acknowledgement(complaint)["complaint_id"] == complaint.id
