"""Contacts: the people a business deals with, linked to accounts with roles."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from crmkit.kernel.checks import aware, items, of_type, tuple_of, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import PERSONAL, Stamp
from crmkit.kernel.ids import AccountId, ContactId, check_id
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware, zone
from crmkit.parties.consent import (
    Channel,
    ConsentRecord,
    ConsentStatus,
    Purpose,
    as_channel,
    as_purpose,
    consent_status,
)
from crmkit.parties.events import (
    ConsentRecorded,
    ContactArchived,
    ContactChanged,
    ContactCreated,
    ContactLinked,
    ContactMerged,
    ContactRestored,
    ContactUnlinked,
    ContactUnmerged,
    PartyChanged,
)
from crmkit.parties.party import (
    PartyCommands,
    PartyStatus,
    optional_id,
    optional_owner,
    party_lifecycle,
)
from crmkit.parties.values import Address, Email, Phone, clean_tags

CONTACT_LIFECYCLE = party_lifecycle("contact")
"""Contacts are active or archived."""


def _contact_id(value: object) -> ContactId:
    return ContactId(check_id(value, "id"))


def _link_account(value: object) -> AccountId:
    return AccountId(check_id(value, "account_id"))


def _role(value: object) -> str:
    return clean_line(value, "role", max_len=80)


@attrs.frozen
class AccountRole:
    """A contact's place at an account.

    Attributes:
        account_id: The account.
        role: The contact's role there, for example ``buyer`` or ``CFO``.
        primary: Whether this is the contact's main account.
    """

    account_id: AccountId = attrs.field(converter=_link_account)
    role: str = attrs.field(converter=_role)
    primary: bool = attrs.field(default=False, validator=of_type(bool))


def _first_name(value: object) -> str:
    return clean_line(value, "first_name", personal=True, allow_empty=True)


def _last_name(value: object) -> str:
    return clean_line(value, "last_name", personal=True)


def _title(value: object) -> str | None:
    return None if value is None else clean_line(value, "title")


def _time_zone(value: object) -> str | None:
    return None if value is None else zone(value).key


def _merged_into(value: object) -> str | None:
    return optional_id(value, "merged_into")


def _tags(value: object) -> tuple[str, ...]:
    return clean_tags(value)


@attrs.frozen
class Contact(PartyCommands):
    """A person, with contact points, account roles and a consent history.

    Attributes:
        id: The contact's id.
        version: Grows by one with every change.
        first_name: Given name (may be empty).
        last_name: Family name.
        created_at: When it was created.
        updated_at: When it last changed.
        status: Active or archived.
        title: Job title, if known.
        emails: Email addresses; the first is the main one.
        phones: Phone numbers; the first is the main one.
        addresses: Postal addresses.
        accounts: Roles at accounts.
        owner_id: The user who owns the relationship.
        tags: Case-folded tags, sorted.
        consent: Every opt-in and opt-out, in the order recorded.
        time_zone: The person's IANA time zone key, for example ``Europe/Berlin``.
        merged_into: The survivor this contact was merged into as a duplicate, if any.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    _changed: ClassVar = ContactChanged
    _archived: ClassVar = ContactArchived
    _restored: ClassVar = ContactRestored
    _merged: ClassVar = ContactMerged
    _unmerged: ClassVar = ContactUnmerged
    _lifecycle: ClassVar = CONTACT_LIFECYCLE

    id: ContactId = attrs.field(converter=_contact_id)
    version: int = attrs.field(validator=version)
    first_name: str = attrs.field(converter=_first_name, metadata=PERSONAL, repr=False)
    last_name: str = attrs.field(converter=_last_name, metadata=PERSONAL, repr=False)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: PartyStatus = attrs.field(default=PartyStatus.ACTIVE, validator=of_type(PartyStatus))
    title: str | None = attrs.field(default=None, converter=_title)
    emails: tuple[Email, ...] = attrs.field(
        default=(), validator=tuple_of(Email), metadata=PERSONAL, repr=False
    )
    phones: tuple[Phone, ...] = attrs.field(
        default=(), validator=tuple_of(Phone), metadata=PERSONAL, repr=False
    )
    addresses: tuple[Address, ...] = attrs.field(
        default=(), validator=tuple_of(Address), metadata=PERSONAL, repr=False
    )
    accounts: tuple[AccountRole, ...] = attrs.field(default=(), validator=tuple_of(AccountRole))
    owner_id: str | None = attrs.field(default=None, converter=optional_owner)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    consent: tuple[ConsentRecord, ...] = attrs.field(default=(), validator=tuple_of(ConsentRecord))
    time_zone: str | None = attrs.field(default=None, converter=_time_zone)
    merged_into: ContactId | None = attrs.field(default=None, converter=_merged_into)
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    @property
    def name(self) -> str:
        """First and last name, as shown to people."""
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email(self) -> Email | None:
        """The main email address."""
        return self.emails[0] if self.emails else None

    @property
    def account_ids(self) -> tuple[AccountId, ...]:
        """The accounts the contact has a role at, primary first."""
        return tuple(r.account_id for r in sorted(self.accounts, key=lambda r: not r.primary))

    @classmethod
    def create(
        cls,
        id: str,
        stamp: Stamp,
        *,
        last_name: str,
        first_name: str = "",
        title: str | None = None,
        emails: tuple[Email, ...] = (),
        phones: tuple[Phone, ...] = (),
        addresses: tuple[Address, ...] = (),
        owner_id: str | None = None,
        tags: tuple[str, ...] = (),
        time_zone: str | None = None,
    ) -> tuple[Contact, ContactCreated]:
        """A new contact at version 1, and the event that records it."""
        contact = cls(
            id,
            1,
            first_name,
            last_name,
            stamp.at,
            stamp.at,
            title=title,
            emails=items(emails, "emails", personal=True),
            phones=items(phones, "phones", personal=True),
            addresses=items(addresses, "addresses", personal=True),
            owner_id=owner_id,
            tags=tags,
            time_zone=time_zone,
        )
        event = ContactCreated(
            aggregate_id=contact.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            name=contact.name,
        )
        return contact, event

    def update(
        self,
        stamp: Stamp,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        title: str | None = None,
        emails: tuple[Email, ...] | None = None,
        phones: tuple[Phone, ...] | None = None,
        addresses: tuple[Address, ...] | None = None,
        time_zone: str | None = None,
    ) -> tuple[Contact, PartyChanged]:
        """Change the given fields (None leaves a field as it is)."""
        given = {
            "first_name": first_name,
            "last_name": last_name,
            "title": title,
            "emails": emails,
            "phones": phones,
            "addresses": addresses,
            "time_zone": time_zone,
        }
        return self._update(stamp, given)

    def link(
        self, account_id: str, role: str, stamp: Stamp, *, primary: bool = False
    ) -> tuple[Contact, ContactLinked]:
        """Give the contact a role at an account (replacing an earlier role there).

        A primary link makes every other link non-primary.
        """
        self._require_active("link")
        link = AccountRole(account_id, role, primary)
        others = tuple(
            attrs.evolve(r, primary=False) if primary else r
            for r in self.accounts
            if r.account_id != link.account_id
        )
        new = self._step(stamp, accounts=(*others, link))
        event = ContactLinked(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            account_id=link.account_id,
            role=link.role,
            primary=link.primary,
        )
        return new, event

    def unlink(self, account_id: str, stamp: Stamp) -> tuple[Contact, ContactUnlinked]:
        """Remove the contact's role at an account."""
        self._require_active("unlink")
        kept = tuple(r for r in self.accounts if r.account_id != account_id)
        if len(kept) == len(self.accounts):
            raise ValidationError("account_id", "is not linked to this contact", account_id)
        new = self._step(stamp, accounts=kept)
        event = ContactUnlinked(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            account_id=account_id,
        )
        return new, event

    def move_role(
        self, old_account_id: str, new_account_id: str, stamp: Stamp
    ) -> tuple[Contact, ContactLinked]:
        """Move the contact's role from one account to another (when accounts merge).

        A role the contact already has at the new account is kept, and the old one dropped.
        Allowed for archived contacts too: links follow the accounts they belong to.
        """
        old = next((r for r in self.accounts if r.account_id == old_account_id), None)
        if old is None:
            raise ValidationError("old_account_id", "is not linked to this contact", old_account_id)
        new_id = _link_account(new_account_id)
        there = next((r for r in self.accounts if r.account_id == new_id), None)
        moved = there or attrs.evolve(old, account_id=new_id)
        roles = tuple(
            moved if r is old else r for r in self.accounts if r is not there or there is None
        )
        new = self._step(stamp, accounts=roles)
        event = ContactLinked(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            account_id=moved.account_id,
            role=moved.role,
            primary=moved.primary,
            moved_from=old.account_id,
        )
        return new, event

    def record_consent(
        self,
        channel: Channel | str,
        purpose: Purpose | str,
        granted: bool,
        source: str,
        stamp: Stamp,
        *,
        given_at: datetime | None = None,
    ) -> tuple[Contact, ConsentRecorded]:
        """Append an opt-in (``granted=True``) or opt-out to the consent history.

        ``given_at`` is when the person gave it, if earlier than the recording.
        Consent is recorded even for an archived contact: an opt-out must never be lost.
        """
        at = stamp.at if given_at is None else require_aware(given_at, "given_at")
        record = ConsentRecord(channel, purpose, granted, at, source)
        new = self._step(stamp, consent=(*self.consent, record))
        event = ConsentRecorded(
            aggregate_id=new.id,
            version=new.version,
            occurred_at=stamp.at,
            actor=stamp.actor,
            record=record,
        )
        return new, event

    def consent_for(self, channel: Channel | str, purpose: Purpose | str) -> ConsentStatus:
        """The consent in force for a channel and purpose (UNKNOWN if never recorded)."""
        return consent_status(self.consent, as_channel(channel), as_purpose(purpose))

    def _require_active(self, command: str) -> None:
        if self.status is PartyStatus.ARCHIVED:
            raise CONTACT_LIFECYCLE.refuse(self.status, command, "restore it first")
