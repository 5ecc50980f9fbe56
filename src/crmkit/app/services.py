"""Use cases per aggregate: typed commands that load, change and stage records.

Each service belongs to one `UnitOfWork` (``uow.contacts``, ``uow.accounts``,
``uow.activities``); it takes the time from the injected clock and the actor
from the unit's principal, so callers pass only what the command is about.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from crmkit.activities.activity import Activity, ActivityKind, Direction, RecordRef
from crmkit.app.customising import Customising
from crmkit.app.paging import Page
from crmkit.app.records import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    PREFERENCES,
    PreferencesRecord,
    RecordType,
)
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError
from crmkit.parties.account import Account
from crmkit.parties.consent import Channel, Purpose
from crmkit.parties.contact import Contact
from crmkit.parties.party import PartyStatus
from crmkit.parties.values import Address, Email, Phone
from crmkit.ports.query import Condition, Eq, Order

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

T = TypeVar("T")

_ACCOUNT_CHANGES = frozenset(inspect.signature(Account.update).parameters) - {"self", "stamp"}
_CONTACT_CHANGES = frozenset(inspect.signature(Contact.update).parameters) - {"self", "stamp"}


def _check_changes(allowed: frozenset[str], changes: dict[str, object]) -> None:
    for name in sorted(changes):
        if name not in allowed:
            raise ValidationError(name or "changes", "is not a field that update changes")


class _Service(Generic[T]):
    _type: RecordType[T]

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def get(self, id: str) -> T:
        """The record with ``id``; `NotFound` if there is none."""
        return self._uow.get(self._type, id)

    def view(self, id: str) -> dict[str, Any]:
        """The record as JSON-ready data without the fields hidden from the principal."""
        return self._uow.view(self._type, id)

    def find(
        self,
        *where: Condition,
        order_by: tuple[Order, ...] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[T]:
        """Records meeting every condition, a page at a time (see `crmkit.ports.query`)."""
        return self._uow.find(self._type, where, order_by, limit=limit, cursor=cursor)

    def _earlier(self, idempotency_key: str | None) -> T | None:
        if idempotency_key is None:
            return None
        return self._uow.by_idempotency_key(self._type, idempotency_key)


class _Parties(Customising[T], _Service[T]):
    def find(
        self,
        *where: Condition,
        order_by: tuple[Order, ...] = (Order("name"),),
        limit: int = 50,
        cursor: str | None = None,
        include_archived: bool = False,
    ) -> Page[T]:
        """Records meeting every condition, by name; archived ones only when asked for."""
        if not include_archived:
            where = (*where, Eq("status", PartyStatus.ACTIVE.value))
        return self._uow.find(self._type, where, order_by, limit=limit, cursor=cursor)


class Accounts(_Parties[Account]):
    """Account commands and queries of one unit of work."""

    _type = ACCOUNTS

    def create(
        self,
        name: str,
        *,
        website: str | None = None,
        industry: str | None = None,
        emails: Iterable[Email] = (),
        phones: Iterable[Phone] = (),
        addresses: Iterable[Address] = (),
        owner_id: str | None = None,
        tags: Iterable[str] = (),
        parent_id: str | None = None,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Account:
        """Create an account; a retry with the same ``idempotency_key`` returns the first one."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        if parent_id is not None:
            self.get(parent_id)
        account, event = Account.create(
            self._uow.new_id(),
            name,
            self._uow.stamp(),
            website=website,
            industry=industry,
            emails=items(emails, "emails", personal=True),
            phones=items(phones, "phones", personal=True),
            addresses=items(addresses, "addresses", personal=True),
            owner_id=owner_id,
            tags=items(tags, "tags"),
            parent_id=parent_id,
        )
        return self._created(account, custom, event, idempotency_key=idempotency_key)

    def update(self, id: str, /, **changes: object) -> Account:
        """Change fields of an account (see `Account.update`)."""
        _check_changes(_ACCOUNT_CHANGES, changes)
        account, event = self.get(id).update(self._uow.stamp(), **changes)  # type: ignore[arg-type]
        return self._uow.save(ACCOUNTS, account, event)

    def tag(self, id: str, *tags: str) -> Account:
        """Add tags."""
        account, event = self.get(id).tag(tags, self._uow.stamp())
        return self._uow.save(ACCOUNTS, account, event)

    def assign(self, id: str, owner_id: str | None) -> Account:
        """Give the account an owner, or none."""
        account, event = self.get(id).assign(owner_id, self._uow.stamp())
        return self._uow.save(ACCOUNTS, account, event)

    def archive(self, id: str) -> Account:
        """Archive an account."""
        account, event = self.get(id).archive(self._uow.stamp())
        return self._uow.save(ACCOUNTS, account, event)

    def restore(self, id: str) -> Account:
        """Restore an archived account."""
        account, event = self.get(id).restore(self._uow.stamp())
        return self._uow.save(ACCOUNTS, account, event)


