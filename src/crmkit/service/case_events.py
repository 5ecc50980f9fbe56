"""Events of service cases: each carries every value that `ServiceCase.apply` needs.

Every case event names the case's contact and account, so that it shows on
their timelines too; events about related records (the complaint a case came
from, its parent, child, survivor or duplicate) name those as well.
Summaries hold no personal data: no subject, description, note, reason or comment.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from crmkit.kernel.events import PERSONAL, DomainEvent
from crmkit.service.case_values import Csat, Pause
from crmkit.service.sla import SlaBreached, SlaClock, SlaWarning
from crmkit.service.sla_policy import Priority, Severity


@attrs.frozen(kw_only=True)
class CaseEvent(DomainEvent):
    """Base class of every service case event.

    Attributes:
        contact_id: The case's contact, if it has one.
        account_id: The case's account, if it has one.
    """

    event_type: ClassVar[str] = "case_event"
    aggregate_kind: ClassVar[str] = "case"

    contact_id: str | None
    account_id: str | None

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and its account."""
        ids = (self.aggregate_id, self.contact_id, self.account_id)
        return tuple(i for i in ids if i is not None)


@attrs.frozen(kw_only=True)
class CaseOpened(CaseEvent):
    """A service case was opened.

    Attributes:
        number: The case number shown to people.
        subject: A one-line subject (personal).
        description: What the customer reported (personal).
        type: The kind of case, e.g. ``incident``, ``question``, ``complaint``.
        priority: How soon it must be handled.
        severity: How badly the customer is affected.
        customer_tier: The customer's service tier, if known.
        complaint_id: The complaint it was escalated from, if any.
        queue: The queue it waits in, if routed.
        skills_needed: Skills an agent needs to work it.
    """

    event_type: ClassVar[str] = "case_opened"

    number: str
    subject: str = attrs.field(metadata=PERSONAL, repr=False)
    description: str = attrs.field(metadata=PERSONAL, repr=False)
    type: str
    priority: Priority
    severity: Severity
    customer_tier: str | None = None
    complaint_id: str | None = None
    queue: str | None = None
    skills_needed: tuple[str, ...] = ()

    def summary(self) -> str:
        """Timeline line."""
        return f"case {self.number} opened: {self.type}, {self.priority} priority"

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and account, and the complaint it came from."""
        extra = () if self.complaint_id is None else (self.complaint_id,)
        return (*super().subjects(), *extra)


@attrs.frozen(kw_only=True)
class CaseAssigned(CaseEvent):
    """The case was assigned (or reassigned) to an owner.

    Attributes:
        owner_id: The new owner.
        team: The team that holds the case after the change.
    """

    event_type: ClassVar[str] = "case_assigned"

    owner_id: str
    team: str | None

    def summary(self) -> str:
        """Timeline line."""
        return f"case assigned to {self.owner_id}"


@attrs.frozen(kw_only=True)
class CaseStarted(CaseEvent):
    """The owner started working on the case."""

    event_type: ClassVar[str] = "case_started"

    def summary(self) -> str:
        """Timeline line."""
        return "case work started"


@attrs.frozen(kw_only=True)
class CaseResponded(CaseEvent):
    """An agent responded to the customer (``occurred_at`` is the response time).

    Attributes:
        first: Whether it was the case's first response.
    """

    event_type: ClassVar[str] = "case_responded"

    first: bool

    def summary(self) -> str:
        """Timeline line."""
        return "first response to the customer" if self.first else "response to the customer"


@attrs.frozen(kw_only=True)
class CaseWaitingOnCustomer(CaseEvent):
    """The case waits on the customer; an SLA clock pauses from ``occurred_at``."""

    event_type: ClassVar[str] = "case_waiting_on_customer"

    def summary(self) -> str:
        """Timeline line."""
        return "case waiting on the customer"


@attrs.frozen(kw_only=True)
class CaseCustomerReplied(CaseEvent):
    """The customer replied; work resumes and the pause ends.

    Attributes:
        pause: The wait that ended.
    """

    event_type: ClassVar[str] = "case_customer_replied"

    pause: Pause

    def summary(self) -> str:
        """Timeline line."""
        return "customer replied"


@attrs.frozen(kw_only=True)
class CaseResolved(CaseEvent):
    """The case was resolved.

    Attributes:
        note: How it was resolved (personal).
        pause: The wait on the customer that resolving ended, if the case was waiting.
    """

    event_type: ClassVar[str] = "case_resolved"

    note: str = attrs.field(metadata=PERSONAL, repr=False)
    pause: Pause | None = None

    def summary(self) -> str:
        """Timeline line (the note stays out: it is free text)."""
        return "case resolved"


@attrs.frozen(kw_only=True)
class CaseReopened(CaseEvent):
    """A resolved case was reopened inside the reopen window.

    Attributes:
        reopened_count: How often the case has been reopened, this time included.
    """

    event_type: ClassVar[str] = "case_reopened"

    reopened_count: int

    def summary(self) -> str:
        """Timeline line."""
        return f"case reopened (time {self.reopened_count})"


@attrs.frozen(kw_only=True)
class CaseClosed(CaseEvent):
    """A resolved case was closed for good.

    Attributes:
        automatic: Whether the host's auto-close job closed it (rather than a person).
    """

    event_type: ClassVar[str] = "case_closed"

    automatic: bool = False

    def summary(self) -> str:
        """Timeline line."""
        return "case closed automatically" if self.automatic else "case closed"


@attrs.frozen(kw_only=True)
class CaseEscalated(CaseEvent):
    """The case's escalation level changed.

    Attributes:
        level: The new level (0 to 3).
        previous_level: The level before.
        reason: Why (personal: it may quote the customer).
        by_hand: Whether a person set the level by hand (which may lower it).
    """

    event_type: ClassVar[str] = "case_escalated"

    level: int
    previous_level: int
    reason: str = attrs.field(metadata=PERSONAL, repr=False)
    by_hand: bool = False

    def summary(self) -> str:
        """Timeline line (the reason stays out)."""
        return f"case escalation level {self.previous_level} -> {self.level}"


@attrs.frozen(kw_only=True)
class CaseReprioritised(CaseEvent):
    """The case's priority or severity changed.

    Attributes:
        priority: The new priority.
        severity: The new severity.
    """

    event_type: ClassVar[str] = "case_reprioritised"

    priority: Priority
    severity: Severity

    def summary(self) -> str:
        """Timeline line."""
        return f"case now {self.priority} priority, {self.severity} severity"


@attrs.frozen(kw_only=True)
class CaseArticleLinked(CaseEvent):
    """A knowledge article was linked to the case.

    Attributes:
        article_id: The article.
    """

    event_type: ClassVar[str] = "case_article_linked"

    article_id: str

    def summary(self) -> str:
        """Timeline line."""
        return f"knowledge article {self.article_id} linked"


@attrs.frozen(kw_only=True)
class CaseArticleUnlinked(CaseEvent):
    """A knowledge article was unlinked from the case.

    Attributes:
        article_id: The article.
    """

    event_type: ClassVar[str] = "case_article_unlinked"

    article_id: str

    def summary(self) -> str:
        """Timeline line."""
        return f"knowledge article {self.article_id} unlinked"


@attrs.frozen(kw_only=True)
class CaseParentSet(CaseEvent):
    """The case's parent case was set (or cleared).

    Attributes:
        parent_id: The parent case, or None when it was cleared.
        previous_parent_id: The parent before, if any.
    """

    event_type: ClassVar[str] = "case_parent_set"

    parent_id: str | None
    previous_parent_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return "case detached from its parent" if self.parent_id is None else "parent case set"

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and account, and the parents involved."""
        extra = (i for i in (self.parent_id, self.previous_parent_id) if i is not None)
        return (*super().subjects(), *extra)


