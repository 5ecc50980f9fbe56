"""Events of complaints, and the value objects they carry.

Every complaint event carries the customer's contact and account ids, and the
service case's id once the complaint was escalated, so that it shows on their
timelines too. Summaries name the category, severity and outcome, never the
subject, the description or a free-text note or reason (they may hold personal
data).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

import attrs

from crmkit.kernel.checks import of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_text, clean_token
from crmkit.service.sla_policy import Severity


class IntakeChannel(StrEnum):
    """How the complaint reached the business."""

    EMAIL = "email"
    PHONE = "phone"
    WEB = "web"
    SOCIAL = "social"
    IN_PERSON = "in_person"
    LETTER = "letter"


ComplaintSeverity = Severity
"""How serious a complaint is: the service-wide `crmkit.service.sla_policy.Severity` scale."""


class ResolutionType(StrEnum):
    """What the business did to resolve a complaint."""

    REFUND = "refund"
    REPLACEMENT = "replacement"
    CREDIT = "credit"
    APOLOGY = "apology"
    REPAIR = "repair"
    OTHER = "other"


_NEEDS_AMOUNT = frozenset({ResolutionType.REFUND, ResolutionType.CREDIT})
_NO_AMOUNT = frozenset({ResolutionType.APOLOGY})


def _note(value: object) -> str | None:
    if value is None:
        return None
    return clean_text(value, "note", max_len=2000, allow_empty=False, personal=True)


def _category(value: object) -> str:
    return clean_token(value, "category")


def _resolution_type(value: object) -> ResolutionType:
    return to_enum(ResolutionType, "type")(value)


@attrs.frozen
class RootCause:
    """Why the complaint happened, as the investigation found.

    Attributes:
        category: A host-defined token (``carrier_delay``, ``billing_error`` ...), for reports.
        note: Free text for the record (personal: never in summaries or errors).
    """

    category: str = attrs.field(converter=_category)
    note: str | None = attrs.field(default=None, converter=_note, metadata=PERSONAL, repr=False)


@attrs.frozen
class Resolution:
    """What was done for the customer.

    A ``refund`` or a ``credit`` needs a positive ``amount``; an ``apology``
    must have none; the other types may name one (the value of a replacement).

    Attributes:
        type: The kind of remedy.
        amount: The money given back or credited, or None.
        note: Free text for the record (personal: never in summaries or errors).
    """

    type: ResolutionType = attrs.field(converter=_resolution_type)
    amount: Money | None = attrs.field(default=None, validator=of_type(Money, optional=True))
    note: str | None = attrs.field(default=None, converter=_note, metadata=PERSONAL, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.type in _NEEDS_AMOUNT and self.amount is None:
            raise ValidationError("amount", f"is required for a {self.type.value}")
        if self.type in _NO_AMOUNT and self.amount is not None:
            raise ValidationError("amount", f"must be None for an {self.type.value}", self.amount)
        if self.amount is not None and self.amount.amount <= Decimal(0):
            raise ValidationError("amount", "must be positive", str(self.amount))

    def __str__(self) -> str:
        """The type and the amount, without the note: ``refund 20.00 EUR``."""
        return self.type.value if self.amount is None else f"{self.type.value} {self.amount}"


@attrs.frozen(kw_only=True)
class ComplaintEvent(DomainEvent):
    """Base class of complaint events.

    Attributes:
        contact_id: The complaining contact, if known.
        account_id: The complaining account, if known.
        case_id: The service case the complaint was escalated to, once it was.
    """

    aggregate_kind: ClassVar[str] = "complaint"
    contact_id: str | None = None
    account_id: str | None = None
    case_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return "complaint " + self.event_type.removeprefix("complaint_").replace("_", " ")

    def subjects(self) -> tuple[str, ...]:
        """The complaint, its contact and account, and its case once escalated."""
        related = (self.contact_id, self.account_id, self.case_id)
        return (self.aggregate_id, *(i for i in related if i is not None))


@attrs.frozen(kw_only=True)
class ComplaintReceived(ComplaintEvent):
    """A complaint was received.

    Attributes:
        channel: How it arrived.
        subject: Its subject line.
        description: What the customer says (personal).
        category: Host-defined category token.
        severity: How serious it is.
        product_id: The product complained about, if any.
        order_ref: The host's order reference, if any.
        contract_id: The contract concerned, if any.
        tags: Case-folded tags, sorted.
    """

    event_type: ClassVar[str] = "complaint_received"
    channel: IntakeChannel
    subject: str = attrs.field(metadata=PERSONAL, repr=False)
    description: str = attrs.field(metadata=PERSONAL, repr=False)
    category: str
    severity: ComplaintSeverity
    product_id: str | None = None
    order_ref: str | None = None
    contract_id: str | None = None
    tags: tuple[str, ...] = ()

    def summary(self) -> str:
        """Timeline line."""
        return f"complaint received by {self.channel.value}: {self.category}, {self.severity.value}"


@attrs.frozen(kw_only=True)
class ComplaintAcknowledged(ComplaintEvent):
    """The customer was told that the complaint was received."""

    event_type: ClassVar[str] = "complaint_acknowledged"


@attrs.frozen(kw_only=True)
class ComplaintInvestigating(ComplaintEvent):
    """Investigation of the complaint started (again, after a reopening)."""

    event_type: ClassVar[str] = "complaint_investigating"

    def summary(self) -> str:
        """Timeline line."""
        return "complaint under investigation"


@attrs.frozen(kw_only=True)
class ComplaintEscalated(ComplaintEvent):
    """The complaint was escalated to a service case (``case_id``, set on this event)."""

    event_type: ClassVar[str] = "complaint_escalated"

    def summary(self) -> str:
        """Timeline line."""
        return "complaint escalated to a service case"


@attrs.frozen(kw_only=True)
class ComplaintResolved(ComplaintEvent):
    """The complaint was resolved.

    Attributes:
        resolution: What was done for the customer.
        root_cause: Why it happened.
    """

    event_type: ClassVar[str] = "complaint_resolved"
    resolution: Resolution
    root_cause: RootCause

    def summary(self) -> str:
        """Timeline line."""
        return f"complaint resolved: {self.resolution} (cause {self.root_cause.category})"


@attrs.frozen(kw_only=True)
class ComplaintRejected(ComplaintEvent):
    """The complaint was rejected as unfounded or out of scope.

    Attributes:
        reason: Why (kept out of the summary).
    """

    event_type: ClassVar[str] = "complaint_rejected"
    reason: str = attrs.field(metadata=PERSONAL, repr=False)


@attrs.frozen(kw_only=True)
class ComplaintReopened(ComplaintEvent):
    """A resolved complaint was reopened and is under investigation again.

    Attributes:
        reason: Why (kept out of the summary).
    """

    event_type: ClassVar[str] = "complaint_reopened"
    reason: str = attrs.field(metadata=PERSONAL, repr=False)


@attrs.frozen(kw_only=True)
class ComplaintAssigned(ComplaintEvent):
    """The complaint got an owner, or lost it.

    Attributes:
        owner_id: The new owner (a user id), or None.
    """

    event_type: ClassVar[str] = "complaint_assigned"
    owner_id: str | None


@attrs.frozen(kw_only=True)
class ComplaintCategorised(ComplaintEvent):
    """The complaint's category or severity changed; carries both after the change.

    Attributes:
        category: The category.
        severity: The severity.
    """

    event_type: ClassVar[str] = "complaint_categorised"
    category: str
    severity: ComplaintSeverity

    def summary(self) -> str:
        """Timeline line."""
        return f"complaint categorised: {self.category}, {self.severity.value}"


@attrs.frozen(kw_only=True)
class ComplaintTagged(ComplaintEvent):
    """The complaint's tags changed; carries all of them after the change.

    Attributes:
        tags: Case-folded tags, sorted.
    """

    event_type: ClassVar[str] = "complaint_tagged"
    tags: tuple[str, ...]


EVENTS: tuple[type[DomainEvent], ...] = (
    ComplaintReceived,
    ComplaintAcknowledged,
    ComplaintInvestigating,
    ComplaintEscalated,
    ComplaintResolved,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintAssigned,
    ComplaintCategorised,
    ComplaintTagged,
)