class Contacts(_Parties[Contact]):
    """Contact commands and queries of one unit of work."""

    _type = CONTACTS

    def create(
        self,
        last_name: str,
        *,
        first_name: str = "",
        title: str | None = None,
        emails: Iterable[Email] = (),
        phones: Iterable[Phone] = (),
        addresses: Iterable[Address] = (),
        owner_id: str | None = None,
        tags: Iterable[str] = (),
        time_zone: str | None = None,
        account_id: str | None = None,
        role: str = "contact",
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Contact:
        """Create a contact, optionally linked to an account as its primary one.

        A retry with the same ``idempotency_key`` returns the first contact.
        """
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        stamp = self._uow.stamp()
        contact, created = Contact.create(
            self._uow.new_id(),
            stamp,
            last_name=last_name,
            first_name=first_name,
            title=title,
            emails=items(emails, "emails", personal=True),
            phones=items(phones, "phones", personal=True),
            addresses=items(addresses, "addresses", personal=True),
            owner_id=owner_id,
            tags=items(tags, "tags"),
            time_zone=time_zone,
        )
        if account_id is None:
            return self._created(contact, custom, created, idempotency_key=idempotency_key)
        self._uow.accounts.get(account_id)
        linked, event = contact.link(account_id, role, stamp, primary=True)
        return self._created(linked, custom, created, event, idempotency_key=idempotency_key)

    def update(self, id: str, /, **changes: object) -> Contact:
        """Change fields of a contact (see `Contact.update`)."""
        _check_changes(_CONTACT_CHANGES, changes)
        contact, event = self.get(id).update(self._uow.stamp(), **changes)  # type: ignore[arg-type]
        return self._uow.save(CONTACTS, contact, event)

    def link(self, id: str, account_id: str, role: str, *, primary: bool = False) -> Contact:
        """Give a contact a role at an account."""
        self._uow.accounts.get(account_id)
        contact, event = self.get(id).link(account_id, role, self._uow.stamp(), primary=primary)
        return self._uow.save(CONTACTS, contact, event)

    def unlink(self, id: str, account_id: str) -> Contact:
        """Remove a contact's role at an account."""
        contact, event = self.get(id).unlink(account_id, self._uow.stamp())
        return self._uow.save(CONTACTS, contact, event)

    def tag(self, id: str, *tags: str) -> Contact:
        """Add tags."""
        contact, event = self.get(id).tag(tags, self._uow.stamp())
        return self._uow.save(CONTACTS, contact, event)

    def assign(self, id: str, owner_id: str | None) -> Contact:
        """Give the contact an owner, or none."""
        contact, event = self.get(id).assign(owner_id, self._uow.stamp())
        return self._uow.save(CONTACTS, contact, event)

    def set_preferences(self, id: str, preferences: ChannelPreferences) -> ChannelPreferences:
        """Set how the contact likes to be reached (channels per purpose, hours, do-not flags)."""
        contact = self.get(id)
        if not isinstance(preferences, ChannelPreferences):
            raise ValidationError("preferences", "must be ChannelPreferences", preferences)
        old = self._uow.get_or_none(PREFERENCES, contact.id)
        version = 1 if old is None else old.version + 1
        self._uow.save(PREFERENCES, PreferencesRecord(contact.id, version, preferences))
        return preferences

    def preferences(self, id: str) -> ChannelPreferences:
        """How the contact likes to be reached; the defaults when nothing was set."""
        contact = self.get(id)
        record = self._uow.get_or_none(PREFERENCES, contact.id)
        return ChannelPreferences() if record is None else record.preferences

    def record_consent(
        self,
        id: str,
        channel: Channel | str,
        purpose: Purpose | str,
        *,
        granted: bool,
        source: str,
        given_at: datetime | None = None,
    ) -> Contact:
        """Record an opt-in (``granted=True``) or an opt-out."""
        contact, event = self.get(id).record_consent(
            channel, purpose, granted, source, self._uow.stamp(), given_at=given_at
        )
        return self._uow.save(CONTACTS, contact, event)

    def archive(self, id: str) -> Contact:
        """Archive a contact."""
        contact, event = self.get(id).archive(self._uow.stamp())
        return self._uow.save(CONTACTS, contact, event)

    def restore(self, id: str) -> Contact:
        """Restore an archived contact."""
        contact, event = self.get(id).restore(self._uow.stamp())
        return self._uow.save(CONTACTS, contact, event)


class Activities(Customising[Activity], _Service[Activity]):
    """Activity commands and queries of one unit of work."""

    _type = ACTIVITIES

    def _links(self, about: Iterable[RecordRef]) -> tuple[RecordRef, ...]:
        """The records given, each checked to exist, plus the accounts of given contacts."""
        refs = list(items(about, "about"))
        if not refs:
            raise ValidationError("about", "must name at least one record")
        for ref in list(refs):
            if not isinstance(ref, RecordRef):
                raise ValidationError("about", "must hold RecordRef values", ref)
            if ref.kind == "contact":
                contact = self._uow.contacts.get(ref.id)
                refs.extend(RecordRef("account", a) for a in contact.account_ids)
            elif ref.kind == "account":
                self._uow.accounts.get(ref.id)
        return tuple(dict.fromkeys(refs))

    def log(
        self,
        kind: ActivityKind | str,
        subject: str,
        about: Iterable[RecordRef],
        *,
        occurred_at: datetime | None = None,
        body: str = "",
        direction: Direction | str | None = None,
        duration_minutes: int | None = None,
        owner_id: str | None = None,
        message_id: str | None = None,
        outcome: str | None = None,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Activity:
        """Log a call, meeting, note or email that happened (default: now).

        ``outcome`` is how it turned out: a `CallOutcome`, `EmailOutcome` or
        `MeetingOutcome` (or its value, such as ``"no_answer"``) matching ``kind``;
        see `crmkit.activities.outcomes` for the rules on outcomes and durations.
        A retry with the same ``idempotency_key`` returns the first activity.
        """
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        activity, event = Activity.log(
            self._uow.new_id(),
            kind,
            subject,
            self._links(about),
            self._uow.stamp(),
            occurred_at=occurred_at,
            body=body,
            direction=direction,
            duration_minutes=duration_minutes,
            owner_id=owner_id,
            message_id=message_id,
            outcome=outcome,
        )
        return self._created(activity, custom, event, idempotency_key=idempotency_key)

    def plan(
        self,
        kind: ActivityKind | str,
        subject: str,
        about: Iterable[RecordRef],
        due_at: datetime,
        *,
        body: str = "",
        owner_id: str | None = None,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Activity:
        """Plan a task, call or meeting; a retry with the same ``idempotency_key`` returns it."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        activity, event = Activity.plan(
            self._uow.new_id(),
            kind,
            subject,
            self._links(about),
            due_at,
            self._uow.stamp(),
            body=body,
            owner_id=owner_id,
        )
        return self._created(activity, custom, event, idempotency_key=idempotency_key)

    def complete(
        self,
        id: str,
        *,
        outcome: str | None = None,
        note: str | None = None,
        duration_minutes: int | None = None,
    ) -> Activity:
        """Mark a planned activity done (see `Activity.complete` for ``outcome`` and ``note``)."""
        activity, event = self.get(id).complete(
            self._uow.stamp(), outcome=outcome, note=note, duration_minutes=duration_minutes
        )
        return self._uow.save(ACTIVITIES, activity, event)

    def cancel(self, id: str) -> Activity:
        """Cancel a planned activity."""
        activity, event = self.get(id).cancel(self._uow.stamp())
        return self._uow.save(ACTIVITIES, activity, event)

    def reschedule(self, id: str, due_at: datetime) -> Activity:
        """Move a planned activity to another time."""
        activity, event = self.get(id).reschedule(due_at, self._uow.stamp())
        return self._uow.save(ACTIVITIES, activity, event)