@attrs.frozen(kw_only=True)
class CaseChildAdded(CaseEvent):
    """A child case was added under this case.

    Attributes:
        child_id: The child case.
    """

    event_type: ClassVar[str] = "case_child_added"

    child_id: str

    def summary(self) -> str:
        """Timeline line."""
        return "child case added"

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and account, and the child."""
        return (*super().subjects(), self.child_id)


@attrs.frozen(kw_only=True)
class CaseMerged(CaseEvent):
    """The case was merged into a surviving case (a duplicate); it is final.

    Attributes:
        survivor_id: The case that lives on.
        pause: The wait on the customer that merging ended, if the case was waiting.
    """

    event_type: ClassVar[str] = "case_merged"

    survivor_id: str
    pause: Pause | None = None

    def summary(self) -> str:
        """Timeline line."""
        return "case merged into another case"

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and account, and the survivor."""
        return (*super().subjects(), self.survivor_id)


@attrs.frozen(kw_only=True)
class CaseAbsorbed(CaseEvent):
    """A duplicate case was merged into this one.

    Attributes:
        duplicate_id: The merged duplicate.
    """

    event_type: ClassVar[str] = "case_absorbed"

    duplicate_id: str

    def summary(self) -> str:
        """Timeline line."""
        return "duplicate case merged in"

    def subjects(self) -> tuple[str, ...]:
        """The case, its contact and account, and the duplicate."""
        return (*super().subjects(), self.duplicate_id)


@attrs.frozen(kw_only=True)
class CaseRated(CaseEvent):
    """The customer rated the resolved case.

    Attributes:
        csat: The rating (its comment is personal).
    """

    event_type: ClassVar[str] = "case_rated"

    csat: Csat

    def summary(self) -> str:
        """Timeline line (the comment stays out)."""
        return f"case rated {self.csat.score}/5"


@attrs.frozen(kw_only=True)
class CaseSlaUpdated(CaseEvent):
    """The case's SLA clock changed (started, paused, resumed, met or evaluated).

    Attributes:
        sla: The clock after the change.
        warnings: Warnings that fell due with this change.
        breaches: Breaches that fell due with this change.
    """

    event_type: ClassVar[str] = "case_sla_updated"

    sla: SlaClock
    warnings: tuple[SlaWarning, ...] = ()
    breaches: tuple[SlaBreached, ...] = ()

    def summary(self) -> str:
        """Timeline line: the targets breached or at risk, if any."""
        if self.breaches:
            return "SLA breached: " + ", ".join(str(f.metric) for f in self.breaches)
        if self.warnings:
            return "SLA at risk: " + ", ".join(str(f.metric) for f in self.warnings)
        return f"SLA clock updated ({self.sla.policy_id})"


EVENTS: tuple[type[DomainEvent], ...] = (
    CaseOpened,
    CaseAssigned,
    CaseStarted,
    CaseResponded,
    CaseWaitingOnCustomer,
    CaseCustomerReplied,
    CaseResolved,
    CaseReopened,
    CaseClosed,
    CaseEscalated,
    CaseReprioritised,
    CaseArticleLinked,
    CaseArticleUnlinked,
    CaseParentSet,
    CaseChildAdded,
    CaseMerged,
    CaseAbsorbed,
    CaseRated,
    CaseSlaUpdated,
)
"""Every event class of service cases."""
