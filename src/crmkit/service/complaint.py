"""Complaints: a customer's expression of dissatisfaction, from intake to resolution.

A complaint is received (from a contact, an account or both), acknowledged to
the customer, investigated, and then resolved (with a `Resolution` and the
`RootCause` the investigation found) or rejected. A complaint that needs more
than its owner can do is escalated to a service case: the complaint records the
case's id and is under investigation; the application creates the case. A
resolved complaint can be reopened when the customer is not satisfied; a
rejected one is final.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> from crmkit.kernel.money import Money
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-agent")
>>> complaint, _ = Complaint.receive(
...     "cmp-1", stamp, channel="email", subject="Parcel arrived damaged",
...     description="The box was crushed.", category="delivery", severity="major",
...     contact_id="c-1",
... )
>>> complaint, _ = complaint.acknowledge(stamp)
>>> complaint, event = complaint.resolve(
...     Resolution("refund", Money.of("20.00", "EUR")), RootCause("carrier_damage"), stamp
... )
>>> complaint.status
<ComplaintStatus.RESOLVED: 'resolved'>
>>> event.summary()
'complaint resolved: refund 20.00 EUR (cause carrier_damage)'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NewType, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import AccountId, ContactId, ContractId, ProductId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.service._complaint_fields import (
    _account,
    _case,
    _category,
    _channel,
    _contact,
    _contract,
    _description,
    _order_ref,
    _owner,
    _product,
    _reason,
    _rejection_reason,
    _severity,
    _subject,
    _tags,
)
from crmkit.service.complaint_events import (
    ComplaintAcknowledged,
    ComplaintAssigned,
    ComplaintCategorised,
    ComplaintEscalated,
    ComplaintEvent,
    ComplaintInvestigating,
    ComplaintReceived,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintSeverity,
    ComplaintTagged,
    IntakeChannel,
    Resolution,
    ResolutionType,
    RootCause,
)

__all__ = [
    "COMPLAINT_LIFECYCLE",
    "Complaint",
    "ComplaintId",
    "ComplaintSeverity",
    "ComplaintStatus",
    "IntakeChannel",
    "Resolution",
    "ResolutionType",
    "RootCause",
    "acknowledgement",
]


class ComplaintStatus(StrEnum):
    """Where a complaint is in `COMPLAINT_LIFECYCLE`."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    REJECTED = "rejected"


_S = ComplaintStatus
_OPEN = (_S.RECEIVED, _S.ACKNOWLEDGED, _S.INVESTIGATING)

COMPLAINT_LIFECYCLE: Lifecycle[ComplaintStatus] = Lifecycle(
    "complaint",
    ComplaintStatus,
    _S.RECEIVED,
    [
        Transition("acknowledge", _S.RECEIVED, _S.ACKNOWLEDGED),
        Transition("investigate", (_S.RECEIVED, _S.ACKNOWLEDGED), _S.INVESTIGATING),
        Transition(
            "escalate",
            (_S.ACKNOWLEDGED, _S.INVESTIGATING),
            _S.INVESTIGATING,
            guard="not escalated yet",
        ),
        Transition(
            "resolve",
            (_S.ACKNOWLEDGED, _S.INVESTIGATING),
            _S.RESOLVED,
            guard="resolution and root cause",
        ),
        Transition("reject", _OPEN, _S.REJECTED, guard="with a reason"),
        Transition("reopen", _S.RESOLVED, _S.INVESTIGATING, guard="with a reason"),
    ],
    final=[_S.REJECTED],
)
"""received → acknowledged → investigating → resolved, or rejected; resolved can be reopened."""


ComplaintId = NewType("ComplaintId", str)
"""Id of a `Complaint`."""


def _complaint_id(value: object) -> ComplaintId:
    return ComplaintId(check_id(value, "id"))


