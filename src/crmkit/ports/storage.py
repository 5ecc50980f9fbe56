"""The storage port: a small, domain-agnostic document store.

A plugin author implements `DocumentStore` once. It never sees crmkit's
domain types: it stores JSON text under (tenant, kind, id) with a version,
keeps the index fields that the `StoreSchema` declares for each kind, appends
event records, and keeps an outbox of messages to send. crmkit builds every
typed repository, the unit of work and the timeline on top of it.

Rules every adapter keeps (the conformance kit in `crmkit.testing` checks them):

* Every call is scoped by tenant; nothing crosses tenants.
* `DocumentStore.commit` is atomic: all of a `ChangeSet` or nothing.
* A write names the version it expects (0 for a new document); a mismatch
  raises `ConcurrencyConflict` and a unique index clash raises `DuplicateRecord`.
* Ordering is binary (code point) order with nulls last in both directions.
* Driver errors never leak: they become `StorageError` (or a child).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_token

if TYPE_CHECKING:
    from crmkit.ports.query import Query

IndexScalar = str | int | bool
"""A value an index field holds."""
IndexValue = IndexScalar | tuple[IndexScalar, ...] | None
"""The value of one index field of one document: a scalar, a tuple (multi-valued) or None."""


class IndexType(StrEnum):
    """The type of an index field. Instants are indexed as ``int`` UTC microseconds."""

    TEXT = "text"
    INT = "int"
    BOOL = "bool"


_PYTHON_TYPES: Mapping[IndexType, type] = {
    IndexType.TEXT: str,
    IndexType.INT: int,
    IndexType.BOOL: bool,
}
_RESERVED = frozenset({"id", "version", "body", "tenant"})


def _field_name(value: object) -> str:
    return clean_token(value, "name")


def _kind_name(value: object) -> str:
    return clean_token(value, "kind")


@attrs.frozen
class IndexField:
    """A field that queries can filter and order by.

    Attributes:
        name: The field name (``[a-z][a-z0-9_]*``).
        type: Its `IndexType`.
        multi: Whether a document holds several values (tags, for example).
        unique: Whether two documents of a tenant may not share a value.
        search: Whether the field is full-text searchable (see `crmkit.ports.search`):
            a single-valued, non-unique ``text`` field; a kind has at most one.
    """

    name: str = attrs.field(converter=_field_name)
    type: IndexType
    multi: bool = False
    unique: bool = False
    search: bool = False

    def __attrs_post_init__(self) -> None:
        if self.name in _RESERVED:
            raise ValidationError("name", "is reserved", self.name)
        if self.multi and self.unique:
            raise ValidationError(self.name, "a multi-valued index cannot be unique")
        if self.search and (self.type is not IndexType.TEXT or self.multi or self.unique):
            raise ValidationError(self.name, "a search field is single-valued, non-unique text")

    def check(self, value: object) -> IndexValue:
        """Validate one document's value for this field."""
        if value is None:
            return None
        if self.multi:
            if not isinstance(value, tuple):
                raise ValidationError(self.name, "must be a tuple of values", value)
            return tuple(check_scalar(self.name, self.type, item) for item in value)
        return check_scalar(self.name, self.type, value)


def check_scalar(name: str, type_: IndexType, value: object) -> IndexScalar:
    """Validate one scalar of index field ``name`` of type ``type_``."""
    if type(value) is not _PYTHON_TYPES[type_]:
        raise ValidationError(name, f"must be of index type {type_}", value)
    if type(value) is int and not -(2**63) <= value < 2**63:
        raise ValidationError(name, "must fit a signed 64-bit integer", value)
    return value  # type: ignore[return-value]


@attrs.frozen
class KindSpec:
    """A kind of document and its index fields.

    Attributes:
        kind: The kind's name (``[a-z][a-z0-9_]*``), for example ``contact``.
        indexes: Its index fields.
    """

    kind: str = attrs.field(converter=_kind_name)
    indexes: tuple[IndexField, ...] = ()

    def __attrs_post_init__(self) -> None:
        names = [field.name for field in self.indexes]
        if len(set(names)) != len(names):
            raise ValidationError("indexes", f"names an index twice in kind {self.kind}", names)
        if sum(field.search for field in self.indexes) > 1:
            raise ValidationError("indexes", f"declares two search fields in kind {self.kind}")

    @property
    def search_field(self) -> str | None:
        """The name of the kind's full-text search field, or None when it has none."""
        for field in self.indexes:
            if field.search:
                return field.name
        return None

    def field(self, name: str) -> IndexField:
        """The index field called ``name``; `ValidationError` if the kind has none."""
        for field in self.indexes:
            if field.name == name:
                return field
        raise ValidationError(name, f"is not an index field of {self.kind}")


@attrs.frozen
class StoreSchema:
    """Every kind a store holds, with its index fields.

    Attributes:
        kinds: The kinds, each with a unique name.
    """

    kinds: tuple[KindSpec, ...]

    def __attrs_post_init__(self) -> None:
        names = [spec.kind for spec in self.kinds]
        if len(set(names)) != len(names):
            raise ValidationError("kinds", "names a kind twice", names)

    def kind(self, name: str) -> KindSpec:
        """The spec of kind ``name``; `ValidationError` if the schema has none."""
        for spec in self.kinds:
            if spec.kind == name:
                return spec
        raise ValidationError("kind", "is not a kind of this store", name)


