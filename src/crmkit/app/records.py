"""How each aggregate is stored: its kind name and the index fields taken from it.

Domain classes know nothing about storage; this module maps them onto the
storage port. Index values are derived from the aggregate on every save, so
they can never disagree with the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

from crmkit.activities.activity import Activity
from crmkit.activities.timeline import TimelineEntry
from crmkit.kernel.time import to_micros
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.ports.storage import IndexField, IndexType, IndexValue, KindSpec, StoreSchema

T = TypeVar("T")

TEXT, INT = IndexType.TEXT, IndexType.INT


@attrs.frozen
class RecordType(Generic[T]):
    """A stored aggregate class: its kind and how to index it.

    Attributes:
        kind: The storage kind, for example ``contact``.
        cls: The aggregate class.
        indexes: Index fields, each with the function that reads its value.
        idempotent: Whether create commands accept an idempotency key, kept in a
            unique ``idempotency_key`` index field.
        related: Ids of other records whose timelines show this record's events,
            read from its state right after each change (a contact's accounts).
    """

    kind: str
    cls: type[T]
    indexes: tuple[tuple[IndexField, Callable[[T], IndexValue]], ...]
    idempotent: bool = True
    related: Callable[[T], tuple[str, ...]] = lambda _: ()

    def spec(self) -> KindSpec:
        """The storage spec of this kind."""
        fields = tuple(field for field, _ in self.indexes)
        if self.idempotent:
            fields += (IndexField("idempotency_key", TEXT, unique=True),)
        return KindSpec(self.kind, fields)

    def index(self, obj: T) -> dict[str, IndexValue]:
        """The index values of ``obj``."""
        return {field.name: read(obj) for field, read in self.indexes}


def _contact_name(contact: Contact) -> str:
    return f"{contact.last_name} {contact.first_name}".strip().casefold()


CONTACTS: RecordType[Contact] = RecordType(
    "contact",
    Contact,
    (
        (IndexField("status", TEXT), lambda c: c.status.value),
        (IndexField("name", TEXT), _contact_name),
        (IndexField("email", TEXT), lambda c: c.emails[0].key if c.emails else None),
        (IndexField("owner_id", TEXT), lambda c: c.owner_id),
        (IndexField("updated_at", INT), lambda c: to_micros(c.updated_at)),
        (IndexField("tags", TEXT, multi=True), lambda c: c.tags),
        (IndexField("account_ids", TEXT, multi=True), lambda c: c.account_ids),
    ),
    related=lambda c: c.account_ids,
)
"""Contacts, indexed by status, name (last name first, case-folded), main email, owner,
last change, tags and accounts."""

ACCOUNTS: RecordType[Account] = RecordType(
    "account",
    Account,
    (
        (IndexField("status", TEXT), lambda a: a.status.value),
        (IndexField("name", TEXT), lambda a: a.name.casefold()),
        (IndexField("owner_id", TEXT), lambda a: a.owner_id),
        (IndexField("parent_id", TEXT), lambda a: a.parent_id),
        (IndexField("updated_at", INT), lambda a: to_micros(a.updated_at)),
        (IndexField("tags", TEXT, multi=True), lambda a: a.tags),
    ),
)
"""Accounts, indexed by status, case-folded name, owner, parent, last change and tags."""

ACTIVITIES: RecordType[Activity] = RecordType(
    "activity",
    Activity,
    (
        (IndexField("kind", TEXT), lambda a: a.kind.value),
        (IndexField("status", TEXT), lambda a: a.status.value),
        (IndexField("occurred_at", INT), lambda a: to_micros(a.occurred_at)),
        (IndexField("owner_id", TEXT), lambda a: a.owner_id),
        (IndexField("message_id", TEXT), lambda a: a.message_id),
        (IndexField("links", TEXT, multi=True), lambda a: tuple(ref.id for ref in a.links)),
    ),
)
"""Activities, indexed by kind, status, time, owner, email Message-ID and linked records."""

TIMELINE: RecordType[TimelineEntry] = RecordType(
    "timeline",
    TimelineEntry,
    (
        (IndexField("occurred_at", INT), lambda e: to_micros(e.occurred_at)),
        (IndexField("event_type", TEXT), lambda e: e.event_type),
        (IndexField("subjects", TEXT, multi=True), lambda e: e.subjects),
    ),
    idempotent=False,
)
"""Timeline entries, indexed by time, event type and every record they concern."""

RECORD_TYPES: tuple[RecordType[Any], ...] = (CONTACTS, ACCOUNTS, ACTIVITIES, TIMELINE)
"""Every record type crmkit stores."""


def schema(types: tuple[RecordType[Any], ...] = RECORD_TYPES) -> StoreSchema:
    """The storage schema for ``types``."""
    return StoreSchema(tuple(t.spec() for t in types))
