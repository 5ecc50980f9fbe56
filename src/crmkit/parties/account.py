"""Accounts: the organisations a business deals with."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from crmkit.kernel.checks import aware, items, of_type, tuple_of, version
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.events import PERSONAL, Stamp
from crmkit.kernel.ids import AccountId, check_id
from crmkit.kernel.text import clean_line
from crmkit.parties.events import (
    AccountArchived,
    AccountChanged,
    AccountCreated,
    AccountMerged,
    AccountRestored,
    AccountUnmerged,
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

ACCOUNT_LIFECYCLE = party_lifecycle("account")
"""Accounts are active or archived."""


def _account_id(value: object) -> AccountId:
    return AccountId(check_id(value, "id"))


def _name(value: object) -> str:
    return clean_line(value, "name")


def _website(value: object) -> str | None:
    return None if value is None else clean_line(value, "website", max_len=2000)


def _industry(value: object) -> str | None:
    return None if value is None else clean_line(value, "industry")


def _parent_id(value: object) -> str | None:
    return optional_id(value, "parent_id")


def _merged_into(value: object) -> str | None:
    return optional_id(value, "merged_into")


def _tags(value: object) -> tuple[str, ...]:
    return clean_tags(value)


@attrs.frozen
class Account(PartyCommands):
    """An organisation: a customer, prospect, partner or supplier.

    Attributes:
        id: The account's id.
        version: Grows by one with every change.
        name: The organisation's name.
        created_at: When it was created.
        updated_at: When it last changed.
        status: Active or archived.
        website: Its web address, if known.
        industry: Its industry, if known.
        emails: General email addresses.
        phones: General phone numbers.
        addresses: Postal addresses (billing, shipping ...).
        owner_id: The user who owns the relationship.
        tags: Case-folded tags, sorted.
        parent_id: The parent account in a group of companies.
        merged_into: The survivor this account was merged into as a duplicate, if any.
        custom: The host's custom field values (`crmkit.extension.custom_fields`).
    """

    _changed: ClassVar = AccountChanged
    _archived: ClassVar = AccountArchived
    _restored: ClassVar = AccountRestored
    _merged: ClassVar = AccountMerged
    _unmerged: ClassVar = AccountUnmerged
    _lifecycle: ClassVar = ACCOUNT_LIFECYCLE

    id: AccountId = attrs.field(converter=_account_id)
    version: int = attrs.field(validator=version)
    name: str = attrs.field(converter=_name)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: PartyStatus = attrs.field(default=PartyStatus.ACTIVE, validator=of_type(PartyStatus))
    website: str | None = attrs.field(default=None, converter=_website)
    industry: str | None = attrs.field(default=None, converter=_industry)
    emails: tuple[Email, ...] = attrs.field(
        default=(), validator=tuple_of(Email), metadata=PERSONAL, repr=False
    )
    phones: tuple[Phone, ...] = attrs.field(
        default=(), validator=tuple_of(Phone), metadata=PERSONAL, repr=False
    )
    addresses: tuple[Address, ...] = attrs.field(
        default=(), validator=tuple_of(Address), metadata=PERSONAL, repr=False
    )
    owner_id: str | None = attrs.field(default=None, converter=optional_owner)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    parent_id: AccountId | None = attrs.field(default=None, converter=_parent_id)
    merged_into: AccountId | None = attrs.field(default=None, converter=_merged_into)
    custom: CustomValues = attrs.field(
        factory=CustomValues, validator=of_type(CustomValues), metadata=PERSONAL, repr=False
    )

    @classmethod
    def create(
        cls,
        id: str,
        name: str,
        stamp: Stamp,
        *,
        website: str | None = None,
        industry: str | None = None,
        emails: tuple[Email, ...] = (),
        phones: tuple[Phone, ...] = (),
        addresses: tuple[Address, ...] = (),
        owner_id: str | None = None,
        tags: tuple[str, ...] = (),
        parent_id: str | None = None,
    ) -> tuple[Account, AccountCreated]:
        """A new account at version 1, and the event that records it."""
        account = cls(
            id,
            1,
            name,
            stamp.at,
            stamp.at,
            website=website,
            industry=industry,
            emails=items(emails, "emails", personal=True),
            phones=items(phones, "phones", personal=True),
            addresses=items(addresses, "addresses", personal=True),
            owner_id=owner_id,
            tags=tags,
            parent_id=None if parent_id is None else AccountId(parent_id),
        )
        event = AccountCreated(
            aggregate_id=account.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            name=account.name,
        )
        return account, event

    def update(
        self,
        stamp: Stamp,
        *,
        name: str | None = None,
        website: str | None = None,
        industry: str | None = None,
        emails: tuple[Email, ...] | None = None,
        phones: tuple[Phone, ...] | None = None,
        addresses: tuple[Address, ...] | None = None,
        parent_id: str | None = None,
    ) -> tuple[Account, PartyChanged]:
        """Change the given fields (None leaves a field as it is)."""
        given = {
            "name": name,
            "website": website,
            "industry": industry,
            "emails": emails,
            "phones": phones,
            "addresses": addresses,
            "parent_id": parent_id,
        }
        return self._update(stamp, given)
