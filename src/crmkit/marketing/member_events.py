"""Events of campaign members (`crmkit.marketing.member`).

Every member event names its campaign and its contact or lead, so it shows on
their timelines too. Response notes are personal free text: they are marked
personal and kept out of summaries.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from crmkit.kernel.events import PERSONAL, DomainEvent

__all__ = [
    "EVENTS",
    "MemberBounced",
    "MemberConverted",
    "MemberEvent",
    "MemberOptedOut",
    "MemberResponded",
    "MemberSent",
    "MemberTargeted",
]


@attrs.frozen(kw_only=True)
class MemberEvent(DomainEvent):
    """Base class of campaign member events.

    Attributes:
        campaign_id: The member's campaign.
        contact_id: The contact targeted, if the member is a contact.
        lead_id: The lead targeted, if the member is a lead.
    """

    aggregate_kind: ClassVar[str] = "campaign_member"
    campaign_id: str
    contact_id: str | None = None
    lead_id: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        return "campaign member " + self.event_type.removeprefix("campaign_member_").replace(
            "_", " "
        )

    def subjects(self) -> tuple[str, ...]:
        """The member, its campaign and its contact or lead."""
        who = self.contact_id if self.contact_id is not None else self.lead_id
        return (self.aggregate_id, self.campaign_id) + (() if who is None else (who,))


@attrs.frozen(kw_only=True)
class MemberTargeted(MemberEvent):
    """A contact or lead was added to a campaign's audience."""

    event_type: ClassVar[str] = "campaign_member_targeted"


@attrs.frozen(kw_only=True)
class MemberSent(MemberEvent):
    """The campaign was sent to the member (again, after a soft bounce)."""

    event_type: ClassVar[str] = "campaign_member_sent"


@attrs.frozen(kw_only=True)
class MemberResponded(MemberEvent):
    """The member responded.

    Attributes:
        channel: The `crmkit.marketing.member.ResponseChannel` value it came through.
        note: What they said, if noted (personal).
    """

    event_type: ClassVar[str] = "campaign_member_responded"
    channel: str
    note: str | None = attrs.field(default=None, metadata=PERSONAL, repr=False)

    def summary(self) -> str:
        """Timeline line (without the note)."""
        return f"campaign member responded by {self.channel.replace('_', ' ')}"


@attrs.frozen(kw_only=True)
class MemberConverted(MemberEvent):
    """The response became a lead.

    Attributes:
        converted_lead_id: The lead created from the response.
    """

    event_type: ClassVar[str] = "campaign_member_converted"
    converted_lead_id: str

    def subjects(self) -> tuple[str, ...]:
        """The member, its campaign, its contact or lead, and the new lead."""
        return (*super().subjects(), self.converted_lead_id)


@attrs.frozen(kw_only=True)
class MemberOptedOut(MemberEvent):
    """The member asked not to be contacted by the campaign any more."""

    event_type: ClassVar[str] = "campaign_member_opted_out"


@attrs.frozen(kw_only=True)
class MemberBounced(MemberEvent):
    """A send could not be delivered.

    Attributes:
        kind: ``"hard"`` (the address is dead) or ``"soft"`` (try again later).
    """

    event_type: ClassVar[str] = "campaign_member_bounced"
    kind: str

    def summary(self) -> str:
        """Timeline line."""
        return f"campaign member bounced ({self.kind})"


EVENTS: tuple[type[DomainEvent], ...] = (
    MemberTargeted,
    MemberSent,
    MemberResponded,
    MemberConverted,
    MemberOptedOut,
    MemberBounced,
)
