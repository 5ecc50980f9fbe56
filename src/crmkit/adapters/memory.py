"""The in-memory document store: the reference adapter.

Its behaviour defines the storage port; every other adapter is tested
against it by the conformance kit. It is thread-safe and keeps everything in
dictionaries, so it suits tests, examples and short-lived processes.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping

import attrs

from crmkit.kernel.errors import (
    ConcurrencyConflict,
    DuplicateRecord,
    NotFound,
    StorageError,
    ValidationError,
)
from crmkit.ports.aggregate import Aggregate, Group, check_aggregate_in, run_aggregate
from crmkit.ports.erasure import ERASED_BODY, check_erasure, check_party
from crmkit.ports.query import Query, check_query, matches, run_query
from crmkit.ports.search import Hit, SearchQuery, check_search_in, run_search
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    OutboxEntry,
    OutboxStatus,
    Put,
    StoredEvent,
    StoreSchema,
    check_writes,
)

_Key = tuple[str, str]  # (tenant, kind)


class MemoryStore:
    """A `DocumentStore` held in process memory.

    >>> from crmkit.ports.storage import KindSpec, StoreSchema
    >>> store = MemoryStore()
    >>> store.open(StoreSchema((KindSpec("note"),)))
    >>> store.get("default", "note", "n-1") is None
    True
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._schema: StoreSchema | None = None
        self._docs: dict[_Key, dict[str, Document]] = defaultdict(dict)
        self._events: dict[str, list[StoredEvent]] = defaultdict(list)
        self._versions: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._outbox: dict[str, dict[str, OutboxEntry]] = defaultdict(dict)
        self._closed = False

    def _ready(self) -> StoreSchema:
        if self._closed:
            raise StorageError("the store is closed")
        if self._schema is None:
            raise StorageError("the store is not open: call open(schema) first")
        return self._schema

    def open(self, schema: StoreSchema) -> None:
        """Adopt ``schema``; documents of kinds it no longer names stay but cannot be read."""
        if self._closed:
            raise StorageError("the store is closed")
        self._schema = schema

    def get(self, tenant: str, kind: str, id: str) -> Document | None:
        """The document, or None."""
        with self._lock:
            self._ready().kind(kind)
            return self._docs[tenant, kind].get(id)

    def query(self, tenant: str, query: Query) -> list[Document]:
        """Documents matching ``query`` (the reference semantics of `run_query`)."""
        with self._lock:
            check_query(self._ready().kind(query.kind), query)
            return run_query(query, list(self._docs[tenant, query.kind].values()))

    def aggregate(self, tenant: str, agg: Aggregate) -> list[Group]:
        """The groups of ``agg`` (the reference semantics of `run_aggregate`)."""
        with self._lock:
            check_aggregate_in(self._ready(), agg)
            return run_aggregate(agg, self._docs[tenant, agg.kind].values())

    def search(self, tenant: str, query: SearchQuery) -> list[Hit]:
        """The hits of ``query`` (the reference semantics of `run_search`, in one pass)."""
        with self._lock:
            schema = self._ready()
            check_search_in(schema, query)
            field = schema.kind(query.kind).search_field
            assert field is not None  # check_search_in refused a kind without one
            docs = (
                doc
                for doc in self._docs[tenant, query.kind].values()
                if all(matches(cond, doc) for cond in query.where)
            )
            return run_search(query, docs, field)

    def commit(self, tenant: str, changes: ChangeSet) -> None:
        """Check every write, then apply all of ``changes`` or none."""
        with self._lock:
            self._apply(tenant, changes, self._stage(tenant, self._ready(), changes))

    def erase(
        self, tenant: str, changes: ChangeSet, events: Mapping[str, str], party_id: str | None
    ) -> None:
        """Apply ``changes``, replace event bodies and blank the party's outbox, all or nothing.

        The reference semantics of `crmkit.ports.erasure.Erasing.erase`; the
        old bodies are simply dropped.
        """
        bodies = check_erasure(changes, events, party_id)
        with self._lock:
            staged = self._stage(tenant, self._ready(), changes)
            known = {event.record.id for event in self._events[tenant]}
            known.update(record.id for record in changes.events)
            for id in bodies:
                if id not in known:
                    raise ValidationError("events", "names no stored event", id)
            # Every check passed: apply.
            self._apply(tenant, changes, staged)
            log = self._events[tenant]
            for i, event in enumerate(log):
                body = bodies.get(event.record.id)
                if body is not None:
                    log[i] = StoredEvent(event.position, attrs.evolve(event.record, body=body))
            if party_id is not None:
                box = self._outbox[tenant]
                for id, entry in box.items():
                    if entry.message.party_id == party_id:
                        message = attrs.evolve(entry.message, body=ERASED_BODY)
                        box[id] = attrs.evolve(entry, message=message)

    def outbox_of(self, tenant: str, party_id: str) -> list[OutboxEntry]:
        """Every outbox message of ``party_id``, any status, by id."""
        check_party(party_id)
        with self._lock:
            self._ready()
            return sorted(
                (e for e in self._outbox[tenant].values() if e.message.party_id == party_id),
                key=lambda entry: entry.message.id,
            )

    def _stage(
        self, tenant: str, schema: StoreSchema, changes: ChangeSet
    ) -> dict[tuple[str, str], Document | None]:
        """Check ``changes`` against the stored state; the final document of each (kind, id)."""
        check_writes(schema, changes.writes)
        staged: dict[tuple[str, str], Document | None] = {}
        for write in changes.writes:
            kind, id = (
                (write.doc.kind, write.doc.id) if isinstance(write, Put) else (write.kind, write.id)
            )
            stored = self._docs[tenant, kind]
            current = staged[kind, id] if (kind, id) in staged else stored.get(id)
            if (current.version if current else 0) != write.expected_version:
                if write.expected_version == 0:
                    raise DuplicateRecord(kind, "id")
                raise ConcurrencyConflict(kind, id, write.expected_version)
            staged[kind, id] = write.doc if isinstance(write, Put) else None
        self._check_unique(tenant, schema, staged)
        new_versions: set[tuple[str, int]] = set()
        for event in changes.events:
            mark = (event.stream_id, event.version)
            if event.version in self._versions[tenant, event.stream_id] or mark in new_versions:
                raise ConcurrencyConflict(event.stream_kind, event.stream_id, event.version - 1)
            new_versions.add(mark)
        keys = {entry.message.key for entry in self._outbox[tenant].values()}
        ids = set(self._outbox[tenant])
        for message in changes.outbox:
            if message.key in keys:
                raise DuplicateRecord("outbox", "key")
            if message.id in ids:  # a second message with an id would replace the first
                raise DuplicateRecord("outbox", "id")
            keys.add(message.key)
            ids.add(message.id)
        return staged

    def _apply(
        self, tenant: str, changes: ChangeSet, staged: dict[tuple[str, str], Document | None]
    ) -> None:
        """Write what `_stage` checked; nothing here can fail."""
        for (kind, id), doc in staged.items():
            if doc is None:
                self._docs[tenant, kind].pop(id, None)
            else:
                self._docs[tenant, kind][id] = doc
        log = self._events[tenant]
        for event in changes.events:
            log.append(StoredEvent(len(log) + 1, event))
            self._versions[tenant, event.stream_id].add(event.version)
        for message in changes.outbox:
            self._outbox[tenant][message.id] = OutboxEntry(
                message, OutboxStatus.PENDING, 0, None, None, None
            )

    def _check_unique(
        self, tenant: str, schema: StoreSchema, staged: dict[tuple[str, str], Document | None]
    ) -> None:
        for kind in {kind for kind, _ in staged}:
            unique = [field.name for field in schema.kind(kind).indexes if field.unique]
            if not unique:
                continue
            final = dict(self._docs[tenant, kind])
            for (staged_kind, id), doc in staged.items():
                if staged_kind != kind:
                    continue
                if doc is None:
                    final.pop(id, None)
                else:
                    final[id] = doc
            for name in unique:
                seen: set[object] = set()
                for doc in final.values():
                    value = doc.index.get(name)
                    if value is not None and value in seen:
                        raise DuplicateRecord(kind, name)
                    seen.add(value)

    def read_events(
        self, tenant: str, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[StoredEvent]:
        """Events after position ``after``, oldest first."""
        if limit < 1:
            raise ValidationError("limit", "must be at least 1", limit)
        with self._lock:
            self._ready()
            found = [
                event
                for event in self._events[tenant][max(after, 0) :]
                if stream_id is None or event.record.stream_id == stream_id
            ]
            return found[:limit]

    def claim_outbox(self, tenant: str, *, now: int, limit: int, lease: int) -> list[OutboxEntry]:
        """Lease pending messages whose time has come and whose lease (if any) ran out."""
        if limit < 0:  # a negative slice bound would claim all but the last few
            raise ValidationError("limit", "must not be negative", limit)
        with self._lock:
            self._ready()
            ready = sorted(
                (
                    entry
                    for entry in self._outbox[tenant].values()
                    if entry.status is OutboxStatus.PENDING
                    and entry.message.available_at <= now
                    and (entry.lease_until is None or entry.lease_until <= now)
                ),
                key=lambda entry: (entry.message.available_at, entry.message.id),
            )[:limit]
            claimed = []
            for entry in ready:
                leased = attrs.evolve(entry, attempts=entry.attempts + 1, lease_until=now + lease)
                self._outbox[tenant][entry.message.id] = leased
                claimed.append(leased)
            return claimed

    def _claimed(self, tenant: str, id: str, attempt: int) -> OutboxEntry:
        entry = self._outbox[tenant].get(id)
        if entry is None:
            raise NotFound("outbox", id)
        if entry.status is not OutboxStatus.PENDING or entry.attempts != attempt:
            raise ConcurrencyConflict("outbox", id, attempt)
        return entry

    def complete_outbox(self, tenant: str, id: str, *, attempt: int, receipt: str) -> None:
        """Mark a claimed message delivered."""
        with self._lock:
            self._ready()
            entry = self._claimed(tenant, id, attempt)
            self._outbox[tenant][id] = attrs.evolve(
                entry, status=OutboxStatus.DELIVERED, lease_until=None, receipt=receipt
            )

    def fail_outbox(
        self, tenant: str, id: str, *, attempt: int, error: str, retry_at: int | None
    ) -> None:
        """Record a failure: retry at ``retry_at``, or dead when it is None."""
        with self._lock:
            self._ready()
            entry = self._claimed(tenant, id, attempt)
            if retry_at is None:
                updated = attrs.evolve(
                    entry, status=OutboxStatus.DEAD, lease_until=None, last_error=error
                )
            else:
                message = attrs.evolve(entry.message, available_at=retry_at)
                updated = attrs.evolve(entry, message=message, lease_until=None, last_error=error)
            self._outbox[tenant][id] = updated

    def close(self) -> None:
        """Forget nothing, but refuse every later call."""
        self._closed = True
