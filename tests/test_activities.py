"""Activities: logged ones start done, planned ones move through their lifecycle."""

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Direction,
    InvalidTransition,
    RecordRef,
    TimelineEntry,
    ValidationError,
)
from crmkit.activities.activity import ActivityLogged, ActivityMoved
from crmkit.kernel.events import Stamp

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOB = RecordRef("contact", "c-1")
ACME = RecordRef("account", "a-1")


def stamp(minutes: int = 0) -> Stamp:
    return Stamp(T0 + timedelta(minutes=minutes), "u-1")


def planned() -> Activity:
    activity, _ = Activity.plan(
        "x-1", "meeting", "Demo", (BOB, ACME), T0 + timedelta(days=2), stamp(), body="Agenda"
    )
    return activity


def test_logging_records_something_that_happened() -> None:
    activity, event = Activity.log(
        "x-1",
        "call",
        "Intro call",
        [BOB, ACME],
        stamp(),
        direction="outbound",
        duration_minutes=15,
        body="Talked about pricing",
    )
    assert activity.status is ActivityStatus.DONE
    assert activity.kind is ActivityKind.CALL
    assert activity.direction is Direction.OUTBOUND
    assert activity.occurred_at == activity.created_at == T0
    assert activity.links == (BOB, ACME)
    assert isinstance(event, ActivityLogged)
    assert event.subjects() == ("x-1", "c-1", "a-1")  # its own timeline, then the linked ones
    assert event.summary() == "call: Intro call"
    assert (event.happened_at, event.status, event.version) == (T0, ActivityStatus.DONE, 1)
    earlier = T0 - timedelta(days=1)
    logged, _ = Activity.log("x-2", "note", "Old note", (BOB,), stamp(), occurred_at=earlier)
    assert logged.occurred_at == earlier
    assert logged.created_at == T0


def test_planning_and_completing() -> None:
    activity = planned()
    assert activity.status is ActivityStatus.PLANNED
    done, event = activity.complete(stamp(30), outcome="Signed the NDA")
    assert done.status is ActivityStatus.DONE
    assert done.body == "Agenda\nSigned the NDA"
    assert done.occurred_at == T0 + timedelta(minutes=30)
    assert done.version == 2
    assert isinstance(event, ActivityMoved)
    assert (event.command, event.status) == ("complete", ActivityStatus.DONE)
    assert event.summary() == "completed: Demo"
    assert event.subjects() == ("x-1", "c-1", "a-1")  # its own timeline, then the linked ones


def test_rescheduling_and_cancelling() -> None:
    later = T0 + timedelta(days=9)
    moved, event = planned().reschedule(later, stamp(1))
    assert (moved.status, moved.occurred_at, moved.version) == (ActivityStatus.PLANNED, later, 2)
    assert event.summary() == "rescheduled: Demo"
    cancelled, event = moved.cancel(stamp(2))
    assert cancelled.status is ActivityStatus.CANCELLED
    assert cancelled.occurred_at == later
    assert event.summary() == "cancelled: Demo"


@pytest.mark.parametrize("finish", ["complete", "cancel"])
def test_done_and_cancelled_are_final(finish: str) -> None:
    finished, _ = getattr(planned(), finish)(stamp())
    state = finished.status.value
    for command, call in [
        ("complete", lambda: finished.complete(stamp())),
        ("cancel", lambda: finished.cancel(stamp())),
        ("reschedule", lambda: finished.reschedule(T0, stamp())),
    ]:
        with pytest.raises(InvalidTransition) as info:
            call()
        assert (info.value.aggregate, info.value.state, info.value.command) == (
            "activity",
            state,
            command,
        )


def test_activities_must_concern_a_record_and_be_well_formed() -> None:
    with pytest.raises(ValidationError) as info:
        Activity.log("x-1", "call", "Intro", (), stamp())
    assert info.value.field == "links"
    for kwargs, field in [
        ({"kind": "fax"}, "kind"),
        ({"subject": ""}, "subject"),
        ({"direction": "sideways"}, "direction"),
        ({"duration_minutes": -1}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"occurred_at": datetime(2026, 1, 1)}, "occurred_at"),
        ({"owner_id": "u 1"}, "owner_id"),
        ({"links": "c-1"}, "links"),
        ({"links": [("contact", "c-1")]}, "links[0]"),
    ]:
        args = {"id": "x-1", "kind": "call", "subject": "Intro", "links": (BOB,)} | kwargs
        with pytest.raises(ValidationError) as info:
            Activity.log(args.pop("id"), args.pop("kind"), args.pop("subject"), args.pop("links"),
                         stamp(), **args)  # fmt: skip
        assert info.value.field == field


def test_bodies_and_outcomes_are_personal() -> None:
    with pytest.raises(ValidationError) as info:
        Activity.log("x-1", "note", "Call", (BOB,), stamp(), body="Secret diagnosis\x00")
    assert info.value.field == "body"
    assert "Secret" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        planned().complete(stamp(), outcome="Secret outcome\x07")
    assert info.value.field == "outcome"
    assert "Secret" not in str(info.value)
    with pytest.raises(ValidationError) as info:
        planned().complete(stamp(), outcome=42)  # type: ignore[arg-type]
    assert info.value.field == "outcome"


def test_reschedule_needs_an_aware_time() -> None:
    with pytest.raises(ValidationError) as info:
        planned().reschedule(datetime(2026, 5, 1), stamp())  # naive
    assert info.value.field == "due_at"


def test_record_refs_and_timeline_entries() -> None:
    assert RecordRef("opportunity", "o-1").kind == "opportunity"
    for kind, id in [("Contact", "c-1"), ("contact", ""), ("", "c-1"), ("contact", 5)]:
        with pytest.raises(ValidationError):
            RecordRef(kind, id)  # type: ignore[arg-type]
    entry = TimelineEntry("t-1", T0, ("c-1", "a-1"), "activity_logged", BOB, " call: Intro ", "u-1")
    assert entry.summary == "call: Intro"
    with pytest.raises(ValidationError) as info:
        TimelineEntry("t-1", T0, ["c-1"], "activity_logged", BOB, "x", "u-1")  # type: ignore[arg-type]
    assert info.value.field == "subjects"
