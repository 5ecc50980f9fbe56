"""Service cases: a customer's issue, routed, worked, resolved and closed.

A case moves through `CASE_LIFECYCLE`: new, assigned, in progress, waiting on
the customer, resolved, then closed, or merged into another case. Commands
that change the status are rows of that table; the others (respond, escalate,
reprioritise, articles, parent and child, absorb, rate) keep the status and
are allowed in the states `EDIT_STATES` lists. Every command takes a `Stamp`
that must not be earlier than the case's last change, so that its times
(pauses above all) stay in order.

**SLA.** While a case waits on the customer, ``waiting_since`` holds when
the wait began; when the customer replies (or the case is resolved or merged)
the wait becomes a closed `Pause` in ``pauses``. With ``created_at``,
``first_responded_at`` and ``resolved_at`` these are all an SLA clock needs:
`ServiceCase.paused_for` gives the paused time up to any instant. The case
holds the `SlaClock` the application keeps for it in ``sla``: the application
(which knows the policies and calendars) starts, pauses, resumes, meets and
evaluates the clock and records each new clock, with the warnings and breaches
it gave, through `ServiceCase.track_sla`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, NewType, TypeVar

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, tuple_of, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.time import require_aware
from crmkit.service import _case_fields as _f
from crmkit.service._case_edits import CaseEdits, changes_of, other_id
from crmkit.service.case_events import (
    CaseAbsorbed,
    CaseArticleLinked,
    CaseArticleUnlinked,
    CaseAssigned,
    CaseChildAdded,
    CaseClosed,
    CaseCustomerReplied,
    CaseEscalated,
    CaseEvent,
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
from crmkit.service.case_values import MAX_ESCALATION, Csat, Pause
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import Priority, Severity

__all__ = [
    "CASE_LIFECYCLE", "DEFAULT_AUTO_CLOSE_AFTER", "DEFAULT_REOPEN_WINDOW", "EDIT_STATES",
    "MAX_ESCALATION", "CaseId", "CaseStatus", "Csat", "Pause", "Priority", "ServiceCase",
    "Severity",
]  # fmt: skip

CaseId = NewType("CaseId", str)
"""Id of a `ServiceCase`."""

DEFAULT_REOPEN_WINDOW: Final = timedelta(days=7)
"""How long after resolution a case may be reopened, unless the caller says otherwise."""
DEFAULT_AUTO_CLOSE_AFTER: Final = timedelta(days=7)
"""How long a case stays resolved before the host's job closes it, unless it says otherwise."""

E = TypeVar("E", bound=CaseEvent)


