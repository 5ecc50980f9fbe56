"""A stateful test of complaints, driven through the real commands.

Each run receives a complaint and sends random commands, allowed and not. An
accepted command adds one to the version and yields one event with that
version; a refused one raises `InvalidTransition` naming the state and the
command (or `ValidationError` for a no-op edit) and leaves the complaint as it
was. `Complaint.replay` of the events gives the complaint back after every
step. Across all runs every state of `COMPLAINT_LIFECYCLE` is reached: a
steering rule takes the natural next step of an open complaint, so random
seeds reach resolved and rejected as reliably as the derandomized CI run.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import make_converter
from crmkit.service.complaint import (
    COMPLAINT_LIFECYCLE,
    Complaint,
    ComplaintStatus,
    Resolution,
    RootCause,
)
from crmkit.service.complaint_events import (
    ComplaintAcknowledged,
    ComplaintAssigned,
    ComplaintCategorised,
    ComplaintEscalated,
    ComplaintInvestigating,
    ComplaintReceived,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTagged,
)

STATEFUL = settings(max_examples=200, stateful_step_count=25, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESOLUTIONS = (
    Resolution("refund", Money.of("20.00", "EUR")),
    Resolution("apology", note="Sorry for the delay."),
    Resolution("replacement"),
)
CAUSE = RootCause("carrier_damage", "Crushed in transit.")
_S = ComplaintStatus
_conv = make_converter()


class ComplaintMachine(RuleBasedStateMachine):
    """Commands on one complaint."""

    visited: ClassVar[set[ComplaintStatus]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.log: list[DomainEvent] = []
        self.cases = 0

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-7")

    def accepted(self, old: Complaint, new: Complaint, event: DomainEvent, kind: Any) -> None:
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert (event.occurred_at, new.updated_at) == (self.now, self.now)
        assert "c-1" in event.subjects()
        self.complaint = new
        self.log.append(event)
        assert Complaint.replay(self.log) == new
        self.visited.add(new.status)

    def refused(self, call: Any, command: str, error: type[Exception] = InvalidTransition) -> None:
        before = _conv.unstructure(self.complaint)
        with pytest.raises(error) as info:
            call()
        if isinstance(info.value, InvalidTransition):
            assert info.value.aggregate == "complaint"
            assert info.value.state == self.complaint.status.value
            assert info.value.command == command
        assert _conv.unstructure(self.complaint) == before

    def command(self, command: str, call: Any, kind: Any, guard: str | None = None) -> None:
        """Run ``call(stamp)``; expect refusal when the table or ``guard`` (a reason) says so."""
        old = self.complaint
        if not COMPLAINT_LIFECYCLE.can(old.status, command) or guard is not None:
            self.refused(lambda: call(self.stamp()), command)
            return
        new, event = call(self.stamp())
        assert new.status is COMPLAINT_LIFECYCLE.target(old.status, command)
        self.accepted(old, new, event, kind)

    def edit(self, command: str, call: Any, kind: Any, no_op: bool) -> None:
        old = self.complaint
        if not old.is_open:
            self.refused(lambda: call(self.stamp()), command)
        elif no_op:
            self.refused(lambda: call(self.stamp()), command, ValidationError)
        else:
            new, event = call(self.stamp())
            assert new.status is old.status
            self.accepted(old, new, event, kind)

    @initialize(who=st.sampled_from((("c-1", None), ("c-1", "a-1"))))
    def receive(self, who: tuple[str, str | None]) -> None:
        complaint, event = Complaint.receive(
            "cmp-1", self.stamp(), channel="email", subject="Parcel damaged",
            description="The box was crushed.", category="delivery", severity="major",
            contact_id=who[0], account_id=who[1], order_ref="ORD-17",
        )  # fmt: skip
        assert isinstance(event, ComplaintReceived)
        assert (complaint.version, complaint.status) == (1, _S.RECEIVED)
        self.complaint, self.log = complaint, [event]
        assert Complaint.replay(self.log) == complaint
        self.visited.add(complaint.status)

    @rule()
    def acknowledge(self) -> None:
        self.command("acknowledge", self.complaint.acknowledge, ComplaintAcknowledged)

    @rule()
    def investigate(self) -> None:
        self.command("investigate", self.complaint.investigate, ComplaintInvestigating)

    @rule()
    def escalate(self) -> None:
        self.cases += 1
        case = f"case-{self.cases}"
        guard = "escalated" if self.complaint.case_id is not None else None
        call = lambda s: self.complaint.escalate(case, s)  # noqa: E731
        self.command("escalate", call, ComplaintEscalated, guard)
        if guard is None and self.complaint.case_id == case:
            assert case in self.log[-1].subjects()

    @rule(resolution=st.sampled_from(RESOLUTIONS))
    def resolve(self, resolution: Resolution) -> None:
        call = lambda s: self.complaint.resolve(resolution, CAUSE, s)  # noqa: E731
        self.command("resolve", call, ComplaintResolved)
        if self.complaint.status is _S.RESOLVED:
            assert self.complaint.resolved_at is not None
            assert self.complaint.resolution is not None

    @rule()
    def reject(self) -> None:
        call = lambda s: self.complaint.reject("Not our product.", s)  # noqa: E731
        self.command("reject", call, ComplaintRejected)

    @rule()
    def reopen(self) -> None:
        call = lambda s: self.complaint.reopen("Refund never arrived.", s)  # noqa: E731
        self.command("reopen", call, ComplaintReopened)

    @rule(owner=st.sampled_from(("u-1", "u-2", None)))
    def assign(self, owner: str | None) -> None:
        call = lambda s: self.complaint.assign(owner, s)  # noqa: E731
        self.edit("assign", call, ComplaintAssigned, owner == self.complaint.owner_id)

    @rule(
        category=st.sampled_from(("delivery", "billing")),
        severity=st.sampled_from(("minor", "major")),
    )
    def categorise(self, category: str, severity: str) -> None:
        call = lambda s: self.complaint.categorise(category, severity, s)  # noqa: E731
        same = (category, severity) == (self.complaint.category, self.complaint.severity)
        self.edit("categorise", call, ComplaintCategorised, same)

    @rule(tags=st.sampled_from(((), ("VIP",), ("vip", "press"))))
    def retag(self, tags: tuple[str, ...]) -> None:
        call = lambda s: self.complaint.retag(tags, s)  # noqa: E731
        same = tuple(sorted({t.casefold() for t in tags})) == self.complaint.tags
        self.edit("retag", call, ComplaintTagged, same)

    @precondition(lambda self: self.complaint.is_open)
    @rule(ending=st.sampled_from(("resolve", "resolve", "reject")))
    def proceed(self, ending: str) -> None:
        """The natural next step of an open complaint (random commands alone seldom end one)."""
        status = self.complaint.status
        if status is _S.RECEIVED:
            self.acknowledge()
        elif status is _S.ACKNOWLEDGED:
            self.investigate()
        elif ending == "reject":
            self.reject()
        else:
            self.resolve(RESOLUTIONS[0])

    @invariant()
    def keeps_its_invariants(self) -> None:
        c = self.complaint
        assert [e.version for e in self.log] == list(range(1, c.version + 1))
        assert (c.resolution is not None) == (c.status is _S.RESOLVED) == (c.root_cause is not None)
        assert (c.rejection_reason is not None) == (c.status is _S.REJECTED)


def test_random_commands_keep_the_complaint_lifecycle() -> None:
    ComplaintMachine.visited = set()
    run_state_machine_as_test(ComplaintMachine, settings=STATEFUL)
    assert ComplaintMachine.visited == COMPLAINT_LIFECYCLE.reachable() == set(ComplaintStatus)


def test_only_rejection_is_final() -> None:
    assert COMPLAINT_LIFECYCLE.final == {ComplaintStatus.REJECTED}
    assert COMPLAINT_LIFECYCLE.next_states(ComplaintStatus.RESOLVED) == {
        "reopen": ComplaintStatus.INVESTIGATING
    }
