"""Audiences: what marketing knows about each contact, and the profiles segments read.

``uow.audiences`` changes a contact's `Audience` record (birthday, signup,
location, unsubscribes, suppression, bounces) and builds the `Recipient`
that journeys plan for. It also keeps each contact's segment `Profile`
(`crmkit.app.marketing_records.PROFILES`) in step: `PROFILE_PROJECTIONS` are
handlers that the unit of work runs for every event that changes what a
profile holds, inside the same unit of work, so a profile is never behind
the change that moved it.

What a profile holds, and from where:

* country, region and city: the contact's first address;
* latitude and longitude: the audience record;
* tags and consent: the contact (consent as granted, withdrawn or unknown);
* custom values: the contact's (``custom_values_changed`` events of contacts);
* account tags and industry: the contact's primary account (else its first);
* last activity: the latest activity logged with the contact;
* last purchase and total spend: the contact's won deals (`crmkit.app.campaigns`
  counts each win, and takes it back when the deal is reopened). Spend is kept in the
  currency of the first deal won; deals won in another currency move the last
  purchase but not the spend (convert them first, if you need one total);
* RFM class: set by `Audiences.apply_rfm` from the RFM report (`uow.reports.rfm`),
  or one by one with `Audiences.set_rfm_class`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crmkit.activities.activity import ActivityLogged
from crmkit.app.marketing_records import AUDIENCES, PROFILES, ProfileRecord
from crmkit.app.records import ACCOUNTS, CONTACTS, QUOTES
from crmkit.app.services import _Service
from crmkit.kernel.custom import CustomValuesChanged
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money
from crmkit.marketing.audience import Audience, UnsubscribeScope, audience_id
from crmkit.marketing.audience_events import AudienceCreated, AudienceFactsChanged
from crmkit.marketing.guards import Recipient
from crmkit.marketing.segment import Profile
from crmkit.parties.account import Account
from crmkit.parties.consent import Channel, ConsentStatus, Purpose
from crmkit.parties.contact import Contact
from crmkit.parties.events import (
    AccountChanged,
    ConsentRecorded,
    ContactArchived,
    ContactChanged,
    ContactCreated,
    ContactLinked,
    ContactMerged,
    ContactRestored,
    ContactUnlinked,
    ContactUnmerged,
)
from crmkit.parties.party import PartyStatus
from crmkit.ports.query import Eq
from crmkit.sales.quote_policy import QuoteStatus

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

_UNSET: Any = object()


def _consent(contact: Contact) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in Channel:
        for purpose in Purpose:
            status = contact.consent_for(channel, purpose)
            if status is not ConsentStatus.UNKNOWN:
                out[f"{channel.value}:{purpose.value}"] = status.value
    return out


def _account(uow: UnitOfWork, contact: Contact) -> Account | None:
    roles = sorted(contact.accounts, key=lambda role: not role.primary)
    return None if not roles else uow.get_or_none(ACCOUNTS, roles[0].account_id)


def is_active(contact: Contact) -> bool:
    """Whether segments and journeys consider ``contact``: active and not merged away."""
    return contact.status is PartyStatus.ACTIVE and contact.merged_into is None


def refresh_profile(uow: UnitOfWork, contact_id: str, **facts: Any) -> ProfileRecord | None:
    """Rebuild ``contact_id``'s profile from its records, with ``facts`` changed; stage it.

    ``facts`` set the fields only events bring (last activity, purchase, spend,
    RFM class). Returns None when the contact does not exist.
    """
    contact = uow.get_or_none(CONTACTS, contact_id)
    if contact is None:
        return None
    old = uow.get_or_none(PROFILES, contact.id)
    audience = uow.get_or_none(AUDIENCES, audience_id(contact.id))
    account = _account(uow, contact)
    address = contact.addresses[0] if contact.addresses else None
    kept = old.profile if old is not None else Profile(contact.id)
    profile = Profile(
        contact.id,
        country=None if address is None else address.country,
        region=None if address is None else address.region,
        city=None if address is None else address.city,
        latitude=None if audience is None else audience.latitude,
        longitude=None if audience is None else audience.longitude,
        tags=contact.tags,
        account_tags=() if account is None else account.tags,
        account_industry=None if account is None else account.industry,
        last_activity_at=facts.get("last_activity_at", kept.last_activity_at),
        last_purchase_at=facts.get("last_purchase_at", kept.last_purchase_at),
        total_spend=facts.get("total_spend", kept.total_spend),
        rfm_class=facts.get("rfm_class", kept.rfm_class),
        consent=_consent(contact),
        custom=contact.custom,
    )
    active = is_active(contact)
    if old is not None and old.profile == profile and old.active == active:
        return old
    record = ProfileRecord(contact.id, 1 if old is None else old.version + 1, profile, active)
    return uow.save(PROFILES, record)


def _latest(old: datetime | None, new: datetime) -> datetime:
    return new if old is None or new > old else old


def _on_contact(event: DomainEvent, uow: UnitOfWork) -> None:
    refresh_profile(uow, event.aggregate_id)


def _on_custom(event: DomainEvent, uow: UnitOfWork) -> None:
    assert isinstance(event, CustomValuesChanged)
    if event.kind == CONTACTS.kind:
        refresh_profile(uow, event.aggregate_id)


def _on_audience(event: DomainEvent, uow: UnitOfWork) -> None:
    assert isinstance(event, AudienceFactsChanged)
    refresh_profile(uow, event.contact_id)


def _on_account(event: DomainEvent, uow: UnitOfWork) -> None:
    for contact in uow.find_all(CONTACTS, (Eq("account_ids", event.aggregate_id),)):
        refresh_profile(uow, contact.id)
    for contact in uow.staged(CONTACTS):
        if event.aggregate_id in contact.account_ids:
            refresh_profile(uow, contact.id)


def _on_activity(event: DomainEvent, uow: UnitOfWork) -> None:
    assert isinstance(event, ActivityLogged)
    for ref in event.links:
        if ref.kind != CONTACTS.kind:
            continue
        profile = uow.get_or_none(PROFILES, ref.id)
        known = None if profile is None else profile.profile.last_activity_at
        if event.status.value == "done" and (known is None or event.happened_at > known):
            refresh_profile(uow, ref.id, last_activity_at=event.happened_at)


def add_purchase(uow: UnitOfWork, contact_id: str, at: datetime, amount: Money) -> None:
    """Count a purchase of ``amount`` at ``at`` (negative to take one back) in the profile."""
    record = uow.get_or_none(PROFILES, contact_id)
    kept = Profile(contact_id) if record is None else record.profile
    spend = kept.total_spend
    if spend is None:
        spend = amount
    elif spend.currency == amount.currency:
        spend = spend + amount
    last = kept.last_purchase_at if amount.amount < 0 else _latest(kept.last_purchase_at, at)
    refresh_profile(uow, contact_id, last_purchase_at=last, total_spend=spend)


Projection = Callable[[DomainEvent, "UnitOfWork"], None]

PROFILE_PROJECTIONS: tuple[tuple[type[DomainEvent], Projection], ...] = (
    *(
        (cls, _on_contact)
        for cls in (
            ContactCreated,
            ContactChanged,
            ConsentRecorded,
            ContactLinked,
            ContactUnlinked,
            ContactArchived,
            ContactRestored,
            ContactMerged,
            ContactUnmerged,
        )
    ),
    (CustomValuesChanged, _on_custom),
    (AudienceCreated, _on_audience),
    (AudienceFactsChanged, _on_audience),
    (AccountChanged, _on_account),
    (ActivityLogged, _on_activity),
)
"""The handlers that keep segment profiles in step (the unit of work always runs them)."""


class Audiences(_Service[Audience]):
    """Marketing facts and preferences of contacts (``uow.audiences``), by contact id."""

    _type = AUDIENCES

    def get(self, contact_id: str) -> Audience:
        """The audience record of ``contact_id``; `NotFound` if it has none yet (see `of`)."""
        return self._uow.get(AUDIENCES, audience_id(contact_id))

    def of(self, contact_id: str) -> Audience:
        """The contact's audience record, created (empty) when it has none yet."""
        contact = self._uow.get(CONTACTS, check_id(contact_id, "contact_id"))
        found = self._uow.get_or_none(AUDIENCES, audience_id(contact.id))
        if found is not None:
            return found
        audience, event = Audience.create(contact.id, self._uow.stamp())
        return self._save(audience, event)

    def _save(self, audience: Audience, event: DomainEvent) -> Audience:
        return self._uow.save(AUDIENCES, audience, event)

    def update(
        self,
        contact_id: str,
        *,
        birthday: date | None = _UNSET,
        customer_since: date | None = _UNSET,
        signed_up_at: datetime | None = _UNSET,
        latitude: Decimal | None = _UNSET,
        longitude: Decimal | None = _UNSET,
    ) -> Audience:
        """Set the facts given (None clears one); the others keep their values."""
        given: dict[str, Any] = {
            name: value
            for name, value in (
                ("birthday", birthday),
                ("customer_since", customer_since),
                ("signed_up_at", signed_up_at),
                ("latitude", latitude),
                ("longitude", longitude),
            )
            if value is not _UNSET
        }
        audience, event = self.of(contact_id).update(self._uow.stamp(), **given)
        return self._save(audience, event)

    def unsubscribe(
        self, contact_id: str, scope: UnsubscribeScope | str = "all", *, ref: str | None = None
    ) -> Audience:
        """The contact leaves a list or a campaign (``ref``), or all marketing: sends stop now.

        Messages already queued are refused when they come up for sending.
        """
        audience, event = self.of(contact_id).unsubscribe(scope, self._uow.stamp(), ref=ref)
        return self._save(audience, event)

    def resubscribe(
        self, contact_id: str, scope: UnsubscribeScope | str = "all", *, ref: str | None = None
    ) -> Audience:
        """The contact joins again a list, a campaign or all marketing."""
        audience, event = self.of(contact_id).resubscribe(scope, self._uow.stamp(), ref=ref)
        return self._save(audience, event)

    def suppress(self, contact_id: str, reason: str) -> Audience:
        """Put the contact on the suppression list: no marketing at all."""
        audience, event = self.of(contact_id).suppress(reason, self._uow.stamp())
        return self._save(audience, event)

    def unsuppress(self, contact_id: str) -> Audience:
        """Take the contact off the suppression list."""
        audience, event = self.of(contact_id).unsuppress(self._uow.stamp())
        return self._save(audience, event)

    def hard_bounce(self, contact_id: str) -> Audience:
        """Record a hard bounce of the contact's address: no marketing until it is cleared."""
        audience, event = self.of(contact_id).hard_bounce(self._uow.stamp())
        return self._save(audience, event)

    def clear_bounce(self, contact_id: str) -> Audience:
        """The contact's address works again."""
        audience, event = self.of(contact_id).clear_bounce(self._uow.stamp())
        return self._save(audience, event)

    def record_send(self, contact_id: str, journey_id: str, key: str, at: datetime) -> Audience:
        """Remember a journey send (frequency caps and repeats read it)."""
        audience, event = self.of(contact_id).record_send(journey_id, key, at, self._uow.stamp())
        return self._save(audience, event)

    def profile(self, contact_id: str) -> Profile:
        """The contact's segment profile (built now if it has none yet)."""
        record = self._uow.get_or_none(PROFILES, check_id(contact_id, "contact_id"))
        if record is None:
            record = refresh_profile(self._uow, contact_id)
            if record is None:
                self._uow.get(CONTACTS, contact_id)  # raises NotFound
        assert record is not None
        return record.profile

    def set_rfm_class(self, contact_id: str, rfm_class: str | None) -> Profile:
        """Set the contact's RFM class (``champions``, ``at_risk`` ...) that segments filter on."""
        self._uow.get(CONTACTS, check_id(contact_id, "contact_id"))
        record = refresh_profile(self._uow, contact_id, rfm_class=rfm_class)
        assert record is not None
        return record.profile

    def apply_rfm(self, classes: Mapping[str, str]) -> int:
        """Give each account's contacts its RFM class (``report.classes()`` of `Reports.rfm`).

        Segments then filter on it (`crmkit.marketing.segment.RfmClass`). Contacts of
        accounts not named keep the class they had. Returns the contacts updated.
        """
        if not isinstance(classes, Mapping):
            raise ValidationError("classes", "must map account ids to RFM classes", classes)
        updated = 0
        for account_id, rfm_class in classes.items():
            where = (Eq("account_ids", check_id(account_id, "classes")),)
            for contact_id in self._uow.find_ids(CONTACTS, where):
                refresh_profile(self._uow, contact_id, rfm_class=rfm_class)
                updated += 1
        return updated

    def recipient(self, contact_id: str) -> Recipient:
        """What journeys know about the contact now: dates, consent, unsubscribes and sends."""
        contact = self._uow.get(CONTACTS, check_id(contact_id, "contact_id"))
        audience = self._uow.get_or_none(AUDIENCES, audience_id(contact.id))
        profile = self.profile(contact.id)
        presented = self._uow.find_all(
            QUOTES, (Eq("contact_id", contact.id), Eq("status", QuoteStatus.PRESENTED.value))
        )
        consent = {
            f"{channel.value}/{purpose.value}": contact.consent_for(channel, purpose)
            for channel in Channel
            for purpose in Purpose
        }
        facts: dict[str, Any] = {}
        if audience is not None:
            facts = {
                "birthday": audience.birthday,
                "customer_since": audience.customer_since,
                "signed_up_at": audience.signed_up_at,
                "suppressed": audience.suppressed,
                "hard_bounced": audience.hard_bounced,
                "unsubscribed_all": audience.unsubscribed_all,
                "unsubscribed_lists": audience.unsubscribed_lists,
                "unsubscribed_campaigns": audience.unsubscribed_campaigns,
                "sends": audience.sends,
            }
        return Recipient(
            contact.id,
            time_zone=contact.time_zone or "UTC",
            last_activity_at=profile.last_activity_at,
            # A presented quote changes again only when answered: its last change is its presenting.
            quotes_presented_at=tuple(q.updated_at for q in presented),
            consent=consent,
            **facts,
        )
