"""A stateful test of service cases, driven through the real commands.

Each run opens a case and sends random commands, allowed and not. An accepted
command adds one to the version and yields one event with that version; a
refused one raises `InvalidTransition` naming the state and the command (or
`ValidationError` for bad arguments) and leaves the case as it was.
`ServiceCase.replay` of the events gives the case back after every step.
Invariants: pauses are closed, in order and never overlap; ``waiting_since``
is set exactly while the case waits on the customer; ``first_responded_at`` is
set once and never moves; the escalation level stays in 0..3.

Across all runs every state of `CASE_LIFECYCLE` is reached and every command
is accepted at least once: besides the random commands, two steering rules go
through the real commands towards the rare end of the lifecycle (the natural
next step of an open case, and the end of a resolved one: closed, reopened or
rated), so that random seeds reach every state as reliably as the
derandomized CI run does.
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
from crmkit.kernel.serialization import make_converter
from crmkit.service.calendar import BusinessCalendar
from crmkit.service.case import (
    CASE_LIFECYCLE,
    EDIT_STATES,
    MAX_ESCALATION,
    CaseStatus,
    Csat,
    Priority,
    ServiceCase,
    Severity,
)
from crmkit.service.case_events import (
    CaseAbsorbed,
    CaseArticleLinked,
    CaseArticleUnlinked,
    CaseAssigned,
    CaseChildAdded,
    CaseClosed,
    CaseCustomerReplied,
    CaseEscalated,
    CaseMerged,
    CaseOpened,
    CaseParentSet,
    CaseRated,
    CaseReopened,
    CaseReprioritised,
    CaseResolved,
    CaseResponded,
    CaseSlaUpdated,
    CaseStarted,
    CaseWaitingOnCustomer,
)
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import SlaMetric, SlaPolicy, SlaTarget

ALWAYS = BusinessCalendar.always()
POLICY = SlaPolicy(
    "standard",
    "Standard",
    (
        SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=1)),
        SlaTarget(SlaMetric.RESOLUTION, timedelta(days=2)),
    ),
    ALWAYS.name,
)
STATEFUL = settings(max_examples=200, stateful_step_count=30, deadline=None)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = CaseStatus
OPEN = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER)
_conv = make_converter()


def allowed(status: CaseStatus, command: str) -> bool:
    if command in EDIT_STATES:
        return status in EDIT_STATES[command]
    return CASE_LIFECYCLE.can(status, command)


class CaseMachine(RuleBasedStateMachine):
    """Commands on one service case."""

    visited: ClassVar[set[CaseStatus]] = set()
    accepted_commands: ClassVar[set[str]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.log: list[DomainEvent] = []
        self.first_response: datetime | None = None

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-7")

    def next_at(self) -> datetime:
        return self.now + timedelta(minutes=1)

    def accepted(self, command: str, new: ServiceCase, event: DomainEvent, kind: type) -> None:
        old = self.case
        assert type(event) is kind
        assert new.version == old.version + 1 == event.version
        assert event.aggregate_id == new.id == old.id
        assert event.occurred_at == new.updated_at == self.now
        assert event.aggregate_kind == "case"
        if command in EDIT_STATES:
            assert new.status is old.status
        else:
            assert new.status is CASE_LIFECYCLE.target(old.status, command)
        self.case = new
        self.log.append(event)
        assert ServiceCase.replay(self.log) == new
        self.visited.add(new.status)
        self.accepted_commands.add(command)

    def refused(self, call: Any, command: str, error: type[Exception] = InvalidTransition) -> None:
        before = _conv.unstructure(self.case)
        case = self.case
        with pytest.raises(error) as info:
            call()
        if isinstance(info.value, InvalidTransition):
            assert info.value.aggregate == "case"
            assert info.value.state == self.case.status.value
            assert info.value.command == command
        assert self.case is case
        assert _conv.unstructure(self.case) == before

    def command(
        self,
        command: str,
        call: Any,
        kind: type,
        guard: str | None = None,
        invalid: str | None = None,
    ) -> None:
        """Run ``call(stamp)``; refused when the table, ``guard`` or ``invalid`` input says so."""
        if not allowed(self.case.status, command) or guard is not None:
            self.refused(lambda: call(self.stamp()), command)
        elif invalid is not None:
            self.refused(lambda: call(self.stamp()), command, ValidationError)
        else:
            new, event = call(self.stamp())
            self.accepted(command, new, event, kind)

    @initialize(
        parties=st.sampled_from((("c-1", None), (None, "a-1"), ("c-1", "a-1"))),
        complaint=st.none() | st.just("cmp-1"),
    )
    def open(self, parties: tuple[str | None, str | None], complaint: str | None) -> None:
        case, event = ServiceCase.open(
            "case-1", "CS-0001", self.stamp(), subject="Printer offline",
            description="It shows E42.", type="incident", priority="normal", severity="minor",
            contact_id=parties[0], account_id=parties[1], complaint_id=complaint,
            skills_needed=("printing",),
        )  # fmt: skip
        assert isinstance(event, CaseOpened)
        assert (case.version, case.status, event.version) == (1, S.NEW, 1)
        self.case = case
        self.log = [event]
        self.visited.add(case.status)

    @rule(days=st.sampled_from((0, 1, 3, 8)))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    @rule(owner=st.sampled_from(("u-1", "u-2")), team=st.sampled_from((None, "support")))
    def assign(self, owner: str, team: str | None) -> None:
        c = self.case
        same = (owner, c.team if team is None else team) == (c.owner_id, c.team)
        invalid = "no change" if same else None
        self.command("assign", lambda s: c.assign(owner, s, team), CaseAssigned, None, invalid)

    @rule()
    def start(self) -> None:
        self.command("start", self.case.start, CaseStarted)

    @rule()
    def wait_on_customer(self) -> None:
        self.command("wait_on_customer", self.case.wait_on_customer, CaseWaitingOnCustomer)

    @rule()
    def customer_replied(self) -> None:
        self.command("customer_replied", self.case.customer_replied, CaseCustomerReplied)

    @rule()
    def resolve(self) -> None:
        c = self.case
        self.command("resolve", lambda s: c.resolve("Replaced the toner.", s), CaseResolved)

    @rule(days=st.sampled_from((1, 7)))
    def reopen(self, days: int) -> None:
        c, within = self.case, timedelta(days=days)
        late = c.resolved_at is not None and self.next_at() - c.resolved_at > within
        guard = "window passed" if late else None
        self.command("reopen", lambda s: c.reopen(s, within), CaseReopened, guard)

    @rule(automatic=st.booleans())
    def close(self, automatic: bool) -> None:
        c = self.case
        self.command("close", lambda s: c.close(s, automatic=automatic), CaseClosed)

    @rule()
    def respond(self) -> None:
        self.command("respond", self.case.respond, CaseResponded)

    @rule(level=st.integers(0, MAX_ESCALATION), by_hand=st.booleans())
    def escalate(self, level: int, by_hand: bool) -> None:
        c = self.case
        invalid = "same level" if level == c.escalation_level else None
        guard = "down" if invalid is None and level < c.escalation_level and not by_hand else None
        if not allowed(c.status, "escalate"):
            guard = None
        call = lambda s: c.escalate(level, s, "Waiting too long", by_hand=by_hand)  # noqa: E731
        self.command("escalate", call, CaseEscalated, guard, invalid)

    @rule(
        priority=st.none() | st.sampled_from(Priority),
        severity=st.none() | st.sampled_from(Severity),
    )
    def reprioritise(self, priority: Priority | None, severity: Severity | None) -> None:
        c = self.case
        new = (priority or c.priority, severity or c.severity)
        invalid = "no change" if new == (c.priority, c.severity) else None
        call = lambda s: c.reprioritise(s, priority, severity)  # noqa: E731
        self.command("reprioritise", call, CaseReprioritised, None, invalid)

    @rule(article=st.sampled_from(("kb-1", "kb-2")))
    def link_article(self, article: str) -> None:
        c = self.case
        invalid = "linked" if article in c.article_ids else None
        call = lambda s: c.link_article(article, s)  # noqa: E731
        self.command("link_article", call, CaseArticleLinked, None, invalid)

    @rule(article=st.sampled_from(("kb-1", "kb-2")))
    def unlink_article(self, article: str) -> None:
        c = self.case
        invalid = "not linked" if article not in c.article_ids else None
        call = lambda s: c.unlink_article(article, s)  # noqa: E731
        self.command("unlink_article", call, CaseArticleUnlinked, None, invalid)

    @rule(parent=st.sampled_from((None, "case-0", "case-5")))
    def set_parent(self, parent: str | None) -> None:
        c = self.case
        invalid = "same or child" if parent == c.parent_id or parent in c.child_ids else None
        call = lambda s: c.set_parent(parent, s)  # noqa: E731
        self.command("set_parent", call, CaseParentSet, None, invalid)

    @rule(child=st.sampled_from(("case-5", "case-6")))
    def add_child(self, child: str) -> None:
        c = self.case
        invalid = "known" if child in c.child_ids or child == c.parent_id else None
        call = lambda s: c.add_child(child, s)  # noqa: E731
        self.command("add_child", call, CaseChildAdded, None, invalid)

    @rule(duplicate=st.sampled_from(("case-7", "case-8")))
    def absorb(self, duplicate: str) -> None:
        c = self.case
        invalid = "merged already" if duplicate in c.merged_ids else None
        call = lambda s: c.absorb(duplicate, s)  # noqa: E731
        self.command("absorb", call, CaseAbsorbed, None, invalid)

    @rule()
    def merge_into(self) -> None:
        self.command("merge_into", lambda s: self.case.merge_into("case-9", s), CaseMerged)

    @rule(score=st.integers(1, 5))
    def rate(self, score: int) -> None:
        c = self.case
        guard = "rated" if c.csat is not None and allowed(c.status, "rate") else None
        self.command("rate", lambda s: c.rate(Csat(score, "Quick, thanks"), s), CaseRated, guard)

    @rule()
    def track_sla(self) -> None:
        """The application records the clock it evaluated at the next instant."""
        c = self.case
        clock = c.sla or SlaClock.start(POLICY, ALWAYS, c.created_at)
        clock, facts = clock.evaluate(self.next_at(), ALWAYS)
        self.command("track_sla", lambda s: c.track_sla(clock, s, facts), CaseSlaUpdated)

    @precondition(lambda self: self.case.status in OPEN)
    @rule(resolve=st.booleans())
    def proceed(self, resolve: bool) -> None:
        """The natural next step of an open case (random commands alone seldom get far)."""
        status = self.case.status
        if status is S.NEW:
            self.assign("u-1" if self.case.owner_id != "u-1" else "u-2", None)
        elif status is S.ASSIGNED:
            self.start()
        elif status is S.IN_PROGRESS:
            self.resolve() if resolve else self.wait_on_customer()
        else:
            self.customer_replied()

    @precondition(lambda self: self.case.status is S.RESOLVED)
    @rule(choice=st.sampled_from(("close", "reopen", "rate", "auto_close")))
    def wrap_up(self, choice: str) -> None:
        """The end of a resolved case: closed by hand or by the job, reopened, or rated."""
        c = self.case
        if choice == "auto_close":
            due_at = self.next_at()
            assert c.auto_close_due(due_at, timedelta(days=3)) == (
                due_at - c.resolved_at >= timedelta(days=3)
            )
            self.now = max(self.now, c.resolved_at + timedelta(days=3))
            assert c.auto_close_due(self.next_at(), timedelta(days=3))
            self.close(True)
        elif choice == "close":
            self.close(False)
        elif choice == "reopen":
            self.reopen(7)
        else:
            self.rate(5)

    @invariant()
    def pauses_are_closed_ordered_and_apart(self) -> None:
        c = self.case
        assert (c.waiting_since is not None) == (c.status is S.WAITING_ON_CUSTOMER)
        ends = [c.created_at]
        for pause in c.pauses:
            assert ends[-1] <= pause.started_at <= pause.ended_at <= c.updated_at
            ends.append(pause.ended_at)
        if c.waiting_since is not None:
            assert ends[-1] <= c.waiting_since <= c.updated_at
        assert c.pause_intervals == tuple((p.started_at, p.ended_at) for p in c.pauses)

    @invariant()
    def first_response_is_set_once(self) -> None:
        if self.first_response is not None:
            assert self.case.first_responded_at == self.first_response
        self.first_response = self.case.first_responded_at

    @invariant()
    def fields_follow_the_status(self) -> None:
        c = self.case
        assert 0 <= c.escalation_level <= MAX_ESCALATION
        assert (c.merged_into is not None) == (c.status is S.MERGED)
        assert (c.closed_at is not None) == (c.status is S.CLOSED)
        if c.status in OPEN:
            assert c.resolved_at is None
            assert c.resolution_note is None
        if c.status in (S.RESOLVED, S.CLOSED):
            assert c.resolved_at is not None
            assert c.resolution_note is not None

    @invariant()
    def no_event_is_lost(self) -> None:
        assert [e.version for e in self.log] == list(range(1, self.case.version + 1))


def test_random_commands_keep_the_case_lifecycle() -> None:
    CaseMachine.visited = set()
    CaseMachine.accepted_commands = set()
    run_state_machine_as_test(CaseMachine, settings=STATEFUL)
    assert CaseMachine.visited == CASE_LIFECYCLE.reachable() == set(CaseStatus)
    assert CaseMachine.accepted_commands == set(CASE_LIFECYCLE.commands) | set(EDIT_STATES)


def test_the_lifecycle_table() -> None:
    assert CASE_LIFECYCLE.final == {S.CLOSED, S.MERGED}
    assert CASE_LIFECYCLE.initial is S.NEW
    assert set(CASE_LIFECYCLE.next_states(S.WAITING_ON_CUSTOMER)) == {
        "assign", "customer_replied", "resolve", "merge_into",
    }  # fmt: skip
    assert not set(EDIT_STATES) & set(CASE_LIFECYCLE.commands)
