"""How the marketing records are stored: campaigns, members, audiences, profiles, credits.

`PROFILES` is a read model, not an aggregate: one `ProfileRecord` per contact
holds the `crmkit.marketing.segment.Profile` that segments read, indexed by
`crmkit.marketing.segment.INDEX_FIELDS`, so a segment's pushable conditions
run as a storage query. `crmkit.app.audiences` keeps it in step with the
contact, its account, its audience record, its activities and its won deals.
"""

from __future__ import annotations

from typing import Any

import attrs

from crmkit.app.record_type import INT, TEXT, RecordType
from crmkit.kernel.checks import of_type, version
from crmkit.kernel.ids import ContactId, check_id
from crmkit.kernel.time import to_micros
from crmkit.marketing.audience import Audience
from crmkit.marketing.campaign import Campaign
from crmkit.marketing.credit import DealCredit
from crmkit.marketing.member import CampaignMember
from crmkit.marketing.segment import INDEX_FIELDS, Profile, profile_index
from crmkit.ports.storage import IndexField


def _contact_id(value: object) -> ContactId:
    return ContactId(check_id(value, "contact_id"))


@attrs.frozen
class ProfileRecord:
    """The stored segment profile of one contact (its id is the contact's id).

    Attributes:
        id: The contact's id.
        version: Grows by one with every refresh.
        profile: The facts segments read.
        active: Whether the contact is active and not merged away (segments skip others).
    """

    id: ContactId = attrs.field(converter=_contact_id)
    version: int = attrs.field(validator=version)
    profile: Profile = attrs.field(validator=of_type(Profile))
    active: bool = attrs.field(default=True, validator=of_type(bool))


def _member_key(member: CampaignMember) -> str:
    who = member.contact_id if member.contact_id is not None else f"lead:{member.lead_id}"
    return f"{member.campaign_id}:{who}"


CAMPAIGNS: RecordType[Campaign] = RecordType(
    "campaign",
    Campaign,
    (
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("type", TEXT), lambda c: c.type.value),
        (IndexField("owner_id", TEXT), lambda c: c.owner_id),
        (IndexField("parent_id", TEXT), lambda c: c.parent_id),
        (
            IndexField("starts_on", TEXT),
            lambda c: None if c.starts_on is None else str(c.starts_on),
        ),
        (IndexField("updated_at", INT), lambda c: to_micros(c.updated_at)),
    ),
)
"""Campaigns, indexed by status, type, owner, parent, first day and last change."""

MEMBERS: RecordType[CampaignMember] = RecordType(
    "campaign_member",
    CampaignMember,
    (
        (IndexField("campaign_id", TEXT), lambda m: m.campaign_id),
        (IndexField("contact_id", TEXT), lambda m: m.contact_id),
        (IndexField("lead_id", TEXT), lambda m: m.lead_id),
        (IndexField("status", TEXT), lambda m: m.status.value),
        (IndexField("converted_lead_id", TEXT), lambda m: m.converted_lead_id),
        (IndexField("member_key", TEXT, unique=True), _member_key),
    ),
    related=lambda m: tuple(i for i in (m.contact_id, m.lead_id) if i is not None),
)
"""Campaign members, indexed by campaign, contact, lead, status and the lead made from
their response; ``member_key`` (campaign and contact or lead) is unique, so nobody is
targeted twice by one campaign."""

AUDIENCES: RecordType[Audience] = RecordType(
    "audience",
    Audience,
    (
        (IndexField("suppressed", TEXT), lambda a: "yes" if a.suppressed else "no"),
        (IndexField("hard_bounced", TEXT), lambda a: "yes" if a.hard_bounced else "no"),
        (IndexField("contact_id", TEXT, unique=True), lambda a: a.contact_id),
    ),
    idempotent=False,
)
"""Audience records (one per contact), indexed by contact, suppression and bounces."""

PROFILES: RecordType[ProfileRecord] = RecordType(
    "segment_profile",
    ProfileRecord,
    ((IndexField("active", TEXT), lambda r: "yes" if r.active else "no"),),
    idempotent=False,
    bulk=(INDEX_FIELDS, lambda r: profile_index(r.profile)),
    audited=False,
)
"""Segment profiles (one per contact, same id), indexed by `INDEX_FIELDS`."""

CREDITS: RecordType[DealCredit] = RecordType(
    "deal_credit",
    DealCredit,
    (
        (IndexField("campaign_ids", TEXT, multi=True), lambda d: () if d.void else d.campaign_ids),
        (IndexField("won_at", INT), lambda d: to_micros(d.won_at)),
    ),
    idempotent=False,
    audited=False,
)
"""Campaign credits of won deals (one per opportunity, same id), indexed by the campaigns
credited (none while void) and the time of the win."""

MARKETING_RECORD_TYPES: tuple[RecordType[Any], ...] = (
    CAMPAIGNS,
    MEMBERS,
    AUDIENCES,
    PROFILES,
    CREDITS,
)
"""The marketing record types."""
