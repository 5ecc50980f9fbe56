"""Campaign members: one contact or lead in a campaign's audience, and what became of it.

A member is targeted, sent the campaign, may respond, and a response may be
converted into a new lead. A member may opt out until converted. A send can
bounce: a soft bounce (a full mailbox) may be sent again, a hard bounce (a dead
address) may not.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-marketing")
>>> member, _ = CampaignMember.target("m-1", "cmp-1", stamp, contact_id="c-7")
>>> member, _ = member.send(stamp)
>>> member, _ = member.respond(ResponseChannel.WEB, stamp, note="Wants a demo")
>>> member, event = member.convert("lead-9", stamp)
>>> member.status, event.subjects()
(<MemberStatus.CONVERTED: 'converted'>, ('m-1', 'cmp-1', 'c-7', 'lead-9'))
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NewType, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, to_enum, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import CampaignId, ContactId, LeadId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_text
from crmkit.marketing.member_events import (
    MemberBounced,
    MemberConverted,
    MemberEvent,
    MemberOptedOut,
    MemberResponded,
    MemberSent,
    MemberTargeted,
)

__all__ = [
    "MEMBER_LIFECYCLE",
    "BounceKind",
    "CampaignMember",
    "MemberId",
    "MemberStatus",
    "ResponseChannel",
]

MemberId = NewType("MemberId", str)
"""Id of a `CampaignMember`."""


class MemberStatus(StrEnum):
    """Where a member is in `MEMBER_LIFECYCLE`."""

    TARGETED = "targeted"
    SENT = "sent"
    RESPONDED = "responded"
    CONVERTED = "converted"
    OPTED_OUT = "opted_out"
    BOUNCED = "bounced"


class ResponseChannel(StrEnum):
    """How a member responded."""

    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"
    EVENT = "event"
    SOCIAL = "social"
    MAIL = "mail"


class BounceKind(StrEnum):
    """Why a send bounced: ``hard`` (dead address) or ``soft`` (may be retried)."""

    HARD = "hard"
    SOFT = "soft"


_S = MemberStatus

MEMBER_LIFECYCLE: Lifecycle[MemberStatus] = Lifecycle(
    "campaign_member",
    MemberStatus,
    _S.TARGETED,
    [
        Transition("send", _S.TARGETED, _S.SENT),
        Transition("send", _S.BOUNCED, _S.SENT, guard="soft bounce"),
        Transition("respond", _S.SENT, _S.RESPONDED),
        Transition("convert", _S.RESPONDED, _S.CONVERTED, guard="new lead"),
        Transition("opt_out", (_S.TARGETED, _S.SENT, _S.RESPONDED), _S.OPTED_OUT),
        Transition("bounce", (_S.TARGETED, _S.SENT), _S.BOUNCED),
    ],
    final=(_S.CONVERTED, _S.OPTED_OUT),
)
"""targeted → sent → responded → converted; opt-out until converted; soft bounces retry."""


def _member_id(value: object) -> MemberId:
    return MemberId(check_id(value, "id"))


def _campaign_id(value: object) -> CampaignId:
    return CampaignId(check_id(value, "campaign_id"))


def _contact_id(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _lead_id(value: object) -> LeadId | None:
    return None if value is None else LeadId(check_id(value, "lead_id"))


def _converted_lead_id(value: object) -> LeadId | None:
    return None if value is None else LeadId(check_id(value, "converted_lead_id"))


_as_channel = to_enum(ResponseChannel, "channel")
_as_bounce = to_enum(BounceKind, "kind")


def _note(value: object) -> str | None:
    if value is None:
        return None
    return clean_text(value, "note", personal=True) or None


def _check_stamp(stamp: object) -> Stamp:
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", stamp)
    return stamp


@attrs.frozen
class CampaignMember(Replayable):
    """A contact or lead in a campaign's audience.

    Attributes:
        id: The member's id.
        version: Grows by one with every change.
        campaign_id: The campaign.
        created_at: When it was targeted.
        updated_at: When it last changed.
        contact_id: The contact targeted (exactly one of contact and lead is set).
        lead_id: The lead targeted.
        status: Where it is in `MEMBER_LIFECYCLE`.
        first_sent_at: When the campaign was first sent to it.
        last_sent_at: When it was last sent (a soft bounce retry sends again).
        responded_at: When it responded.
        response_channel: How it responded.
        response_note: What it said (personal).
        converted_lead_id: The lead created from the response.
        bounce_kind: The kind of the last bounce, if any (cleared by a new send).
    """

    id: MemberId = attrs.field(converter=_member_id)
    version: int = attrs.field(validator=version)
    campaign_id: CampaignId = attrs.field(converter=_campaign_id)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact_id)
    lead_id: LeadId | None = attrs.field(default=None, converter=_lead_id)
    status: MemberStatus = attrs.field(default=_S.TARGETED, validator=of_type(MemberStatus))
    first_sent_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    last_sent_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    responded_at: datetime | None = attrs.field(default=None, validator=aware(optional=True))
    response_channel: ResponseChannel | None = attrs.field(
        default=None, validator=of_type(ResponseChannel, optional=True)
    )
    response_note: str | None = attrs.field(
        default=None, validator=of_type(str, optional=True), metadata=PERSONAL, repr=False
    )
    converted_lead_id: LeadId | None = attrs.field(default=None, converter=_converted_lead_id)
    bounce_kind: BounceKind | None = attrs.field(
        default=None, validator=of_type(BounceKind, optional=True)
    )

    def __attrs_post_init__(self) -> None:
        if (self.contact_id is None) == (self.lead_id is None):
            raise ValidationError("contact_id", "exactly one of contact_id and lead_id is needed")

    @classmethod
    def target(
        cls,
        id: str,
        campaign_id: str,
        stamp: Stamp,
        *,
        contact_id: str | None = None,
        lead_id: str | None = None,
    ) -> tuple[CampaignMember, MemberTargeted]:
        """A new member of ``campaign_id``: a contact or a lead (exactly one)."""
        _check_stamp(stamp)
        checked = cls(id, 1, campaign_id, stamp.at, stamp.at, contact_id, lead_id)
        event = MemberTargeted(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            campaign_id=checked.campaign_id,
            contact_id=checked.contact_id,
            lead_id=checked.lead_id,
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `MemberTargeted`."""
        if not isinstance(event, MemberTargeted):
            raise ValidationError("events[0]", "must be MemberTargeted", event.event_type)
        return cls(
            event.aggregate_id, 1, event.campaign_id, event.occurred_at, event.occurred_at,
            event.contact_id, event.lead_id,
        )  # fmt: skip

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this member's events."""
        at = event.occurred_at
        step: dict[str, Any] = {"version": event.version, "updated_at": at}
        if isinstance(event, MemberSent):
            step.update(status=_S.SENT, last_sent_at=at, bounce_kind=None)
            if self.first_sent_at is None:
                step["first_sent_at"] = at
        elif isinstance(event, MemberResponded):
            step.update(status=_S.RESPONDED, responded_at=at)
            step.update(response_channel=ResponseChannel(event.channel), response_note=event.note)
        elif isinstance(event, MemberConverted):
            step.update(status=_S.CONVERTED, converted_lead_id=event.converted_lead_id)
        elif isinstance(event, MemberOptedOut):
            step["status"] = _S.OPTED_OUT
        elif isinstance(event, MemberBounced):
            step.update(status=_S.BOUNCED, bounce_kind=BounceKind(event.kind))
        else:
            raise ValidationError("event", "must be a campaign member event", event.event_type)
        return self._evolve(**step)

    def _do(self, cls: type[MemberEvent], stamp: Stamp, **data: Any) -> tuple[Self, Any]:
        _check_stamp(stamp)
        event = cls(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            campaign_id=self.campaign_id,
            contact_id=self.contact_id,
            lead_id=self.lead_id,
            **data,
        )
        return self.apply(event), event

    def send(self, stamp: Stamp) -> tuple[CampaignMember, MemberSent]:
        """Send the campaign to a targeted member, or again after a soft bounce."""
        MEMBER_LIFECYCLE.target(self.status, "send")
        if self.status is _S.BOUNCED and self.bounce_kind is not BounceKind.SOFT:
            raise MEMBER_LIFECYCLE.refuse(self.status, "send", "a hard bounce is not retried")
        return self._do(MemberSent, stamp)

    def respond(
        self, channel: ResponseChannel | str, stamp: Stamp, *, note: str | None = None
    ) -> tuple[CampaignMember, MemberResponded]:
        """Record a response through ``channel``, with an optional (personal) note."""
        MEMBER_LIFECYCLE.target(self.status, "respond")
        return self._do(
            MemberResponded, stamp, channel=_as_channel(channel).value, note=_note(note)
        )

    def convert(self, lead_id: str, stamp: Stamp) -> tuple[CampaignMember, MemberConverted]:
        """Record the lead created from the response."""
        MEMBER_LIFECYCLE.target(self.status, "convert")
        new_lead = _converted_lead_id(lead_id)
        return self._do(MemberConverted, stamp, converted_lead_id=new_lead)

    def opt_out(self, stamp: Stamp) -> tuple[CampaignMember, MemberOptedOut]:
        """The member asks to hear no more from the campaign."""
        MEMBER_LIFECYCLE.target(self.status, "opt_out")
        return self._do(MemberOptedOut, stamp)

    def bounce(self, kind: BounceKind | str, stamp: Stamp) -> tuple[CampaignMember, MemberBounced]:
        """Record that a send bounced (``hard`` or ``soft``)."""
        MEMBER_LIFECYCLE.target(self.status, "bounce")
        return self._do(MemberBounced, stamp, kind=_as_bounce(kind).value)
