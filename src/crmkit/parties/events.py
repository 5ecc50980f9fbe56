"""Events of accounts and contacts."""

from __future__ import annotations

from typing import ClassVar

import attrs

from crmkit.kernel.events import PERSONAL, DomainEvent
from crmkit.parties.consent import ConsentRecord


@attrs.frozen(kw_only=True)
class AccountCreated(DomainEvent):
    """An account was created.

    Attributes:
        name: The organisation's name.
    """

    event_type: ClassVar[str] = "account_created"
    aggregate_kind: ClassVar[str] = "account"
    name: str

    def summary(self) -> str:
        """Timeline line."""
        return f"account {self.name} created"


@attrs.frozen(kw_only=True)
class PartyChanged(DomainEvent):
    """Fields of an account or contact changed.

    Attributes:
        fields: Names of the fields that changed.
    """

    event_type: ClassVar[str] = "party_changed"
    fields: tuple[str, ...]

    def summary(self) -> str:
        """Timeline line."""
        return "changed " + ", ".join(self.fields)


@attrs.frozen(kw_only=True)
class AccountChanged(PartyChanged):
    """Fields of an account changed."""

    event_type: ClassVar[str] = "account_changed"
    aggregate_kind: ClassVar[str] = "account"


@attrs.frozen(kw_only=True)
class AccountArchived(DomainEvent):
    """An account was archived; it leaves default queries."""

    event_type: ClassVar[str] = "account_archived"
    aggregate_kind: ClassVar[str] = "account"


@attrs.frozen(kw_only=True)
class AccountRestored(DomainEvent):
    """An archived account was restored."""

    event_type: ClassVar[str] = "account_restored"
    aggregate_kind: ClassVar[str] = "account"


@attrs.frozen(kw_only=True)
class ContactCreated(DomainEvent):
    """A contact was created.

    Attributes:
        name: The person's display name (personal data).
    """

    event_type: ClassVar[str] = "contact_created"
    aggregate_kind: ClassVar[str] = "contact"
    name: str = attrs.field(metadata=PERSONAL, repr=False)

    def summary(self) -> str:
        """Timeline line."""
        return f"contact {self.name} created"


@attrs.frozen(kw_only=True)
class ContactChanged(PartyChanged):
    """Fields of a contact changed."""

    event_type: ClassVar[str] = "contact_changed"
    aggregate_kind: ClassVar[str] = "contact"


@attrs.frozen(kw_only=True)
class ContactLinked(DomainEvent):
    """A contact was linked to an account with a role (or its role changed).

    Attributes:
        account_id: The account.
        role: The contact's role there, for example ``buyer``.
        primary: Whether this is the contact's main account.
        moved_from: The account the role moved from, when accounts merged.
    """

    event_type: ClassVar[str] = "contact_linked"
    aggregate_kind: ClassVar[str] = "contact"
    account_id: str
    role: str
    primary: bool
    moved_from: str | None = None

    def summary(self) -> str:
        """Timeline line."""
        moved = "" if self.moved_from is None else f" (moved from {self.moved_from})"
        return f"linked to account {self.account_id} as {self.role}{moved}"

    def subjects(self) -> tuple[str, ...]:
        """The contact and the account (and the account it moved from)."""
        moved = () if self.moved_from is None else (self.moved_from,)
        return (self.aggregate_id, self.account_id, *moved)


@attrs.frozen(kw_only=True)
class ContactUnlinked(DomainEvent):
    """A contact's link to an account was removed.

    Attributes:
        account_id: The account.
    """

    event_type: ClassVar[str] = "contact_unlinked"
    aggregate_kind: ClassVar[str] = "contact"
    account_id: str

    def summary(self) -> str:
        """Timeline line."""
        return f"unlinked from account {self.account_id}"

    def subjects(self) -> tuple[str, ...]:
        """The contact and the account."""
        return (self.aggregate_id, self.account_id)


@attrs.frozen(kw_only=True)
class ConsentRecorded(DomainEvent):
    """A contact gave or withdrew consent.

    Attributes:
        record: The opt-in or opt-out.
    """

    event_type: ClassVar[str] = "consent_recorded"
    aggregate_kind: ClassVar[str] = "contact"
    record: ConsentRecord

    def summary(self) -> str:
        """Timeline line."""
        what = "opted in to" if self.record.granted else "opted out of"
        return f"{what} {self.record.purpose} by {self.record.channel} ({self.record.source})"


@attrs.frozen(kw_only=True)
class ContactArchived(DomainEvent):
    """A contact was archived; it leaves default queries."""

    event_type: ClassVar[str] = "contact_archived"
    aggregate_kind: ClassVar[str] = "contact"


@attrs.frozen(kw_only=True)
class ContactRestored(DomainEvent):
    """An archived contact was restored."""

    event_type: ClassVar[str] = "contact_restored"
    aggregate_kind: ClassVar[str] = "contact"


@attrs.frozen(kw_only=True)
class PartyMerged(DomainEvent):
    """An account or contact was merged into a survivor, as its duplicate.

    Attributes:
        into: The survivor's id.
    """

    event_type: ClassVar[str] = "party_merged"
    into: str

    def summary(self) -> str:
        """Timeline line."""
        return f"merged into {self.into}"

    def subjects(self) -> tuple[str, ...]:
        """The merged party and the survivor."""
        return (self.aggregate_id, self.into)


@attrs.frozen(kw_only=True)
class PartyUnmerged(DomainEvent):
    """A merge was undone: the party stands on its own again.

    Attributes:
        into: The survivor it had been merged into.
    """

    event_type: ClassVar[str] = "party_unmerged"
    into: str

    def summary(self) -> str:
        """Timeline line."""
        return f"merge into {self.into} undone"

    def subjects(self) -> tuple[str, ...]:
        """The party and the former survivor."""
        return (self.aggregate_id, self.into)


@attrs.frozen(kw_only=True)
class AccountMerged(PartyMerged):
    """An account was merged into a survivor."""

    event_type: ClassVar[str] = "account_merged"
    aggregate_kind: ClassVar[str] = "account"


@attrs.frozen(kw_only=True)
class AccountUnmerged(PartyUnmerged):
    """An account's merge was undone."""

    event_type: ClassVar[str] = "account_unmerged"
    aggregate_kind: ClassVar[str] = "account"


@attrs.frozen(kw_only=True)
class ContactMerged(PartyMerged):
    """A contact was merged into a survivor."""

    event_type: ClassVar[str] = "contact_merged"
    aggregate_kind: ClassVar[str] = "contact"


@attrs.frozen(kw_only=True)
class ContactUnmerged(PartyUnmerged):
    """A contact's merge was undone."""

    event_type: ClassVar[str] = "contact_unmerged"
    aggregate_kind: ClassVar[str] = "contact"


EVENTS: tuple[type[DomainEvent], ...] = (
    AccountCreated,
    AccountChanged,
    AccountArchived,
    AccountRestored,
    ContactCreated,
    ContactChanged,
    ContactLinked,
    ContactUnlinked,
    ConsentRecorded,
    ContactArchived,
    ContactRestored,
    AccountMerged,
    AccountUnmerged,
    ContactMerged,
    ContactUnmerged,
)
"""Every event class of the parties context."""