@attrs.frozen
class Document:
    """One stored record: JSON text plus its index values.

    Attributes:
        kind: The kind.
        id: The id, unique per tenant and kind.
        version: Starts at 1 and grows with every write.
        body: The record as JSON text.
        index: The index values, by field name; fields left out are null.
    """

    kind: str
    id: str
    version: int
    body: str
    index: Mapping[str, IndexValue] = attrs.field(factory=dict)


@attrs.frozen
class Put:
    """Write ``doc``, expecting the stored version to be ``expected_version`` (0: absent).

    Attributes:
        doc: The new state; its version must be greater than ``expected_version``.
        expected_version: The version the writer read, or 0 for a new document.
    """

    doc: Document
    expected_version: int


@attrs.frozen
class Delete:
    """Remove a document, expecting it at ``expected_version``.

    Attributes:
        kind: The kind.
        id: The id.
        expected_version: The version the writer read.
    """

    kind: str
    id: str
    expected_version: int


Write = Put | Delete
"""A change to one document."""


@attrs.frozen
class EventRecord:
    """A serialised domain event, appended to the event log.

    Attributes:
        id: The event's own id.
        stream_kind: Kind of the aggregate it belongs to.
        stream_id: Id of that aggregate; (stream_id, version) is unique.
        version: The aggregate's version after the event.
        event_type: The stable event type name.
        schema_version: The version of the event's shape.
        occurred_at: UTC microseconds since the epoch.
        body: The event's data as JSON text.
    """

    id: str
    stream_kind: str
    stream_id: str
    version: int
    event_type: str
    schema_version: int
    occurred_at: int
    body: str


@attrs.frozen
class StoredEvent:
    """An event record read back, with its position in the tenant's log.

    Attributes:
        position: Increases with every appended event of a tenant, in commit order.
        record: The event record.
    """

    position: int
    record: EventRecord


class OutboxStatus(StrEnum):
    """Where an outbox message stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@attrs.frozen
class OutboxMessage:
    """A message to send after commit, written in the same unit of work.

    Attributes:
        id: The message id.
        key: Idempotency key, unique per tenant; a second message with it is refused.
        channel: The channel to send it through, for example ``email``.
        purpose: Why it is sent (``service``, ``marketing`` ...), for the consent check.
        party_id: The recipient party, or None.
        body: The rendered message as JSON text.
        available_at: UTC microseconds before which it is not claimed.
    """

    id: str
    key: str
    channel: str
    purpose: str
    party_id: str | None
    body: str
    available_at: int


@attrs.frozen
class OutboxEntry:
    """An outbox message with its delivery state.

    Attributes:
        message: The message.
        status: `OutboxStatus`.
        attempts: How often it was claimed.
        lease_until: UTC microseconds until which the current claim holds, or None.
        last_error: The last failure, or None.
        receipt: The delivery receipt once delivered, or None.
    """

    message: OutboxMessage
    status: OutboxStatus
    attempts: int
    lease_until: int | None
    last_error: str | None
    receipt: str | None


@attrs.frozen
class ChangeSet:
    """Everything one unit of work writes, committed together or not at all.

    Attributes:
        writes: Document writes, applied in order.
        events: Event records to append.
        outbox: Messages to queue.
    """

    writes: tuple[Write, ...] = ()
    events: tuple[EventRecord, ...] = ()
    outbox: tuple[OutboxMessage, ...] = ()


class DocumentStore(Protocol):
    """What a storage adapter implements. See the module docs for the rules."""

    def open(self, schema: StoreSchema) -> None:
        """Create or migrate the storage for ``schema``; call once before anything else."""
        ...

    def get(self, tenant: str, kind: str, id: str) -> Document | None:
        """The document, or None when there is none."""
        ...

    def query(self, tenant: str, query: Query) -> list[Document]:
        """The documents matching ``query``, in its order, at most ``query.limit``."""
        ...

    def commit(self, tenant: str, changes: ChangeSet) -> None:
        """Apply ``changes`` atomically, checking every expected version."""
        ...

    def read_events(
        self, tenant: str, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[StoredEvent]:
        """Events after position ``after``, oldest first, optionally of one stream."""
        ...

    def claim_outbox(self, tenant: str, *, now: int, limit: int, lease: int) -> list[OutboxEntry]:
        """Lease up to ``limit`` due messages for ``lease`` microseconds."""
        ...

    def complete_outbox(self, tenant: str, id: str, *, attempt: int, receipt: str) -> None:
        """Record delivery of a message claimed at ``attempt``."""
        ...

    def fail_outbox(
        self, tenant: str, id: str, *, attempt: int, error: str, retry_at: int | None
    ) -> None:
        """Record a failed delivery; retry at ``retry_at`` or, when None, move it to dead."""
        ...

    def close(self) -> None:
        """Release resources; later calls raise `StorageError`."""
        ...


def check_writes(schema: StoreSchema, writes: Iterable[Write]) -> None:
    """Validate kinds, versions and index values of ``writes`` against ``schema``."""
    for write in writes:
        if isinstance(write, Put):
            spec = schema.kind(write.doc.kind)
            if write.expected_version < 0 or write.doc.version <= write.expected_version:
                raise ValidationError(
                    "version", "must be greater than the expected version", write.doc.version
                )
            for name, value in write.doc.index.items():
                spec.field(name).check(value)
        else:
            schema.kind(write.kind)
