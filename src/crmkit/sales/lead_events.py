"""Events of leads.

Each event carries every value its change sets, so `Lead.replay` rebuilds a
lead from its events alone. Summaries never show personal data: names,
email addresses and phone numbers stay out of the timeline line.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from crmkit.kernel.events import PERSONAL, DomainEvent
from crmkit.parties.values import Email, Phone
from crmkit.sales.lead_values import LeadSource


@attrs.frozen(kw_only=True)
class LeadCaptured(DomainEvent):
    """A lead was captured (the lead starts as ``new`` at version 1).

    Attributes:
        first_name: Given name (personal).
        last_name: Family name (personal).
        email: Email address (personal).
        phone: Phone number (personal).
        company: The organisation the person works for.
        title: Job title.
        website: The organisation's web address.
        country: ISO 3166-1 alpha-2 country code.
        region: State, province or region.
        city: City or town.
        description: Free text: what the person asked for.
        source: Where the lead came from.
        owner_id: The user the lead was given to, if any.
        tags: Case-folded tags, sorted.
        answers: Qualification answers given at capture.
    """

    event_type: ClassVar[str] = "lead_captured"
    aggregate_kind: ClassVar[str] = "lead"

    first_name: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    last_name: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    email: Email | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    phone: Phone | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    company: str | None = None
    title: str | None = None
    website: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    description: str | None = None
    source: LeadSource = attrs.field(factory=LeadSource)
    owner_id: str | None = None
    tags: tuple[str, ...] = ()
    answers: dict[str, str] = attrs.field(factory=dict)

    def summary(self) -> str:
        """Timeline line."""
        where = f" from {self.company}" if self.company else ""
        return f"lead{where} captured via {self.source.channel}"


@attrs.frozen(kw_only=True)
class LeadChanged(DomainEvent):
    """Fields of a lead changed; each changed field carries its new value.

    Attributes:
        fields: Names of the fields that changed; only these values apply.
        first_name: New given name (personal).
        last_name: New family name (personal).
        email: New email address (personal).
        phone: New phone number (personal).
        company: New company.
        title: New job title.
        website: New web address.
        country: New country code.
        region: New region.
        city: New city.
        description: New description.
    """

    event_type: ClassVar[str] = "lead_changed"
    aggregate_kind: ClassVar[str] = "lead"

    fields: tuple[str, ...]
    first_name: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    last_name: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    email: Email | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    phone: Phone | None = attrs.field(default=None, metadata=PERSONAL, repr=False)
    company: str | None = None
    title: str | None = None
    website: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    description: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return "changed " + ", ".join(self.fields)


@attrs.frozen(kw_only=True)
class LeadTagged(DomainEvent):
    """Tags were added to a lead.

    Attributes:
        tags: The lead's tags afterwards.
    """

    event_type: ClassVar[str] = "lead_tagged"
    aggregate_kind: ClassVar[str] = "lead"
    tags: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return "tags now " + ", ".join(self.tags)


@attrs.frozen(kw_only=True)
class LeadUntagged(DomainEvent):
    """Tags were removed from a lead.

    Attributes:
        tags: The lead's tags afterwards.
    """

    event_type: ClassVar[str] = "lead_untagged"
    aggregate_kind: ClassVar[str] = "lead"
    tags: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return "tags now " + (", ".join(self.tags) or "none")


@attrs.frozen(kw_only=True)
class LeadAssigned(DomainEvent):
    """A lead was given to an owner (or taken from one).

    Attributes:
        owner_id: The new owner, or None.
    """

    event_type: ClassVar[str] = "lead_assigned"
    aggregate_kind: ClassVar[str] = "lead"
    owner_id: str | None

    def summary(self) -> str:
        """Timeline line."""
        return f"assigned to {self.owner_id}" if self.owner_id else "unassigned"


@attrs.frozen(kw_only=True)
class LeadAnswered(DomainEvent):
    """Qualification answers were recorded (merged over earlier ones).

    Attributes:
        answers: The answers given, by question.
    """

    event_type: ClassVar[str] = "lead_answered"
    aggregate_kind: ClassVar[str] = "lead"
    answers: dict[str, str]

    def summary(self) -> str:
        """Timeline line."""
        return "answered " + ", ".join(sorted(self.answers))


@attrs.frozen(kw_only=True)
class LeadScored(DomainEvent):
    """A lead's score changed.

    Attributes:
        score: The new score, 0 to 100, or None when cleared.
    """

    event_type: ClassVar[str] = "lead_scored"
    aggregate_kind: ClassVar[str] = "lead"
    score: int | None

    def summary(self) -> str:
        """Timeline line."""
        return "score cleared" if self.score is None else f"scored {self.score}"


@attrs.frozen(kw_only=True)
class LeadWorked(DomainEvent):
    """Someone started working a lead."""

    event_type: ClassVar[str] = "lead_worked"
    aggregate_kind: ClassVar[str] = "lead"


@attrs.frozen(kw_only=True)
class LeadNurtured(DomainEvent):
    """A lead was put into nurturing (not ready to buy yet)."""

    event_type: ClassVar[str] = "lead_nurtured"
    aggregate_kind: ClassVar[str] = "lead"


@attrs.frozen(kw_only=True)
class LeadQualified(DomainEvent):
    """A lead met the qualification criteria.

    Attributes:
        answers: Answers given with the qualification (merged over earlier ones).
    """

    event_type: ClassVar[str] = "lead_qualified"
    aggregate_kind: ClassVar[str] = "lead"
    answers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class LeadConverted(DomainEvent):
    """A qualified lead became an account, a contact and perhaps an opportunity.

    Attributes:
        account_id: The account created or linked.
        contact_id: The contact created or linked.
        opportunity_id: The opportunity created, if any.
    """

    event_type: ClassVar[str] = "lead_converted"
    aggregate_kind: ClassVar[str] = "lead"
    account_id: str
    contact_id: str
    opportunity_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        made = f"account {self.account_id}, contact {self.contact_id}"
        if self.opportunity_id is not None:
            made += f", opportunity {self.opportunity_id}"
        return f"lead converted to {made}"

    def subjects(self) -> tuple[str, ...]:
        """The lead, the account, the contact and the opportunity."""
        ids = (self.aggregate_id, self.account_id, self.contact_id, self.opportunity_id)
        return tuple(i for i in ids if i is not None)


@attrs.frozen(kw_only=True)
class LeadDisqualified(DomainEvent):
    """A lead was disqualified.

    Attributes:
        reason: Why, for example ``no budget`` or ``competitor``.
    """

    event_type: ClassVar[str] = "lead_disqualified"
    aggregate_kind: ClassVar[str] = "lead"
    reason: str

    def summary(self) -> str:
        """Timeline line."""
        return f"lead disqualified: {self.reason}"


@attrs.frozen(kw_only=True)
class LeadRecycled(DomainEvent):
    """A disqualified or stale lead was handed back to marketing."""

    event_type: ClassVar[str] = "lead_recycled"
    aggregate_kind: ClassVar[str] = "lead"


@attrs.frozen(kw_only=True)
class LeadMerged(DomainEvent):
    """A duplicate lead was merged into a surviving lead; it refuses commands until unmerged.

    Attributes:
        into: The surviving lead.
    """

    event_type: ClassVar[str] = "lead_merged"
    aggregate_kind: ClassVar[str] = "lead"
    into: str

    def summary(self) -> str:
        """Timeline line."""
        return f"lead {self.aggregate_id} merged into {self.into}"

    def subjects(self) -> tuple[str, ...]:
        """The duplicate and the survivor."""
        return (self.aggregate_id, self.into)


@attrs.frozen(kw_only=True)
class LeadUnmerged(DomainEvent):
    """A merge was undone; the lead takes commands again."""

    event_type: ClassVar[str] = "lead_unmerged"
    aggregate_kind: ClassVar[str] = "lead"


EVENTS: tuple[type[DomainEvent], ...] = (
    LeadCaptured,
    LeadChanged,
    LeadTagged,
    LeadUntagged,
    LeadAssigned,
    LeadAnswered,
    LeadScored,
    LeadWorked,
    LeadNurtured,
    LeadQualified,
    LeadConverted,
    LeadDisqualified,
    LeadRecycled,
    LeadMerged,
    LeadUnmerged,
)
"""Every event class of leads."""
