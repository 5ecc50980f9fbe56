"""Interaction outcomes: typed outcomes of calls, emails and meetings on activities."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import crmkit
from crmkit import Crm, FakeClock, Principal, RecordRef
from crmkit.activities.activity import (
    Activity,
    ActivityLogged,
    ActivityMoved,
    ActivityStatus,
)
from crmkit.activities.outcomes import (
    OUTCOME_TYPES,
    CallOutcome,
    EmailOutcome,
    MeetingOutcome,
)
from crmkit.app.records import ACTIVITIES
from crmkit.interactions import best_time
from crmkit.interactions.best_time import EvidenceLevel, learn, windows
from crmkit.interactions.history import call_history
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.ports.storage import DocumentStore
from crmkit.service.calendar import Shift, WeeklyHours

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOB = RecordRef("contact", "c-1")
ANNA = Principal("u-anna", roles={"sales_rep"})
BERLIN = ZoneInfo("Europe/Berlin")
STAMP = Stamp(T0, "u-1")


def log(kind: str, **kwargs: Any) -> tuple[Activity, ActivityLogged]:
    return Activity.log("x-1", kind, "Intro call", (BOB,), STAMP, **kwargs)


def planned(kind: str) -> Activity:
    activity, _ = Activity.plan("x-1", kind, "Demo", (BOB,), T0 + timedelta(days=1), STAMP)
    return activity


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [(kind, member) for kind, cls in OUTCOME_TYPES.items() for member in cls],
)
def test_every_outcome_of_each_kind_is_accepted_as_member_or_value(
    kind: str, outcome: CallOutcome | EmailOutcome | MeetingOutcome
) -> None:
    for given in (outcome, outcome.value):
        activity, event = log(kind, outcome=given)
        assert activity.outcome == event.outcome == outcome.value
        assert type(activity.outcome) is str  # stored as the plain value
        words = outcome.value.replace("_", " ")
        assert event.summary() == f"{kind}: Intro call ({words})"


def test_the_kinds_and_their_outcomes() -> None:
    assert best_time.CallOutcome is CallOutcome  # one enum, re-exported for best time
    assert [m.value for m in CallOutcome] == [
        "connected", "no_answer", "voicemail", "busy", "rejected", "wrong_number", "failed",
    ]  # fmt: skip
    assert [m.value for m in EmailOutcome] == ["delivered", "opened", "replied", "bounced"]
    assert [m.value for m in MeetingOutcome] == ["held", "no_show"]
    assert set(OUTCOME_TYPES) == {"call", "email", "meeting"}


@pytest.mark.parametrize(
    ("kind", "kwargs", "field"),
    [
        ("call", {"outcome": "held"}, "outcome"),
        ("call", {"outcome": MeetingOutcome.HELD}, "outcome"),
        ("email", {"outcome": "connected"}, "outcome"),
        ("meeting", {"outcome": EmailOutcome.OPENED}, "outcome"),
        ("meeting", {"outcome": "No_Show"}, "outcome"),
        ("task", {"outcome": "held"}, "outcome"),
        ("note", {"outcome": "connected"}, "outcome"),
        ("call", {"outcome": 3}, "outcome"),
        ("call", {"outcome": "connected", "duration_minutes": -1}, "duration_minutes"),
        ("call", {"outcome": "no_answer", "duration_minutes": 0}, "duration_minutes"),
        ("call", {"outcome": "busy", "duration_minutes": 2}, "duration_minutes"),
        ("call", {"outcome": CallOutcome.FAILED, "duration_minutes": 1}, "duration_minutes"),
        ("meeting", {"outcome": "no_show", "duration_minutes": 30}, "duration_minutes"),
        ("email", {"outcome": "delivered", "duration_minutes": 1}, "duration_minutes"),
        ("email", {"duration_minutes": 5}, "duration_minutes"),
        ("note", {"duration_minutes": 5}, "duration_minutes"),
    ],
)
def test_wrong_outcomes_and_durations_are_refused_naming_the_field(
    kind: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        log(kind, **kwargs)
    assert info.value.field == field


def test_durations_go_with_outcomes_where_someone_picked_up() -> None:
    for kind, outcome in [
        ("call", "connected"),
        ("call", "voicemail"),
        ("call", "wrong_number"),
        ("call", None),
        ("meeting", "held"),
        ("meeting", None),
    ]:
        activity, event = log(kind, outcome=outcome, duration_minutes=12)
        assert (activity.duration_minutes, event.outcome) == (12, outcome)
    activity, _ = log("call", outcome="no_answer")
    assert activity.duration_minutes is None


def test_only_done_activities_have_an_outcome() -> None:
    with pytest.raises(ValidationError) as info:
        Activity("x-1", 1, "call", "Intro", ActivityStatus.PLANNED, T0, (BOB,), T0,
                 outcome="connected")  # fmt: skip
    assert info.value.field == "outcome"
    assert "outcome" not in inspect.signature(Activity.plan).parameters


def test_completing_with_a_typed_outcome_note_and_duration() -> None:
    done, event = planned("call").complete(
        Stamp(T0 + timedelta(hours=1), "u-1"),
        outcome="connected",
        note="Wants a quote",
        duration_minutes=9,
    )
    assert (done.status, done.outcome, done.duration_minutes) == (
        ActivityStatus.DONE,
        "connected",
        9,
    )
    assert done.body == "Wants a quote"
    assert isinstance(event, ActivityMoved)
    assert event.outcome == "connected"
    assert event.summary() == "completed: Demo (connected)"
    held, event = planned("meeting").complete(STAMP, outcome=MeetingOutcome.NO_SHOW)
    assert held.outcome == "no_show"
    assert event.summary() == "completed: Demo (no show)"


def test_free_text_outcomes_still_go_to_the_body() -> None:
    # Before typed outcomes, `complete(outcome=...)` appended free text to the body.
    done, event = planned("meeting").complete(STAMP, outcome="Signed the NDA")
    assert (done.outcome, done.body) == (None, "Signed the NDA")
    assert event.summary() == "completed: Demo"
    task, _ = planned("task").complete(STAMP, outcome="held")  # tasks have no typed outcome
    assert (task.outcome, task.body) == (None, "held")


@pytest.mark.parametrize(
    ("kind", "kwargs", "field"),
    [
        ("call", {"outcome": MeetingOutcome.HELD}, "outcome"),
        ("task", {"outcome": CallOutcome.CONNECTED}, "outcome"),
        ("call", {"outcome": "no_answer", "duration_minutes": 3}, "duration_minutes"),
        ("meeting", {"outcome": "no_show", "duration_minutes": 3}, "duration_minutes"),
        ("task", {"duration_minutes": 3}, "duration_minutes"),
        ("call", {"duration_minutes": -3}, "duration_minutes"),
        ("call", {"note": "bad\x00"}, "note"),
    ],
)
def test_completing_refuses_wrong_outcomes_and_durations(
    kind: str, kwargs: dict[str, Any], field: str
) -> None:
    activity = planned(kind)
    with pytest.raises(ValidationError) as info:
        activity.complete(STAMP, **kwargs)
    assert info.value.field == field
    assert activity.status is ActivityStatus.PLANNED


def test_round_trip_and_old_stored_json_without_outcome_load() -> None:
    conv, loaders = make_converter(), Loaders()
    activity, event = log("call", outcome="voicemail", duration_minutes=1)
    for obj, cls in [(activity, Activity), (event, ActivityLogged)]:
        data = conv.unstructure(obj)
        assert structure(conv, data, cls) == obj
        assert loaders.load(cls, json.loads(dumps(data))) == obj
    old, old_event = log("call")
    for obj, cls in [(old, Activity), (old_event, ActivityLogged)]:
        data = json.loads(dumps(conv.unstructure(obj)))
        assert data.pop("outcome") is None
        assert "outcome" not in data
        assert structure(conv, data, cls) == obj
        assert loaders.load(cls, data) == obj
    moved, moved_event = planned("meeting").complete(STAMP, outcome="held")
    data = json.loads(dumps(conv.unstructure(moved_event)))
    assert loaders.load(ActivityMoved, data) == moved_event
    del data["outcome"]
    assert loaders.load(ActivityMoved, data).outcome is None
    assert structure(conv, json.loads(dumps(conv.unstructure(moved))), Activity) == moved


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0, tick=timedelta(minutes=1)), ids=SequentialIds("r"))


def test_outcomes_are_indexed_shown_on_the_timeline_and_logged_by_the_service(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
        bob = uow.contacts.create("Berg", first_name="Bob", account_id=acme.id)
        missed = uow.activities.log(
            "call", "Intro call", [RecordRef("contact", bob.id)],
            outcome=CallOutcome.NO_ANSWER, direction="outbound",
        )  # fmt: skip
        talked = uow.activities.log(
            "call", "Second try", [RecordRef("contact", bob.id)], outcome="connected",
            duration_minutes=7,
        )  # fmt: skip
        mail = uow.activities.log(
            "email",
            "Quote",
            [RecordRef("contact", bob.id)],
            outcome="bounced",
            message_id="<q-1@x>",
        )
        meeting = uow.activities.log(
            "meeting", "Demo", [RecordRef("contact", bob.id)], outcome="held", duration_minutes=45
        )
        plan = uow.activities.plan("call", "Follow-up", [RecordRef("contact", bob.id)], T0)
    assert (missed.direction, missed.outcome, missed.duration_minutes) == (
        "outbound",
        "no_answer",
        None,
    )
    assert [ref.id for ref in missed.links] == [bob.id, acme.id]
    assert (talked.outcome, mail.outcome, mail.message_id) == ("connected", "bounced", "<q-1@x>")
    assert (meeting.outcome, meeting.duration_minutes) == ("held", 45)
    with crm.unit_of_work(ANNA) as uow:
        uow.activities.complete(plan.id, outcome="no_answer", note="Rang out")
        with pytest.raises(ValidationError) as info:
            uow.activities.log(
                "call",
                "Again",
                [RecordRef("contact", bob.id)],
                outcome="no_answer",
                duration_minutes=3,
            )
        assert info.value.field == "duration_minutes"
    with crm.unit_of_work(ANNA) as uow:
        found = uow.find(ACTIVITIES, (crmkit.Eq("outcome", "no_answer"),)).items
        assert sorted(a.id for a in found) == sorted([missed.id, plan.id])
        assert [a.id for a in uow.activities.find(crmkit.Eq("outcome", "held"))] == [meeting.id]
    summaries = [entry.summary for entry in crm.timeline(acme.id, ANNA, limit=20)]
    assert "completed: Follow-up (no answer)" in summaries
    assert "call: Intro call (no answer)" in summaries
    assert "email: Quote (bounced)" in summaries
    assert "meeting: Demo (held)" in summaries


def test_call_history_feeds_best_time_end_to_end() -> None:
    crm = crmkit.open("memory://", clock=FakeClock(T0), ids=SequentialIds("r"))
    with crm.unit_of_work(ANNA) as uow:
        bob = uow.contacts.create("Berg", first_name="Bob")
        other = uow.contacts.create("Ito", first_name="Kenji")
        for day, hour, outcome in [
            (3, 10, "connected"),  # Tuesdays 10:00 Berlin (09:00 UTC)
            (10, 10, "connected"),
            (2, 9, "no_answer"),  # Mondays 09:00 Berlin
            (9, 9, "no_answer"),
        ]:
            at = datetime(2026, 3, day, hour, tzinfo=BERLIN)
            uow.activities.log(
                "call", "Call", [RecordRef("contact", bob.id)], outcome=outcome, occurred_at=at
            )
        # Not attempts of Bob: no outcome, another contact, a meeting.
        uow.activities.log(
            "call", "Call", [RecordRef("contact", other.id)], outcome="connected", occurred_at=T0
        )
        uow.activities.log("call", "Old call", [RecordRef("contact", bob.id)], occurred_at=T0)
        uow.activities.log(
            "meeting", "Demo", [RecordRef("contact", bob.id)], outcome="held", occurred_at=T0
        )
    with crm.unit_of_work(ANNA) as uow:
        calls = uow.find_all(ACTIVITIES, (crmkit.Eq("links", bob.id),), keep=False)
        history = call_history(calls, bob.id, "Europe/Berlin")
    assert history.time_zone == BERLIN
    assert sorted((a.at.day, a.outcome) for a in history.attempts) == [
        (2, CallOutcome.NO_ANSWER),
        (3, CallOutcome.CONNECTED),
        (9, CallOutcome.NO_ANSWER),
        (10, CallOutcome.CONNECTED),
    ]
    model = learn([history])
    office = WeeklyHours.weekdays(Shift("09:00", "17:00"))
    now = datetime(2026, 3, 16, tzinfo=BERLIN)  # a Monday, midnight
    best = windows(model, bob.id, BERLIN, now=now, contact_hours=office, top=1)[0]
    assert best.start == datetime(2026, 3, 17, 10, tzinfo=BERLIN)
    # g = (2 + 1) / (4 + 2) = 1/2; Bob's Tuesday 10:00: (2 + 5·1/2) / (2 + 5) = 9/14 = 0.64286
    assert best.rate == Decimal("0.6429")
    assert best.evidence.level is EvidenceLevel.CONTACT
    assert best.evidence.text == "connected 2 of 2 times on Tuesdays 10:00–11:00"


def test_call_history_refuses_bad_input() -> None:
    for args, field in [
        (("c-1", "c-1", BERLIN), "activities"),
        (([object()], "c-1", BERLIN), "activities[0]"),
        (([], "c 1", BERLIN), "contact_id"),
        (([], "c-1", "Mars/Base"), "time_zone"),
    ]:
        with pytest.raises(ValidationError) as info:
            call_history(*args)  # type: ignore[arg-type]
        assert info.value.field == field
