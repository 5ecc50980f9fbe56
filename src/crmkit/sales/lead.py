"""Leads: people or organisations that may buy, before they are qualified and converted.

A lead is captured (`Lead.capture`) from a validated `LeadInput`, worked or
nurtured, qualified against host criteria, and converted into an account, a
contact and perhaps an opportunity, or disqualified (with a reason) and
perhaps recycled to marketing. A duplicate lead is merged into a survivor and
refuses every command until it is unmerged. A converted lead never changes.

Every command returns ``(new_lead, event)``; the event carries every value
it changes, so ``Lead.replay(events) == lead``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

import attrs

from crmkit.kernel.checks import aware, of_type, to_enum, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, DomainEvent, Stamp
from crmkit.kernel.ids import AccountId, ContactId, LeadId, OpportunityId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_line
from crmkit.parties.values import Email, Phone
from crmkit.sales import lead_values as v
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead_edits import UPDATABLE, LeadEdits, check_score
from crmkit.sales.lead_events import (
    LeadAnswered,
    LeadAssigned,
    LeadCaptured,
    LeadChanged,
    LeadConverted,
    LeadDisqualified,
    LeadMerged,
    LeadNurtured,
    LeadQualified,
    LeadRecycled,
    LeadScored,
    LeadTagged,
    LeadUnmerged,
    LeadUntagged,
    LeadWorked,
)
from crmkit.sales.lead_values import LeadSource as LeadSource, LeadStatus as LeadStatus
from crmkit.sales.qualification import QualificationCriteria

_S = LeadStatus

LEAD_LIFECYCLE: Final = Lifecycle(
    "lead",
    LeadStatus,
    _S.NEW,
    [
        Transition("work", (_S.NEW, _S.NURTURING, _S.RECYCLED), _S.WORKING),
        Transition("nurture", (_S.NEW, _S.WORKING, _S.RECYCLED), _S.NURTURING),
        Transition(
            "qualify", (_S.NEW, _S.WORKING, _S.NURTURING), _S.QUALIFIED, guard="criteria met"
        ),
        Transition("convert", _S.QUALIFIED, _S.CONVERTED),
        Transition(
            "disqualify",
            (_S.NEW, _S.WORKING, _S.NURTURING, _S.QUALIFIED, _S.RECYCLED),
            _S.DISQUALIFIED,
            guard="reason given",
        ),
        Transition("recycle", (_S.WORKING, _S.NURTURING, _S.DISQUALIFIED), _S.RECYCLED),
    ],
    final=[_S.CONVERTED],
)
"""New leads are worked or nurtured, qualified (criteria met) and converted, or disqualified
(with a reason); disqualified or stale ones are recycled to marketing and can be worked again."""

FREE_EMAIL_DOMAINS: Final = (
    "aol.com",
    "gmail.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.ru",
    "me.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "web.de",
    "yahoo.com",
    "yandex.ru",
)
"""Email domains of free mail providers: an address there says nothing about an employer."""

_FILLABLE: Final = (*UPDATABLE, "owner_id", "score", "tags", "answers")


def _lead_id(value: object) -> LeadId:
    return LeadId(check_id(value, "id"))


def _merged_into(value: object) -> LeadId | None:
    return None if value is None else LeadId(check_id(value, "merged_into"))


def _account_id(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _contact_id(value: object) -> ContactId | None:
    return None if value is None else ContactId(check_id(value, "contact_id"))


def _opportunity_id(value: object) -> OpportunityId | None:
    return None if value is None else OpportunityId(check_id(value, "opportunity_id"))


def _reason(value: object) -> str | None:
    return v.optional_line(value, "disqualify_reason")


def _score(value: object) -> int | None:
    return check_score(value)


_to_status = to_enum(LeadStatus, "status")


def _status(value: object) -> LeadStatus:
    return _to_status(value)


@attrs.frozen
class Lead(LeadEdits):
    """A person or organisation that may buy.

    Attributes:
        id: The lead's id.
        version: Grows by one with every change.
        created_at: When it was captured.
        updated_at: When it last changed.
        status: Where it stands in `LEAD_LIFECYCLE`.
        first_name: Given name (personal).
        last_name: Family name (personal).
        email: Email address (personal).
        phone: Phone number (personal).
        company: The organisation the person works for.
        title: Job title.
        website: The organisation's web address.
        country: ISO 3166-1 alpha-2 country code, upper case.
        region: State, province or region.
        city: City or town.
        description: Free text: what the person asked for.
        source: Where the lead came from.
        owner_id: The user working the lead.
        tags: Case-folded tags, sorted.
        answers: Qualification answers, question to answer (for example BANT).
        score: A score from 0 to 100 given by a scorer, or None.
        disqualify_reason: Why it was disqualified (while disqualified).
        account_id: The account it was converted into.
        contact_id: The contact it was converted into.
        opportunity_id: The opportunity it was converted into, if any.
        merged_into: The surviving lead, while this duplicate is merged into it.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    id: LeadId = attrs.field(converter=_lead_id)
    version: int = attrs.field(validator=version)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: LeadStatus = attrs.field(default=LeadStatus.NEW, converter=_status)
    first_name: str | None = attrs.field(
        default=None, converter=v.first_name, metadata=PERSONAL, repr=False
    )
    last_name: str | None = attrs.field(
        default=None, converter=v.last_name, metadata=PERSONAL, repr=False
    )
    email: Email | None = attrs.field(
        default=None, converter=v.email, metadata=PERSONAL, repr=False
    )
    phone: Phone | None = attrs.field(
        default=None, converter=v.phone, metadata=PERSONAL, repr=False
    )
    company: str | None = attrs.field(default=None, converter=v.company)
    title: str | None = attrs.field(default=None, converter=v.title)
    website: str | None = attrs.field(default=None, converter=v.website)
    country: str | None = attrs.field(default=None, converter=v.country)
    region: str | None = attrs.field(default=None, converter=v.region)
    city: str | None = attrs.field(default=None, converter=v.city)
    description: str | None = attrs.field(default=None, converter=v.description)
    source: LeadSource = attrs.field(factory=LeadSource, validator=of_type(LeadSource))
    owner_id: str | None = attrs.field(default=None, converter=v.owner_id)
    tags: tuple[str, ...] = attrs.field(default=(), converter=v.tags)
    answers: dict[str, str] = attrs.field(factory=dict, converter=v.answers)
    score: int | None = attrs.field(default=None, converter=_score)
    disqualify_reason: str | None = attrs.field(default=None, converter=_reason)
    account_id: AccountId | None = attrs.field(default=None, converter=_account_id)
    contact_id: ContactId | None = attrs.field(default=None, converter=_contact_id)
    opportunity_id: OpportunityId | None = attrs.field(default=None, converter=_opportunity_id)
    merged_into: LeadId | None = attrs.field(default=None, converter=_merged_into)
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    _lifecycle: ClassVar = LEAD_LIFECYCLE

    # --- creation and replay -------------------------------------------------------------

    @classmethod
    def capture(cls, id: str, data: LeadInput, stamp: Stamp) -> tuple[Lead, LeadCaptured]:
        """A new lead at version 1 (status ``new``), and the event that records it."""
        if not isinstance(data, LeadInput):
            raise ValidationError("data", "must be a LeadInput", type(data).__name__)
        event = LeadCaptured(
            aggregate_id=check_id(id, "id"),
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **{f.name: getattr(data, f.name) for f in attrs.fields(LeadInput)},
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Lead:
        """The lead a `LeadCaptured` event records."""
        if not isinstance(event, LeadCaptured):
            raise ValidationError("events", "must start with lead_captured", event.event_type)
        data = {f.name: getattr(event, f.name) for f in attrs.fields(LeadInput)}
        return cls(event.aggregate_id, 1, event.occurred_at, event.occurred_at, **data)

    def apply(self, event: DomainEvent) -> Lead:
        """The lead after one of its events (used by every command and by `replay`)."""
        changes: dict[str, Any]
        match event:
            case LeadChanged():
                changes = {name: getattr(event, name) for name in event.fields}
            case LeadTagged() | LeadUntagged():
                changes = {"tags": event.tags}
            case LeadAssigned():
                changes = {"owner_id": event.owner_id}
            case LeadAnswered():
                changes = {"answers": {**self.answers, **event.answers}}
            case LeadScored():
                changes = {"score": event.score}
            case LeadWorked():
                changes = {"status": LEAD_LIFECYCLE.target(self.status, "work")}
            case LeadNurtured():
                changes = {"status": LEAD_LIFECYCLE.target(self.status, "nurture")}
            case LeadQualified():
                status = LEAD_LIFECYCLE.target(self.status, "qualify")
                changes = {"status": status, "answers": {**self.answers, **event.answers}}
            case LeadConverted():
                changes = {
                    "status": LEAD_LIFECYCLE.target(self.status, "convert"),
                    "account_id": event.account_id,
                    "contact_id": event.contact_id,
                    "opportunity_id": event.opportunity_id,
                }
            case LeadDisqualified():
                status = LEAD_LIFECYCLE.target(self.status, "disqualify")
                changes = {"status": status, "disqualify_reason": event.reason}
            case LeadRecycled():
                status = LEAD_LIFECYCLE.target(self.status, "recycle")
                changes = {"status": status, "disqualify_reason": None}
            case LeadMerged():
                changes = {"merged_into": event.into}
            case LeadUnmerged():
                changes = {"merged_into": None}
            case _:
                raise ValidationError("event", "is not an event of a lead", event.event_type)
        return self._evolve(version=event.version, updated_at=event.occurred_at, **changes)

    # --- reading -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """First and last name as shown to people (may be empty)."""
        return " ".join(n for n in (self.first_name, self.last_name) if n)

    def filled_fields(self) -> int:
        """How many optional fields hold a value (the merge survivor rule prefers more)."""
        return sum(1 for name in _FILLABLE if getattr(self, name) not in (None, "", (), {}))

    def features(self) -> dict[str, str | None]:
        """The categorical features a lead scorer reads.

        ``channel``, ``utm_source``, ``utm_medium``, ``country``; ``has_title``,
        ``has_company`` and ``has_phone`` as ``yes``/``no``; ``email_domain`` as
        ``free`` or ``business`` (None without an email); and each qualification
        answer as ``q_<question>``.
        """
        domain: str | None = None
        if self.email is not None:
            host = self.email.key.rpartition("@")[2]
            domain = "free" if host in FREE_EMAIL_DOMAINS else "business"
        features: dict[str, str | None] = {
            "channel": self.source.channel,
            "utm_source": self.source.utm_source,
            "utm_medium": self.source.utm_medium,
            "country": self.country,
            "has_title": _yes(self.title),
            "has_company": _yes(self.company),
            "has_phone": _yes(self.phone),
            "email_domain": domain,
        }
        features.update({f"q_{name}": answer for name, answer in sorted(self.answers.items())})
        return features

    def work(self, stamp: Stamp) -> tuple[Lead, LeadWorked]:
        """Start working the lead (from new, nurturing or recycled)."""
        self._move("work")
        return self._emit(LeadWorked, stamp)

    def nurture(self, stamp: Stamp) -> tuple[Lead, LeadNurtured]:
        """Put the lead into nurturing: interested, but not ready to buy."""
        self._move("nurture")
        return self._emit(LeadNurtured, stamp)

    def qualify(
        self,
        criteria: QualificationCriteria,
        stamp: Stamp,
        answers: Mapping[str, str] | None = None,
    ) -> tuple[Lead, LeadQualified]:
        """Qualify the lead; its answers (with ``answers`` merged in) must meet ``criteria``."""
        self._move("qualify")
        if not isinstance(criteria, QualificationCriteria):
            raise ValidationError("criteria", "must be QualificationCriteria", criteria)
        given = {} if answers is None else v.answers(answers)
        unmet = criteria.unmet({**self.answers, **given})
        if unmet:
            raise LEAD_LIFECYCLE.refuse(self.status, "qualify", "unmet: " + "; ".join(unmet))
        return self._emit(LeadQualified, stamp, answers=given)

    def convert(
        self,
        stamp: Stamp,
        *,
        account_id: str,
        contact_id: str,
        opportunity_id: str | None = None,
    ) -> tuple[Lead, LeadConverted]:
        """Record the conversion of a qualified lead into an account, a contact and an opportunity.

        The application creates (or finds) those records, checking for duplicates first.
        """
        self._move("convert")
        return self._emit(
            LeadConverted,
            stamp,
            account_id=check_id(account_id, "account_id"),
            contact_id=check_id(contact_id, "contact_id"),
            opportunity_id=None
            if opportunity_id is None
            else check_id(opportunity_id, "opportunity_id"),
        )

    def disqualify(self, reason: str, stamp: Stamp) -> tuple[Lead, LeadDisqualified]:
        """Disqualify the lead; ``reason`` (for example ``no budget``) must not be empty."""
        self._move("disqualify")
        text = clean_line(reason, "reason", allow_empty=True)
        if not text:
            raise LEAD_LIFECYCLE.refuse(self.status, "disqualify", "needs a reason")
        return self._emit(LeadDisqualified, stamp, reason=text)

    def recycle(self, stamp: Stamp) -> tuple[Lead, LeadRecycled]:
        """Hand a disqualified or stale (working, nurturing) lead back to marketing."""
        self._move("recycle")
        return self._emit(LeadRecycled, stamp)


def _yes(value: object) -> str:
    return "no" if value is None or value == "" else "yes"
