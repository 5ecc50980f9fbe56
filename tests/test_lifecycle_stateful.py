"""Stateful tests of every lifecycle, driven through the aggregates' real command methods.

Each machine sends random commands, allowed and not. An accepted command must
add exactly one to the version and yield exactly one event carrying that version
and the aggregate's id; a refused one must raise `InvalidTransition` naming the
lifecycle, the state and the command, and leave the aggregate as it was. The
states visited across all runs must equal what the lifecycle table says is
reachable.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crmkit import (
    Account,
    Activity,
    Channel,
    Contact,
    InvalidTransition,
    Purpose,
    RecordRef,
    ValidationError,
)
from crmkit.activities.activity import ACTIVITY_LIFECYCLE, ActivityMoved, ActivityStatus
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.lifecycle import Lifecycle
from crmkit.kernel.serialization import make_converter
from crmkit.parties.account import ACCOUNT_LIFECYCLE
from crmkit.parties.contact import CONTACT_LIFECYCLE
from crmkit.parties.events import (
    AccountArchived,
    AccountChanged,
    AccountRestored,
    ConsentRecorded,
    ContactArchived,
    ContactChanged,
    ContactLinked,
    ContactRestored,
    ContactUnlinked,
)
from crmkit.parties.party import PartyStatus
from crmkit.testing.strategies import aware_datetimes

STATEFUL = settings(max_examples=100, stateful_step_count=15, deadline=None)

NAMES = ("Acme", "Globex", "Initech")
TAGS = ("vip", "key", "north")
OWNERS = (None, "u-1", "u-2")
ACCOUNT_IDS = ("a-1", "a-2", "a-3")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_conv = make_converter()


class _Driven(RuleBasedStateMachine):
    """Shared bookkeeping: the aggregate, its event log and the checks on every command."""

    lifecycle: Lifecycle[Any]
    visited: set[Any]

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.agg: Any = None
        self.log: list[DomainEvent] = []

    def stamp(self) -> Stamp:
        self.now += timedelta(minutes=1)
        return Stamp(self.now, "u-7")

    def started(self, agg: Any, event: DomainEvent) -> None:
        assert agg.version == 1
        assert (event.version, event.aggregate_id) == (1, agg.id)
        self.agg, self.log = agg, [event]
        self.visited.add(agg.status)

    def accepted(self, result: tuple[Any, DomainEvent], event_type: type[DomainEvent]) -> Any:
        new, event = result
        assert type(event) is event_type
        assert new.version == self.agg.version + 1
        assert event.version == new.version
        assert event.aggregate_id == new.id == self.agg.id
        assert event.occurred_at == self.now
        assert event.actor == "u-7"
        self.agg = new
        self.log.append(event)
        self.visited.add(new.status)
        return new

    def refused(
        self, call: Any, command: str, error: type[Exception] = InvalidTransition
    ) -> BaseException:
        before = _conv.unstructure(self.agg)
        with pytest.raises(error) as info:
            call()
        if isinstance(info.value, InvalidTransition):
            assert info.value.aggregate == self.lifecycle.name
            assert info.value.state == self.agg.status.value
            assert info.value.command == command
        assert _conv.unstructure(self.agg) == before
        return info.value

    def lifecycle_command(self, command: str, call: Any, event_type: type[DomainEvent]) -> None:
        state = self.agg.status
        if self.lifecycle.can(state, command):
            new = self.accepted(call(self.stamp()), event_type)
            assert new.status == self.lifecycle.target(state, command)
        else:
            self.refused(lambda: call(self.stamp()), command)

    @invariant()
    def state_belongs_to_the_lifecycle(self) -> None:
        if self.agg is not None:
            assert self.agg.status in self.lifecycle.states

    @invariant()
    def no_event_is_lost(self) -> None:
        if self.agg is not None:
            assert [event.version for event in self.log] == list(range(1, self.agg.version + 1))
            assert {event.aggregate_id for event in self.log} == {self.agg.id}


class _PartyMachine(_Driven):
    """Accounts and contacts: active or archived; changes are refused while archived."""

    changed: type[DomainEvent]
    archived: type[DomainEvent]
    restored: type[DomainEvent]

    def name_of(self) -> str:
        raise NotImplementedError

    def rename_call(self, name: str) -> Any:
        raise NotImplementedError

    @property
    def archived_now(self) -> bool:
        return bool(self.agg.status is PartyStatus.ARCHIVED)

    def change(self, call: Any, unchanged: bool, command: str = "change") -> None:
        if self.archived_now:
            error = self.refused(call, command)
            assert isinstance(error, InvalidTransition)
            assert error.reason == "restore it first"
        elif unchanged:
            self.refused(call, command, ValidationError)
        else:
            self.accepted(call(), self.changed)

    @rule()
    def archive(self) -> None:
        self.lifecycle_command("archive", self.agg.archive, self.archived)

    @rule()
    def restore(self) -> None:
        self.lifecycle_command("restore", self.agg.restore, self.restored)

    @rule(name=st.sampled_from(NAMES))
    def rename(self, name: str) -> None:
        self.change(self.rename_call(name), unchanged=name == self.name_of())

    @rule(tag=st.sampled_from(TAGS))
    def tag(self, tag: str) -> None:
        self.change(lambda: self.agg.tag([tag.upper()], self.stamp()), tag in self.agg.tags)

    @rule(tag=st.sampled_from(TAGS))
    def untag(self, tag: str) -> None:
        self.change(lambda: self.agg.untag([tag], self.stamp()), tag not in self.agg.tags)

    @rule(owner=st.sampled_from(OWNERS))
    def assign(self, owner: str | None) -> None:
        self.change(lambda: self.agg.assign(owner, self.stamp()), owner == self.agg.owner_id)


def account_machine(visited: set[Any]) -> type[RuleBasedStateMachine]:
    class AccountMachine(_PartyMachine):
        lifecycle = ACCOUNT_LIFECYCLE
        changed, archived, restored = AccountChanged, AccountArchived, AccountRestored

        @initialize(name=st.sampled_from(NAMES))
        def create(self, name: str) -> None:
            self.started(*Account.create("a-1", name, self.stamp()))

        def name_of(self) -> str:
            return str(self.agg.name)

        def rename_call(self, name: str) -> Any:
            return lambda: self.agg.update(self.stamp(), name=name)

    AccountMachine.visited = visited
    return AccountMachine


def contact_machine(visited: set[Any]) -> type[RuleBasedStateMachine]:
    class ContactMachine(_PartyMachine):
        lifecycle = CONTACT_LIFECYCLE
        changed, archived, restored = ContactChanged, ContactArchived, ContactRestored

        @initialize(name=st.sampled_from(NAMES))
        def create(self, name: str) -> None:
            self.started(*Contact.create("c-1", self.stamp(), last_name=name))

        def name_of(self) -> str:
            return str(self.agg.last_name)

        def rename_call(self, name: str) -> Any:
            return lambda: self.agg.update(self.stamp(), last_name=name)

        @rule(account=st.sampled_from(ACCOUNT_IDS), primary=st.booleans())
        def link(self, account: str, primary: bool) -> None:
            call = lambda: self.agg.link(account, "buyer", self.stamp(), primary=primary)  # noqa: E731
            if self.archived_now:
                self.refused(call, "link")
                return
            new = self.accepted(call(), ContactLinked)
            assert account in new.account_ids
            assert sum(role.primary for role in new.accounts) <= 1
            if primary:
                assert new.account_ids[0] == account

        @rule(account=st.sampled_from(ACCOUNT_IDS))
        def unlink(self, account: str) -> None:
            call = lambda: self.agg.unlink(account, self.stamp())  # noqa: E731
            if self.archived_now:
                self.refused(call, "unlink")
            elif account not in self.agg.account_ids:
                self.refused(call, "unlink", ValidationError)
            else:
                assert account not in self.accepted(call(), ContactUnlinked).account_ids

        @rule(
            channel=st.sampled_from(Channel),
            purpose=st.sampled_from(Purpose),
            granted=st.booleans(),
        )
        def consent(self, channel: Channel, purpose: Purpose, granted: bool) -> None:
            # Consent is recorded in every state: an opt-out must never be lost.
            result = self.agg.record_consent(channel, purpose, granted, "form", self.stamp())
            new = self.accepted(result, ConsentRecorded)
            assert new.consent[-1].granted is granted
            expected = "granted" if granted else "withdrawn"
            assert new.consent_for(channel, purpose).value == expected

    ContactMachine.visited = visited
    return ContactMachine


def activity_machine(visited: set[Any]) -> type[RuleBasedStateMachine]:
    class ActivityMachine(_Driven):
        lifecycle = ACTIVITY_LIFECYCLE

        @initialize(kind=st.sampled_from(["task", "call", "meeting"]))
        def plan(self, kind: str) -> None:
            links = (RecordRef("contact", "c-1"),)
            due = START + timedelta(days=3)
            self.started(*Activity.plan("x-1", kind, "Follow up", links, due, self.stamp()))
            assert self.agg.status is ActivityStatus.PLANNED

        def moved(self, command: str, call: Any) -> Activity | None:
            state = self.agg.status
            if not self.lifecycle.can(state, command):
                self.refused(lambda: call(self.stamp()), command)
                return None
            new: Activity = self.accepted(call(self.stamp()), ActivityMoved)
            event = self.log[-1]
            assert isinstance(event, ActivityMoved)
            assert (event.command, event.status) == (command, new.status)
            assert new.status == self.lifecycle.target(state, command)
            return new

        @rule(outcome=st.none() | st.sampled_from(["agreed", "no answer"]))
        def complete(self, outcome: str | None) -> None:
            body = self.agg.body
            new = self.moved("complete", lambda s: self.agg.complete(s, outcome=outcome))
            if new is not None:
                assert new.body == (body if outcome is None else f"{body}\n{outcome}".strip())
                assert new.occurred_at == self.now

        @rule()
        def cancel(self) -> None:
            self.moved("cancel", self.agg.cancel)

        @rule(due=aware_datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1)))
        def reschedule(self, due: datetime) -> None:
            new = self.moved("reschedule", lambda s: self.agg.reschedule(due, s))
            if new is not None:
                assert new.occurred_at == due

    ActivityMachine.visited = visited
    return ActivityMachine


@pytest.mark.parametrize(
    ("make", "lifecycle"),
    [
        (account_machine, ACCOUNT_LIFECYCLE),
        (contact_machine, CONTACT_LIFECYCLE),
        (activity_machine, ACTIVITY_LIFECYCLE),
    ],
    ids=["account", "contact", "activity"],
)
def test_random_commands_keep_every_lifecycle_rule(make: Any, lifecycle: Lifecycle[Any]) -> None:
    visited: set[Any] = set()
    run_state_machine_as_test(make(visited), settings=STATEFUL)
    assert visited == lifecycle.reachable()
    assert visited == set(lifecycle.states)
