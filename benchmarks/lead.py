"""One lead-like machine, four ways: crmkit, hand-written attrs, pytransitions, python-statemachine.

Six states, seven commands, one guard (disqualifying needs a reason)::

    new --work--> working --nurture--> nurturing --resume--> working
    working, nurturing --qualify--> qualified --convert--> converted (final)
    new, working, nurturing, qualified --disqualify [reason]--> disqualified
    disqualified --recycle--> new

`CYCLE` visits every state but the final one, the guarded command included,
and ends where it started, so it can run forever.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import attrs
import statemachine
import transitions

from crmkit.kernel.aggregate import Evolving
from crmkit.kernel.checks import aware, of_type, version
from crmkit.kernel.errors import InvalidTransition
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.lifecycle import Lifecycle, Transition


class LeadStatus(StrEnum):
    """Where a lead stands."""

    NEW = "new"
    WORKING = "working"
    NURTURING = "nurturing"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


NEW, WORKING, NURTURING, QUALIFIED, DISQUALIFIED, CONVERTED = LeadStatus
REASON = "no budget"

CYCLE: tuple[tuple[str, dict[str, str]], ...] = (
    ("work", {}),
    ("nurture", {}),
    ("qualify", {}),
    ("disqualify", {"reason": REASON}),
    ("recycle", {}),
)
"""Commands that lead from ``new`` back to ``new``, with their keyword arguments."""
CYCLE_STATES: tuple[LeadStatus, ...] = (NEW, WORKING, NURTURING, QUALIFIED, DISQUALIFIED)
"""The state each command of `CYCLE` starts from."""

# --- crmkit ----------------------------------------------------------------

LEAD_LIFECYCLE = Lifecycle(
    "lead",
    LeadStatus,
    NEW,
    [
        Transition("work", NEW, WORKING),
        Transition("nurture", WORKING, NURTURING),
        Transition("resume", NURTURING, WORKING),
        Transition("qualify", (WORKING, NURTURING), QUALIFIED),
        Transition(
            "disqualify", (NEW, WORKING, NURTURING, QUALIFIED), DISQUALIFIED, guard="reason"
        ),
        Transition("recycle", DISQUALIFIED, NEW),
        Transition("convert", QUALIFIED, CONVERTED),
    ],
    final=[CONVERTED],
)


@attrs.frozen(kw_only=True)
class LeadMoved(DomainEvent):
    """A lead moved to another state (both crmkit and the baseline emit it).

    Attributes:
        command: The command.
        status: The new state.
        reason: Why it was disqualified, if it was.
    """

    event_type: ClassVar[str] = "lead_moved"
    aggregate_kind: ClassVar[str] = "lead"
    command: str
    status: LeadStatus
    reason: str | None = None


@attrs.frozen
class Lead(Evolving):
    """The crmkit way: a frozen, validated aggregate; commands return ``(new, event)``.

    Attributes:
        id: The lead's id.
        version: Grows by one with every change.
        status: Where it stands.
        updated_at: When it last changed.
        reason: Why it was last disqualified.
    """

    id: str = attrs.field(validator=of_type(str))
    version: int = attrs.field(validator=version)
    status: LeadStatus = attrs.field(default=NEW, validator=of_type(LeadStatus))
    updated_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    reason: str | None = attrs.field(default=None, validator=of_type(str, optional=True))

    def _move(
        self, command: str, stamp: Stamp, reason: str | None = None
    ) -> tuple[Lead, LeadMoved]:
        status = LEAD_LIFECYCLE.target(self.status, command)
        new = self._evolve(
            version=self.version + 1, status=status, updated_at=stamp.at, reason=reason
        )
        event = LeadMoved(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            command=command,
            status=status,
            reason=reason,
        )
        return new, event

    def work(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Start working the lead."""
        return self._move("work", stamp)

    def nurture(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Park it for nurturing."""
        return self._move("nurture", stamp)

    def resume(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Work it again after nurturing."""
        return self._move("resume", stamp)

    def qualify(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Mark it qualified."""
        return self._move("qualify", stamp)

    def disqualify(self, stamp: Stamp, *, reason: str) -> tuple[Lead, LeadMoved]:
        """Disqualify it; the guard wants a reason."""
        if not reason or reason.isspace():
            raise LEAD_LIFECYCLE.refuse(self.status, "disqualify", "a reason is required")
        return self._move("disqualify", stamp, reason)

    def recycle(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Start a disqualified lead over."""
        return self._move("recycle", stamp)

    def convert(self, stamp: Stamp) -> tuple[Lead, LeadMoved]:
        """Convert a qualified lead."""
        return self._move("convert", stamp)


# --- hand-written baseline: plain frozen attrs, a dict table, attrs.evolve --

TABLE: dict[tuple[LeadStatus, str], LeadStatus] = {
    (NEW, "work"): WORKING,
    (WORKING, "nurture"): NURTURING,
    (NURTURING, "resume"): WORKING,
    (WORKING, "qualify"): QUALIFIED,
    (NURTURING, "qualify"): QUALIFIED,
    (NEW, "disqualify"): DISQUALIFIED,
    (WORKING, "disqualify"): DISQUALIFIED,
    (NURTURING, "disqualify"): DISQUALIFIED,
    (QUALIFIED, "disqualify"): DISQUALIFIED,
    (DISQUALIFIED, "recycle"): NEW,
    (QUALIFIED, "convert"): CONVERTED,
}


@attrs.frozen
class PlainLead:
    """What one writes without crmkit: no validators, `attrs.evolve`, the same event.

    Attributes:
        id: The lead's id.
        version: Grows by one with every change.
        status: Where it stands.
        updated_at: When it last changed.
        reason: Why it was last disqualified.
    """

    id: str
    version: int
    status: LeadStatus = NEW
    updated_at: datetime | None = None
    reason: str | None = None

    def _move(
        self, command: str, stamp: Stamp, reason: str | None = None
    ) -> tuple[PlainLead, LeadMoved]:
        status = TABLE.get((self.status, command))
        if status is None:
            raise InvalidTransition("lead", str(self.status), command)
        new = attrs.evolve(
            self, version=self.version + 1, status=status, updated_at=stamp.at, reason=reason
        )
        event = LeadMoved(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            command=command,
            status=status,
            reason=reason,
        )
        return new, event

    def work(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Start working the lead."""
        return self._move("work", stamp)

    def nurture(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Park it for nurturing."""
        return self._move("nurture", stamp)

    def resume(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Work it again after nurturing."""
        return self._move("resume", stamp)

    def qualify(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Mark it qualified."""
        return self._move("qualify", stamp)

    def disqualify(self, stamp: Stamp, *, reason: str) -> tuple[PlainLead, LeadMoved]:
        """Disqualify it; the guard wants a reason."""
        if not reason or reason.isspace():
            raise InvalidTransition("lead", str(self.status), "disqualify", "a reason is required")
        return self._move("disqualify", stamp, reason)

    def recycle(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Start a disqualified lead over."""
        return self._move("recycle", stamp)

    def convert(self, stamp: Stamp) -> tuple[PlainLead, LeadMoved]:
        """Convert a qualified lead."""
        return self._move("convert", stamp)


# --- the peers' model: a mutable object, as an ORM row would be ------------


class PeerLead:
    """The object pytransitions and python-statemachine move (they mutate ``state``)."""

    def __init__(self, id: str, state: str = NEW.value) -> None:
        self.id = id
        self.state = state
        self.reason: str | None = None

    def has_reason(self, reason: str | None = None) -> bool:
        """The guard."""
        return bool(reason and not reason.isspace())

    def remember_reason(self, reason: str | None = None) -> None:
        """Keep the reason, as the other implementations do."""
        self.reason = reason


# --- pytransitions -----------------------------------------------------------

_PEER_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "work", "source": "new", "dest": "working"},
    {"trigger": "nurture", "source": "working", "dest": "nurturing"},
    {"trigger": "resume", "source": "nurturing", "dest": "working"},
    {"trigger": "qualify", "source": ["working", "nurturing"], "dest": "qualified"},
    {
        "trigger": "disqualify",
        "source": ["new", "working", "nurturing", "qualified"],
        "dest": "disqualified",
        "conditions": "has_reason",
        "before": "remember_reason",
    },
    {"trigger": "recycle", "source": "disqualified", "dest": "new"},
    {"trigger": "convert", "source": "qualified", "dest": "converted"},
]


def pytransitions_machine(model: PeerLead | None) -> transitions.Machine:
    """A `transitions.Machine` for the lead: ``model=None`` makes a shared machine."""
    return transitions.Machine(
        model=model,
        states=[state.value for state in LeadStatus],
        transitions=_PEER_TRANSITIONS,
        initial=NEW.value,
        auto_transitions=False,
    )


# --- python-statemachine -----------------------------------------------------


class LeadMachine(statemachine.StateMachine):
    """The lead for python-statemachine; the guard and the action live on the model."""

    new = statemachine.State(initial=True, value="new")
    working = statemachine.State(value="working")
    nurturing = statemachine.State(value="nurturing")
    qualified = statemachine.State(value="qualified")
    disqualified = statemachine.State(value="disqualified")
    converted = statemachine.State(final=True, value="converted")

    work = new.to(working)
    nurture = working.to(nurturing)
    resume = nurturing.to(working)
    qualify = working.to(qualified) | nurturing.to(qualified)
    disqualify = disqualified.from_(
        new, working, nurturing, qualified, cond="has_reason", before="remember_reason"
    )
    recycle = disqualified.to(new)
    convert = qualified.to(converted)
