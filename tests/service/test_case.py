"""Service cases: opening, the reopen window, auto-close, CSAT, escalation, merge,
parent and child, SLA pause bookkeeping, timeline lines, and serialisation."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp, is_personal
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.calendar import BusinessCalendar
from crmkit.service.case import (
    DEFAULT_AUTO_CLOSE_AFTER,
    DEFAULT_REOPEN_WINDOW,
    CaseStatus,
    Csat,
    Pause,
    Priority,
    ServiceCase,
    Severity,
)
from crmkit.service.case_events import EVENTS, CaseEvent, CaseOpened
from crmkit.service.sla import SlaBreached, SlaClock, SlaWarning
from crmkit.service.sla_policy import SlaMetric, SlaPolicy, SlaTarget
from crmkit.testing._strategies_cases import case_histories, csats

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = CaseStatus


def at(hours: float = 0, days: float = 0) -> Stamp:
    return Stamp(T0 + timedelta(hours=hours, days=days), "u-7")


def opened(**overrides: object) -> ServiceCase:
    fields: dict[str, object] = {
        "subject": "Anna Muster: printer offline",
        "description": "Call Anna on +49 170 1234567",
        "type": "incident",
        "priority": "high",
        "severity": Severity.MAJOR,
        "contact_id": "c-1",
        "account_id": "a-1",
        "complaint_id": "cmp-1",
        "queue": "first_line",
        "skills_needed": ("printing", "german", "printing"),
    }
    fields.update(overrides)
    return ServiceCase.open("case-1", "CS-0001", at(), **fields)[0]  # type: ignore[arg-type]


def resolved(hours: float = 1) -> ServiceCase:
    case = opened().assign("u-1", at(0.1))[0].start(at(0.2))[0]
    return case.resolve("Replaced the toner.", at(hours))[0]


def test_open_checks_and_cleans_its_input() -> None:
    case = opened()
    assert (case.status, case.version, case.priority) == (S.NEW, 1, Priority.HIGH)
    assert case.skills_needed == ("german", "printing")
    assert case.created_at == case.updated_at == T0
    assert ServiceCase.open(
        "case-2", "CS-2", at(), subject="s", description="", type="question",
        priority="low", severity="minor", account_id="a-1",
    )[0].contact_id is None  # fmt: skip
    with pytest.raises(ValidationError, match="contact_id or an account_id"):
        opened(contact_id=None, account_id=None)
    with pytest.raises(ValidationError) as info:
        opened(type="Incident!")
    assert info.value.field == "type"
    with pytest.raises(ValidationError, match="priority"):
        opened(priority="asap")
    with pytest.raises(ValidationError) as info:
        opened(subject="bad\x00subject")
    assert info.value.field == "subject"  # personal: redacted
    assert info.value.value is None
    with pytest.raises(ValidationError, match="stamp"):
        ServiceCase.open("case-1", "CS-1", "now", subject="s", description="d", type="x",  # type: ignore[arg-type]
                         priority="low", severity="minor", contact_id="c-1")  # fmt: skip


def test_reopen_only_inside_the_window() -> None:
    case = resolved(hours=1)
    inside = case.reopen(at(hours=1, days=7))[0]
    assert (inside.status, inside.reopened_count, inside.resolved_at) == (S.IN_PROGRESS, 1, None)
    assert inside.resolution_note is None
    with pytest.raises(InvalidTransition) as info:
        case.reopen(at(hours=1.01, days=7))
    assert (info.value.state, info.value.command) == ("resolved", "reopen")
    assert "resolved more than" in str(info.value)
    assert case.reopen(at(days=20), within=timedelta(days=30))[0].reopened_count == 1
    with pytest.raises(ValidationError, match="within"):
        case.reopen(at(days=1), within=-timedelta(days=1))
    again = inside.resolve("Fixed for real.", at(days=8))[0].reopen(at(days=9))[0]
    assert again.reopened_count == 2
    assert timedelta(days=7) == DEFAULT_REOPEN_WINDOW


def test_auto_close_is_due_after_n_days_resolved() -> None:
    case = resolved(hours=1)
    assert not case.auto_close_due(T0 + timedelta(days=7))
    assert case.auto_close_due(T0 + timedelta(days=7, hours=1))
    assert case.auto_close_due(T0 + timedelta(days=2, hours=1), after=timedelta(days=2))
    assert timedelta(days=7) == DEFAULT_AUTO_CLOSE_AFTER
    assert not opened().auto_close_due(T0 + timedelta(days=90))
    closed, event = case.close(at(days=8), automatic=True)
    assert (closed.status, closed.closed_at, event.automatic) == (S.CLOSED, at(days=8).at, True)
    assert event.summary() == "case closed automatically"
    assert not closed.auto_close_due(T0 + timedelta(days=90))
    with pytest.raises(ValidationError, match="timezone"):
        case.auto_close_due(datetime(2026, 4, 1))


def test_csat_only_once_and_only_when_resolved_or_closed() -> None:
    with pytest.raises(InvalidTransition) as info:
        opened().rate(Csat(5), at(1))
    assert (info.value.state, info.value.command) == ("new", "rate")
    case, event = resolved().rate(Csat(4, "  Quick, thanks "), at(2))
    assert case.csat == Csat(4, "Quick, thanks", at(2).at)  # time filled from the stamp
    assert event.summary() == "case rated 4/5"
    with pytest.raises(InvalidTransition, match="already rated"):
        case.rate(Csat(5), at(3))
    closed = resolved().close(at(2))[0]
    assert closed.rate(Csat(1, None, T0), at(3))[0].csat == Csat(1, None, T0)
    for bad in (0, 6, True, "5"):
        with pytest.raises(ValidationError, match="score"):
            Csat(bad)  # type: ignore[arg-type]


def test_escalation_only_goes_up_unless_set_by_hand() -> None:
    case, event = opened().escalate(2, at(1), "VIP customer")
    assert (case.escalation_level, event.previous_level, event.by_hand) == (2, 0, False)
    with pytest.raises(InvalidTransition, match="only go up"):
        case.escalate(1, at(2), "calmer")
    lowered = case.escalate(0, at(2), "calmer", by_hand=True)[0]
    assert lowered.escalation_level == 0
    with pytest.raises(ValidationError, match="differ"):
        case.escalate(2, at(2), "again")
    for bad in (-1, 4, 1.0, True):
        with pytest.raises(ValidationError, match="level"):
            case.escalate(bad, at(2), "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        resolved().escalate(1, at(2), "too late")


def test_waiting_on_customer_records_pauses_for_an_sla_clock() -> None:
    case = opened().assign("u-1", at(0.5))[0].start(at(1))[0]
    case, _ = case.respond(at(1.5))
    case = case.wait_on_customer(at(2))[0]
    assert case.waiting_since == at(2).at
    assert case.paused_for(at(5).at) == timedelta(hours=3)
    case, replied = case.customer_replied(at(6))
    assert replied.pause == Pause(at(2).at, at(6).at)
    assert case.waiting_since is None
    case = case.wait_on_customer(at(7))[0]
    case, done = case.resolve("Customer confirmed.", at(8))  # resolving ends the wait
    assert done.pause == Pause(at(7).at, at(8).at)
    assert case.pause_intervals == ((at(2).at, at(6).at), (at(7).at, at(8).at))
    assert case.paused_for(at(4).at) == timedelta(hours=2)
    assert case.paused_for(at(100).at) == timedelta(hours=5)
    assert case.first_responded_at == at(1.5).at
    with pytest.raises(ValidationError, match="ended_at"):
        Pause(at(2).at, at(1).at)


def test_first_response_is_recorded_once() -> None:
    case, first = opened().respond(at(1))
    case, second = case.respond(at(2))
    assert (first.first, second.first) == (True, False)
    assert case.first_responded_at == at(1).at
    assert second.summary() == "response to the customer"


def test_stamps_must_not_go_back_in_time() -> None:
    case = opened().assign("u-1", at(2))[0]
    with pytest.raises(ValidationError, match="last change"):
        case.start(at(1))
    with pytest.raises(ValidationError, match="stamp"):
        case.start(Stamp(datetime(2026, 3, 3), "u-7"))


def test_assign_reassigns_and_keeps_the_team_unless_given() -> None:
    case, event = opened().assign("u-1", at(1), team="support")
    assert (case.status, case.owner_id, case.team, event.team) == (
        S.ASSIGNED, "u-1", "support", "support",
    )  # fmt: skip
    working = case.start(at(2))[0].assign("u-2", at(3))[0]
    assert (working.status, working.owner_id, working.team) == (S.IN_PROGRESS, "u-2", "support")
    with pytest.raises(ValidationError, match="must change"):
        working.assign("u-2", at(4))
    with pytest.raises(InvalidTransition):
        resolved().assign("u-2", at(4))


def test_merge_and_absorb() -> None:
    duplicate = opened()
    waiting = duplicate.assign("u-1", at(1))[0].start(at(1))[0].wait_on_customer(at(2))[0]
    merged, event = waiting.merge_into("case-9", at(3))
    assert (merged.status, merged.merged_into, merged.waiting_since) == (S.MERGED, "case-9", None)
    assert merged.pauses == (Pause(at(2).at, at(3).at),)
    assert "case-9" in event.subjects()
    with pytest.raises(InvalidTransition):
        merged.merge_into("case-8", at(4))
    with pytest.raises(ValidationError, match="own id"):
        duplicate.merge_into("case-1", at(4))
    survivor, absorbed = opened().absorb("case-2", at(1))
    assert survivor.merged_ids == ("case-2",)
    assert "case-2" in absorbed.subjects()
    with pytest.raises(ValidationError, match="already merged"):
        survivor.absorb("case-2", at(2))
    with pytest.raises(InvalidTransition):
        resolved().close(at(2))[0].absorb("case-3", at(3))


def test_parent_and_children() -> None:
    child, event = opened().set_parent("case-0", at(1))
    assert child.parent_id == "case-0"
    assert "case-0" in event.subjects()
    detached, event = child.set_parent(None, at(2))
    assert detached.parent_id is None
    assert event.previous_parent_id == "case-0"
    parent = opened().add_child("case-5", at(1))[0].add_child("case-6", at(2))[0]
    assert parent.child_ids == ("case-5", "case-6")
    with pytest.raises(ValidationError, match="child of the case"):
        parent.set_parent("case-5", at(3))
    with pytest.raises(ValidationError):
        parent.add_child("case-5", at(3))
    with pytest.raises(ValidationError, match="own id"):
        parent.add_child("case-1", at(3))


def test_articles_and_reprioritising() -> None:
    case = resolved().link_article("kb-1", at(2))[0].link_article("kb-2", at(3))[0]
    assert case.article_ids == ("kb-1", "kb-2")
    assert case.unlink_article("kb-1", at(4))[0].article_ids == ("kb-2",)
    with pytest.raises(ValidationError, match="not linked"):
        case.unlink_article("kb-3", at(4))
    case, event = opened().reprioritise(at(1), severity="critical")
    assert (case.priority, case.severity) == (Priority.HIGH, Severity.CRITICAL)
    assert event.summary() == "case now high priority, critical severity"
    with pytest.raises(ValidationError, match="must change"):
        case.reprioritise(at(2), Priority.HIGH)


def test_events_name_their_records_and_keep_personal_data_out_of_summaries() -> None:
    case, event = ServiceCase.open(
        "case-1", "CS-0001", at(), subject="Anna Muster", description="Anna's phone",
        type="incident", priority="urgent", severity="critical", contact_id="c-1",
        account_id="a-1", complaint_id="cmp-1",
    )  # fmt: skip
    assert event.subjects() == ("case-1", "c-1", "a-1", "cmp-1")
    assert event.summary() == "case CS-0001 opened: incident, urgent priority"
    assert {e.aggregate_kind for e in EVENTS} == {"case"}
    assert len({e.event_type for e in EVENTS}) == len(EVENTS)
    assert all(issubclass(e, CaseEvent) for e in EVENTS)
    personal = {f.name for f in CaseOpened.__attrs_attrs__ if is_personal(f)}
    assert personal == {"subject", "description"}
    case = case.escalate(1, at(1), "Anna is furious")[0].resolve("Anna got a refund", at(2))[0]
    case, rated = case.rate(Csat(1, "Anna says: terrible"), at(3))
    for e in (event, rated):
        assert "Anna" not in e.summary()


@settings(max_examples=60, deadline=None)
@given(history=case_histories())
def test_cases_and_events_round_trip(history: tuple[ServiceCase, tuple[DomainEvent, ...]]) -> None:
    case, events = history
    assert ServiceCase.replay(events) == case
    conv = make_converter()
    for obj in (case, *events):
        data = conv.unstructure(obj)
        assert structure(conv, data, type(obj)) == obj
        assert Loaders().load(type(obj), json.loads(dumps(data))) == obj


ALWAYS = BusinessCalendar.always()
POLICY = SlaPolicy(
    "standard",
    "Standard",
    (
        SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=1)),
        SlaTarget(SlaMetric.RESOLUTION, timedelta(hours=8)),
    ),
    ALWAYS.name,
)


def sla_clock(case: ServiceCase, stamp: Stamp) -> SlaClock:
    return SlaClock.start(POLICY, ALWAYS, case.created_at).evaluate(stamp.at, ALWAYS)[0]


def sla_facts(case: ServiceCase, stamp: Stamp) -> tuple[SlaWarning | SlaBreached, ...]:
    return SlaClock.start(POLICY, ALWAYS, case.created_at).evaluate(stamp.at, ALWAYS)[1]


def test_the_application_records_the_sla_clock() -> None:
    case = opened()
    clock = SlaClock.start(POLICY, ALWAYS, case.created_at)
    case, event = case.track_sla(clock, at(0.5))
    assert case.sla == clock
    assert event.summary() == "SLA clock updated (standard)"
    later, facts = clock.evaluate(at(2).at, ALWAYS)
    case, event = case.track_sla(later, at(2), facts)
    assert event.summary() == "SLA breached: first_response"
    assert len(event.warnings) == len(event.breaches) == 1
    warned, facts = clock.evaluate(at(7).at, ALWAYS)
    assert case.track_sla(warned, at(7), facts[-1:])[1].summary().startswith("SLA")
    with pytest.raises(ValidationError, match="clock"):
        case.track_sla("clock", at(8))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="facts"):
        case.track_sla(later, at(8), ["late"])  # type: ignore[list-item]
    closed = case.resolve("done", at(8))[0].close(at(9))[0]
    with pytest.raises(InvalidTransition):
        closed.track_sla(later, at(10))


def test_every_event_type_round_trips() -> None:
    case, opened_event = ServiceCase.open(
        "case-1", "CS-1", at(), subject="s", description="d", type="incident",
        priority="low", severity="minor", contact_id="c-1", skills_needed=("billing",),
    )  # fmt: skip
    events: list[DomainEvent] = [opened_event]
    steps = [
        lambda c, s: c.assign("u-1", s, team="support"), lambda c, s: c.start(s),
        lambda c, s: c.respond(s), lambda c, s: c.wait_on_customer(s),
        lambda c, s: c.customer_replied(s), lambda c, s: c.escalate(1, s, "why"),
        lambda c, s: c.reprioritise(s, "urgent"), lambda c, s: c.link_article("kb-1", s),
        lambda c, s: c.unlink_article("kb-1", s), lambda c, s: c.set_parent("case-0", s),
        lambda c, s: c.add_child("case-5", s), lambda c, s: c.absorb("case-7", s),
        lambda c, s: c.resolve("done", s), lambda c, s: c.reopen(s),
        lambda c, s: c.resolve("done", s), lambda c, s: c.rate(Csat(5, "ok"), s),
        lambda c, s: c.track_sla(sla_clock(c, s), s, sla_facts(c, s)),
        lambda c, s: c.close(s),
    ]  # fmt: skip
    for hour, step in enumerate(steps, 1):
        case, event = step(case, at(hour))
        events.append(event)
    other = opened().merge_into("case-9", at(1))
    events.append(other[1])
    assert {type(e) for e in events} == set(EVENTS)
    conv = make_converter()
    for obj in (case, other[0], *events):
        data = conv.unstructure(obj)
        assert structure(conv, data, type(obj)) == obj
        assert Loaders().load(type(obj), json.loads(dumps(data))) == obj
    assert ServiceCase.replay(events[:-1]) == case
    with pytest.raises(ValidationError, match="creation event"):
        ServiceCase.replay(events[1:])


def test_a_stored_case_is_checked_when_structured() -> None:
    conv = make_converter()
    data = conv.unstructure(opened())
    data["waiting_since"] = T0.isoformat()
    with pytest.raises(ValidationError, match="waiting_since"):
        structure(conv, data, ServiceCase)


@given(csat=csats())
def test_csat_strategy_gives_valid_ratings(csat: Csat) -> None:
    assert 1 <= csat.score <= 5