class CaseStatus(StrEnum):
    """Where a service case is in its lifecycle."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


_S = CaseStatus
_OPEN: Final = (_S.NEW, _S.ASSIGNED, _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER)
CASE_LIFECYCLE: Final = Lifecycle(
    "case",
    CaseStatus,
    _S.NEW,
    [
        Transition("assign", _S.NEW, _S.ASSIGNED),
        # reassigning keeps the status
        Transition("assign", _S.ASSIGNED, _S.ASSIGNED),
        Transition("assign", _S.IN_PROGRESS, _S.IN_PROGRESS),
        Transition("assign", _S.WAITING_ON_CUSTOMER, _S.WAITING_ON_CUSTOMER),
        Transition("start", _S.ASSIGNED, _S.IN_PROGRESS),
        Transition("wait_on_customer", _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, guard="SLA pauses"),
        Transition("customer_replied", _S.WAITING_ON_CUSTOMER, _S.IN_PROGRESS, guard="SLA resumes"),
        Transition("resolve", _OPEN, _S.RESOLVED),
        Transition("reopen", _S.RESOLVED, _S.IN_PROGRESS, guard="within the reopen window"),
        Transition("close", _S.RESOLVED, _S.CLOSED),
        Transition("merge_into", (*_OPEN, _S.RESOLVED), _S.MERGED),
    ],
    final=(_S.CLOSED, _S.MERGED),
)
"""New, assigned, in progress, waiting on customer, resolved, then closed or merged."""

EDIT_STATES: Final[Mapping[str, frozenset[CaseStatus]]] = {
    "respond": frozenset(_OPEN),
    "escalate": frozenset(_OPEN),
    "reprioritise": frozenset(_OPEN),
    "set_parent": frozenset(_OPEN),
    "add_child": frozenset(_OPEN),
    "link_article": frozenset((*_OPEN, _S.RESOLVED)),
    "unlink_article": frozenset((*_OPEN, _S.RESOLVED)),
    "absorb": frozenset((*_OPEN, _S.RESOLVED)),
    "rate": frozenset((_S.RESOLVED, _S.CLOSED)),
    "track_sla": frozenset((*_OPEN, _S.RESOLVED)),
}
"""The commands that keep the status, each with the states it is allowed in."""

_COMMANDS: Final[dict[type[DomainEvent], str]] = {
    CaseAssigned: "assign",
    CaseStarted: "start",
    CaseWaitingOnCustomer: "wait_on_customer",
    CaseCustomerReplied: "customer_replied",
    CaseResolved: "resolve",
    CaseReopened: "reopen",
    CaseClosed: "close",
    CaseMerged: "merge_into",
}
_EDITS: Final[dict[type[DomainEvent], str]] = {
    CaseResponded: "respond",
    CaseEscalated: "escalate",
    CaseReprioritised: "reprioritise",
    CaseParentSet: "set_parent",
    CaseChildAdded: "add_child",
    CaseArticleLinked: "link_article",
    CaseArticleUnlinked: "unlink_article",
    CaseAbsorbed: "absorb",
    CaseRated: "rate",
    CaseSlaUpdated: "track_sla",
}


def _case_id(value: object) -> CaseId:
    return CaseId(check_id(value, "id"))


def _has_party(case: ServiceCase) -> None:
    if case.contact_id is None and case.account_id is None:
        raise ValidationError("contact_id", "a case needs a contact_id or an account_id")


@attrs.frozen
class ServiceCase(CaseEdits, Replayable):
    """A customer's issue, worked by an owner in a queue until it is resolved.

    Attributes:
        id: The case's id.
        version: Grows by one with every change.
        number: The case number shown to people.
        subject: One line saying what it is about (personal).
        description: What the customer reported (personal).
        type: The kind of case (a token: ``incident``, ``question``, ``complaint`` ...).
        priority: How soon it must be handled.
        severity: How badly the customer is affected.
        status: Where it is in `CASE_LIFECYCLE`.
        contact_id: The contact who raised it (this or ``account_id`` is set).
        account_id: The customer account.
        customer_tier: The customer's service tier (a token), if known.
        complaint_id: The complaint it was escalated from, if any.
        queue: The queue it waits in (a token), if routed.
        team: The team that holds it (a token), if any.
        owner_id: The agent who owns it, once assigned.
        skills_needed: Skills an agent needs to work it (tokens, sorted).
        escalation_level: 0 (not escalated) to `MAX_ESCALATION`.
        parent_id: The parent case, if this is part of a bigger issue.
        child_ids: Cases under this one, in the order added.
        merged_into: The survivor this duplicate was merged into.
        merged_ids: Duplicates merged into this case, in order.
        article_ids: Linked knowledge articles, in the order linked.
        csat: The customer's rating, once rated.
        created_at: When it was opened.
        updated_at: When it last changed.
        first_responded_at: The first response to the customer (set once).
        resolved_at: When it was last resolved (None while open again).
        closed_at: When it was closed.
        reopened_count: How often it was reopened.
        waiting_since: When the current wait on the customer began (set exactly while waiting).
        pauses: Closed waits on the customer, oldest first; they never overlap.
        resolution_note: How it was resolved (personal; None while not resolved).
        sla: The SLA clock the application keeps for the case (see `track_sla`), if any.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    id: CaseId = attrs.field(converter=_case_id)
    version: int = attrs.field(validator=version)
    number: str = attrs.field(converter=_f.number)
    subject: str = attrs.field(converter=_f.subject, metadata=PERSONAL, repr=False)
    description: str = attrs.field(converter=_f.description, metadata=PERSONAL, repr=False)
    type: str = attrs.field(converter=_f.case_type)
    priority: Priority = attrs.field(converter=_f.priority)
    severity: Severity = attrs.field(converter=_f.severity)
    status: CaseStatus = attrs.field(validator=of_type(CaseStatus))
    contact_id: str | None = attrs.field(converter=_f.contact_id)
    account_id: str | None = attrs.field(converter=_f.account_id)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    customer_tier: str | None = attrs.field(default=None, converter=_f.customer_tier)
    complaint_id: str | None = attrs.field(default=None, converter=_f.complaint_id)
    queue: str | None = attrs.field(default=None, converter=_f.queue)
    team: str | None = attrs.field(default=None, converter=_f.team)
    owner_id: str | None = attrs.field(default=None, converter=_f.owner_id)
    skills_needed: tuple[str, ...] = attrs.field(default=(), converter=_f.skills)
    escalation_level: int = attrs.field(default=0, converter=_f.escalation_level)
    parent_id: str | None = attrs.field(default=None, converter=_f.parent_id)
    child_ids: tuple[str, ...] = attrs.field(default=(), converter=_f.child_ids)
    merged_into: str | None = attrs.field(default=None, converter=_f.merged_into)
    merged_ids: tuple[str, ...] = attrs.field(default=(), converter=_f.merged_ids)
    article_ids: tuple[str, ...] = attrs.field(default=(), converter=_f.article_ids)
    csat: Csat | None = attrs.field(default=None, validator=of_type(Csat, optional=True))
    first_responded_at: datetime | None = attrs.field(default=None, validator=aware(True))
    resolved_at: datetime | None = attrs.field(default=None, validator=aware(True))
    closed_at: datetime | None = attrs.field(default=None, validator=aware(True))
    reopened_count: int = attrs.field(default=0, converter=_f.count)
    waiting_since: datetime | None = attrs.field(default=None, validator=aware(True))
    pauses: tuple[Pause, ...] = attrs.field(default=(), validator=tuple_of(Pause))
    resolution_note: str | None = attrs.field(
        default=None, converter=_f.optional_note, metadata=PERSONAL, repr=False
    )
    sla: SlaClock | None = attrs.field(default=None, validator=of_type(SlaClock, optional=True))
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    def __attrs_post_init__(self) -> None:
        _has_party(self)
        if (self.waiting_since is None) == (self.status is _S.WAITING_ON_CUSTOMER):
            raise ValidationError("waiting_since", "must be set exactly while waiting on customer")
        _f.check_pauses(self.pauses, self.waiting_since)

    @classmethod
    def open(
        cls,
        id: str,
        number: str,
        stamp: Stamp,
        *,
        subject: str,
        description: str,
        type: str,
        priority: Priority | str,
        severity: Severity | str,
        contact_id: str | None = None,
        account_id: str | None = None,
        customer_tier: str | None = None,
        complaint_id: str | None = None,
        queue: str | None = None,
        skills_needed: Iterable[str] = (),
    ) -> tuple[ServiceCase, CaseOpened]:
        """A new case at version 1 (status new), and the event that records it."""
        at = _f.check_stamp(stamp).at
        c = cls(
            id, 1, number, subject, description, type, priority, severity, _S.NEW, contact_id,
            account_id, at, at, customer_tier, complaint_id, queue, skills_needed=skills_needed,
        )  # fmt: skip
        event = CaseOpened(
            aggregate_id=c.id, version=1, occurred_at=at, actor=stamp.actor,
            contact_id=c.contact_id, account_id=c.account_id, number=c.number,
            subject=c.subject, description=c.description, type=c.type, priority=c.priority,
            severity=c.severity, customer_tier=c.customer_tier, complaint_id=c.complaint_id,
            queue=c.queue, skills_needed=c.skills_needed,
        )  # fmt: skip
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> ServiceCase:
        """The first state, from `CaseOpened`."""
        if not isinstance(event, CaseOpened):
            raise ValidationError(
                "events", "must start with a case's creation event", type(event).__name__
            )
        e = event
        return cls(
            e.aggregate_id, e.version, e.number, e.subject, e.description, e.type, e.priority,
            e.severity, _S.NEW, e.contact_id, e.account_id, e.occurred_at, e.occurred_at,
            e.customer_tier, e.complaint_id, e.queue, skills_needed=e.skills_needed,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> ServiceCase:
        """The state after ``event``, one of this case's own events."""
        kind = type(event)
        changes: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        command = _COMMANDS.get(kind)
        if command is not None:
            changes["status"] = CASE_LIFECYCLE.target(self.status, command)
        elif kind not in _EDITS:
            raise ValidationError("event", "must be an event of a service case", kind.__name__)
        changes.update(changes_of(self, event))
        return self._evolve(**changes)

    def _event(self, cls: builtins.type[E], stamp: Stamp, **data: Any) -> E:
        return cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=_f.check_stamp(stamp, self.updated_at).at,
            actor=stamp.actor,
            contact_id=self.contact_id,
            account_id=self.account_id,
            **data,
        )

    def _do(
        self, command: str, cls: builtins.type[E], stamp: Stamp, **data: Any
    ) -> tuple[ServiceCase, E]:
        CASE_LIFECYCLE.target(self.status, command)  # refuse before building anything
        event = self._event(cls, stamp, **data)
        return self.apply(event), event

    def _edit(
        self, command: str, cls: builtins.type[E], stamp: Stamp, **data: Any
    ) -> tuple[ServiceCase, E]:
        event = self._event(cls, stamp, **data)
        return self.apply(event), event

    def _refuse(self, command: str, reason: str) -> InvalidTransition:
        return CASE_LIFECYCLE.refuse(self.status, command, reason)

    def _allow(self, command: str) -> None:
        """Refuse an edit in a state `EDIT_STATES` does not list for it."""
        if self.status not in EDIT_STATES[command]:
            raise CASE_LIFECYCLE.refuse(self.status, command, "not allowed in this state")

    def _ended_wait(self, stamp: Stamp) -> Pause | None:
        if self.waiting_since is None:
            return None
        return Pause(self.waiting_since, _f.check_stamp(stamp, self.updated_at).at)

    # --- status changes -------------------------------------------------------------------

    def assign(
        self, owner_id: str, stamp: Stamp, team: str | None = None
    ) -> tuple[ServiceCase, CaseAssigned]:
        """Give the case to ``owner_id`` (and ``team``; None keeps the team). Reassigns too."""
        CASE_LIFECYCLE.target(self.status, "assign")
        owner = check_id(owner_id, "owner_id")
        new_team = self.team if team is None else _f.token(team, "team")
        if (owner, new_team) == (self.owner_id, self.team):
            raise ValidationError("owner_id", "must change the owner or team", owner)
        return self._do("assign", CaseAssigned, stamp, owner_id=owner, team=new_team)

    def start(self, stamp: Stamp) -> tuple[ServiceCase, CaseStarted]:
        """The owner starts working on the assigned case."""
        return self._do("start", CaseStarted, stamp)

    def wait_on_customer(self, stamp: Stamp) -> tuple[ServiceCase, CaseWaitingOnCustomer]:
        """Wait on the customer: ``waiting_since`` is set and an SLA clock pauses."""
        return self._do("wait_on_customer", CaseWaitingOnCustomer, stamp)

    def customer_replied(self, stamp: Stamp) -> tuple[ServiceCase, CaseCustomerReplied]:
        """The customer replied: the wait becomes a closed pause and work resumes."""
        CASE_LIFECYCLE.target(self.status, "customer_replied")
        pause = self._ended_wait(stamp)
        return self._do("customer_replied", CaseCustomerReplied, stamp, pause=pause)

    def resolve(self, note: str, stamp: Stamp) -> tuple[ServiceCase, CaseResolved]:
        """Resolve the case with a note on how (ends a wait on the customer)."""
        CASE_LIFECYCLE.target(self.status, "resolve")
        text = _f.note(note)
        return self._do("resolve", CaseResolved, stamp, note=text, pause=self._ended_wait(stamp))

    def reopen(
        self, stamp: Stamp, within: timedelta = DEFAULT_REOPEN_WINDOW
    ) -> tuple[ServiceCase, CaseReopened]:
        """Reopen a resolved case, refused once ``within`` has passed since it was resolved."""
        CASE_LIFECYCLE.target(self.status, "reopen")
        window = _window(within, "within")
        at = _f.check_stamp(stamp, self.updated_at).at
        if self.resolved_at is not None and at - self.resolved_at > window:
            raise CASE_LIFECYCLE.refuse(
                self.status, "reopen", f"resolved more than {_span(window)} ago"
            )
        count = self.reopened_count + 1
        return self._do("reopen", CaseReopened, stamp, reopened_count=count)

    def close(self, stamp: Stamp, *, automatic: bool = False) -> tuple[ServiceCase, CaseClosed]:
        """Close a resolved case for good; ``automatic`` when the host's auto-close job does it."""
        if not isinstance(automatic, bool):
            raise ValidationError("automatic", "must be a bool", automatic)
        return self._do("close", CaseClosed, stamp, automatic=automatic)

    def merge_into(self, survivor_id: str, stamp: Stamp) -> tuple[ServiceCase, CaseMerged]:
        """Merge this duplicate into ``survivor_id``: it becomes final (status merged).

        The caller also runs ``survivor.absorb(self.id, stamp)`` in the same unit of work.
        """
        CASE_LIFECYCLE.target(self.status, "merge_into")
        survivor = other_id(survivor_id, "survivor_id", self.id)
        pause = self._ended_wait(stamp)
        return self._do("merge_into", CaseMerged, stamp, survivor_id=survivor, pause=pause)

    # --- queries ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the case still needs work (not resolved, closed or merged)."""
        return self.status in _OPEN

    @property
    def pause_intervals(self) -> tuple[tuple[datetime, datetime], ...]:
        """The closed pauses as ``(start, end)`` pairs, oldest first."""
        return tuple(pause.interval for pause in self.pauses)

    def paused_for(self, now: datetime) -> timedelta:
        """Time spent waiting on the customer up to ``now``, the current wait included."""
        now = require_aware(now, "now")
        spans = (min(p.ended_at, now) - p.started_at for p in self.pauses if p.started_at < now)
        total = sum(spans, timedelta())
        if self.waiting_since is not None and now > self.waiting_since:
            total += now - self.waiting_since
        return total

    def auto_close_due(self, now: datetime, after: timedelta = DEFAULT_AUTO_CLOSE_AFTER) -> bool:
        """Whether the case has been resolved for at least ``after`` at ``now``.

        The host's job runs ``close(stamp, automatic=True)`` on the cases that are due.
        """
        now = require_aware(now, "now")
        window = _window(after, "after")
        return (
            self.status is _S.RESOLVED
            and self.resolved_at is not None
            and now - self.resolved_at >= window
        )


def _span(value: timedelta) -> str:
    """A window for people: ``7 days`` rather than ``7 days, 0:00:00``."""
    if value % timedelta(days=1) == timedelta():
        return f"{value.days} day" + ("" if value.days == 1 else "s")
    return str(value)


def _window(value: object, field: str) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta():
        raise ValidationError(field, "must be a non-negative timedelta", value)
    return value