@attrs.frozen
class Complaint(Replayable):
    """A customer complaint.

    Attributes:
        id: The complaint's id (also its reference for the customer).
        version: Grows by one with every change.
        created_at: When it was received.
        updated_at: When it last changed.
        status: Where it is in `COMPLAINT_LIFECYCLE`.
        channel: How it arrived.
        subject: Its subject line (personal).
        description: What the customer says (personal).
        category: Host-defined category token (``delivery``, ``billing`` ...).
        severity: How serious it is.
        contact_id: The complaining contact (this or ``account_id``, or both).
        account_id: The complaining account.
        product_id: The product concerned, if any.
        order_ref: The host's order reference, if any.
        contract_id: The contract concerned, if any.
        acknowledged_at: When it was acknowledged, if it was.
        owner_id: The user who handles it, if any.
        root_cause: Why it happened, once resolved.
        resolution: What was done, once resolved.
        resolved_at: When it was resolved (None again after a reopening).
        rejection_reason: Why it was rejected (personal).
        case_id: The service case it was escalated to, if any.
        tags: Case-folded tags, sorted.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    id: ComplaintId = attrs.field(converter=_complaint_id)
    version: int = attrs.field(validator=version)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: ComplaintStatus = attrs.field(validator=of_type(ComplaintStatus))
    channel: IntakeChannel = attrs.field(converter=_channel)
    subject: str = attrs.field(converter=_subject, metadata=PERSONAL, repr=False)
    description: str = attrs.field(converter=_description, metadata=PERSONAL, repr=False)
    category: str = attrs.field(converter=_category)
    severity: ComplaintSeverity = attrs.field(converter=_severity)
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact)
    account_id: AccountId | None = attrs.field(default=None, converter=_account)
    product_id: ProductId | None = attrs.field(default=None, converter=_product)
    order_ref: str | None = attrs.field(default=None, converter=_order_ref)
    contract_id: ContractId | None = attrs.field(default=None, converter=_contract)
    acknowledged_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    owner_id: str | None = attrs.field(default=None, converter=_owner)
    root_cause: RootCause | None = attrs.field(
        default=None, validator=of_type(RootCause, optional=True)
    )
    resolution: Resolution | None = attrs.field(
        default=None, validator=of_type(Resolution, optional=True)
    )
    resolved_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    rejection_reason: str | None = attrs.field(
        default=None, converter=_rejection_reason, metadata=PERSONAL, repr=False
    )
    case_id: str | None = attrs.field(default=None, converter=_case)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if self.contact_id is None and self.account_id is None:
            raise ValidationError("customer", "needs a contact_id or an account_id (or both)")

    @property
    def is_open(self) -> bool:
        """Whether it is still being handled (received, acknowledged or investigating)."""
        return self.status in _OPEN

    # --- creation and replay ---

    @classmethod
    def receive(
        cls,
        id: str,
        stamp: Stamp,
        *,
        channel: IntakeChannel | str,
        subject: str,
        description: str,
        category: str,
        severity: ComplaintSeverity | str,
        contact_id: str | None = None,
        account_id: str | None = None,
        product_id: str | None = None,
        order_ref: str | None = None,
        contract_id: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
    ) -> tuple[Complaint, ComplaintReceived]:
        """A new complaint, received; it needs a ``contact_id`` or an ``account_id``."""
        if not isinstance(stamp, Stamp):
            raise ValidationError("stamp", "must be a Stamp", stamp)
        checked = cls(
            id, 1, stamp.at, stamp.at, _S.RECEIVED, channel, subject, description, category,
            severity, contact_id=contact_id, account_id=account_id, product_id=product_id,
            order_ref=order_ref, contract_id=contract_id, tags=tags,
        )  # fmt: skip
        event = ComplaintReceived(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            contact_id=checked.contact_id,
            account_id=checked.account_id,
            channel=checked.channel,
            subject=checked.subject,
            description=checked.description,
            category=checked.category,
            severity=checked.severity,
            product_id=checked.product_id,
            order_ref=checked.order_ref,
            contract_id=checked.contract_id,
            tags=checked.tags,
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `ComplaintReceived`."""
        if not isinstance(event, ComplaintReceived):
            raise ValidationError("events[0]", "must be ComplaintReceived", event.event_type)
        return cls(
            event.aggregate_id, 1, event.occurred_at, event.occurred_at, _S.RECEIVED,
            event.channel, event.subject, event.description, event.category, event.severity,
            contact_id=event.contact_id, account_id=event.account_id,
            product_id=event.product_id, order_ref=event.order_ref,
            contract_id=event.contract_id, tags=event.tags,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this complaint's events."""
        at = event.occurred_at
        step: dict[str, Any] = {"version": event.version, "updated_at": at}
        if isinstance(event, ComplaintAcknowledged):
            step.update(status=_S.ACKNOWLEDGED, acknowledged_at=at)
        elif isinstance(event, ComplaintInvestigating):
            step["status"] = _S.INVESTIGATING
        elif isinstance(event, ComplaintEscalated):
            step.update(status=_S.INVESTIGATING, case_id=event.case_id)
        elif isinstance(event, ComplaintResolved):
            step.update(
                status=_S.RESOLVED, resolution=event.resolution, root_cause=event.root_cause,
                resolved_at=at,
            )  # fmt: skip
        elif isinstance(event, ComplaintRejected):
            step.update(status=_S.REJECTED, rejection_reason=event.reason)
        elif isinstance(event, ComplaintReopened):
            # The resolution stays in the event history; the live record shows none.
            step.update(status=_S.INVESTIGATING, resolution=None, root_cause=None, resolved_at=None)
        elif isinstance(event, ComplaintAssigned):
            step["owner_id"] = event.owner_id
        elif isinstance(event, ComplaintCategorised):
            step.update(category=event.category, severity=event.severity)
        elif isinstance(event, ComplaintTagged):
            step["tags"] = event.tags
        else:
            raise ValidationError("event", "must be a complaint event", event.event_type)
        return self._evolve(**step)

    def _do(self, cls: type[ComplaintEvent], stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        if not isinstance(stamp, Stamp):
            raise ValidationError("stamp", "must be a Stamp", stamp)
        data.setdefault("case_id", self.case_id)
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            contact_id=self.contact_id,
            account_id=self.account_id,
            **data,
        )
        return self.apply(event), event

    def _editable(self, command: str) -> None:
        """Refuse edits once the complaint is closed."""
        if not self.is_open:
            reason = "a closed complaint does not change"
            if self.status is _S.RESOLVED:
                reason += "; reopen it first"
            raise COMPLAINT_LIFECYCLE.refuse(self.status, command, reason)

    # --- lifecycle commands ---

    def acknowledge(self, stamp: Stamp) -> tuple[Complaint, ComplaintAcknowledged]:
        """Record that the customer was told the complaint was received (see `acknowledgement`)."""
        COMPLAINT_LIFECYCLE.target(self.status, "acknowledge")
        return self._do(ComplaintAcknowledged, stamp)

    def investigate(self, stamp: Stamp) -> tuple[Complaint, ComplaintInvestigating]:
        """Start investigating."""
        COMPLAINT_LIFECYCLE.target(self.status, "investigate")
        return self._do(ComplaintInvestigating, stamp)

    def escalate(self, case_id: str, stamp: Stamp) -> tuple[Complaint, ComplaintEscalated]:
        """Record escalation to the service case ``case_id`` (once); the app creates the case."""
        COMPLAINT_LIFECYCLE.target(self.status, "escalate")
        case = check_id(case_id, "case_id")
        if self.case_id is not None:
            reason = f"already escalated to case {self.case_id}"
            raise COMPLAINT_LIFECYCLE.refuse(self.status, "escalate", reason)
        return self._do(ComplaintEscalated, stamp, case_id=case)

    def resolve(
        self, resolution: Resolution, root_cause: RootCause, stamp: Stamp
    ) -> tuple[Complaint, ComplaintResolved]:
        """Resolve it with what was done and why it happened."""
        COMPLAINT_LIFECYCLE.target(self.status, "resolve")
        if not isinstance(resolution, Resolution):
            raise ValidationError("resolution", "must be a Resolution", resolution)
        if not isinstance(root_cause, RootCause):
            raise ValidationError("root_cause", "must be a RootCause", root_cause)
        return self._do(ComplaintResolved, stamp, resolution=resolution, root_cause=root_cause)

    def reject(self, reason: str, stamp: Stamp) -> tuple[Complaint, ComplaintRejected]:
        """Reject it (unfounded, out of scope ...), saying why; final."""
        COMPLAINT_LIFECYCLE.target(self.status, "reject")
        return self._do(ComplaintRejected, stamp, reason=_reason(reason, "reason"))

    def reopen(self, reason: str, stamp: Stamp) -> tuple[Complaint, ComplaintReopened]:
        """Reopen a resolved complaint the customer is not satisfied with; clears the resolution."""
        COMPLAINT_LIFECYCLE.target(self.status, "reopen")
        return self._do(ComplaintReopened, stamp, reason=_reason(reason, "reason"))

    # --- edits (allowed while open) ---

    def assign(self, owner_id: str | None, stamp: Stamp) -> tuple[Complaint, ComplaintAssigned]:
        """Give the complaint to an owner (a user id), or to nobody."""
        self._editable("assign")
        owner = _owner(owner_id)
        if owner == self.owner_id:
            raise ValidationError("owner_id", "is the owner already", owner)
        return self._do(ComplaintAssigned, stamp, owner_id=owner)

    def categorise(
        self, category: str, severity: ComplaintSeverity | str, stamp: Stamp
    ) -> tuple[Complaint, ComplaintCategorised]:
        """Change the category and severity (at least one must change)."""
        self._editable("categorise")
        new_category, new_severity = _category(category), _severity(severity)
        if (new_category, new_severity) == (self.category, self.severity):
            raise ValidationError("category", "and severity change nothing")
        return self._do(ComplaintCategorised, stamp, category=new_category, severity=new_severity)

    def retag(
        self, tags: tuple[str, ...] | list[str], stamp: Stamp
    ) -> tuple[Complaint, ComplaintTagged]:
        """Replace the tags (case-folded, de-duplicated, sorted)."""
        self._editable("retag")
        after = _tags(tags)
        if after == self.tags:
            raise ValidationError("tags", "change nothing")
        return self._do(ComplaintTagged, stamp, tags=after)


def acknowledgement(complaint: Complaint) -> dict[str, str]:
    """The values an acknowledgement message template needs, all strings.

    Keys: ``complaint_id`` (the reference to quote), ``subject``, ``received_on``
    (ISO date, in the time zone of the receiving stamp), ``received_at`` (ISO date and time),
    ``channel``, ``category`` and ``severity``. Pass them to
    `crmkit.app.notifier.Template.render` (placeholders ``$complaint_id`` ...).
    """
    if not isinstance(complaint, Complaint):
        raise ValidationError("complaint", "must be a Complaint", complaint)
    return {
        "complaint_id": complaint.id,
        "subject": complaint.subject,
        "received_on": complaint.created_at.date().isoformat(),
        "received_at": complaint.created_at.isoformat(),
        "channel": complaint.channel.value,
        "category": complaint.category,
        "severity": complaint.severity.value,
    }
