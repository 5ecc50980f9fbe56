"""Copy everything one store holds into another: moving from SQLite to PostgreSQL.

`copy_store` reads through the storage port only, so it works between any two
adapters. It streams with bounded memory: documents kind by kind in keyset
pages by id, events in position order, and the outbox's pending messages.

>>> from crmkit.adapters.memory import MemoryStore
>>> report = copy_store(MemoryStore(), MemoryStore())
>>> report.documents["contact"], report.events, report.messages
(0, 0, 0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import attrs

from crmkit.app.records import schema as crm_schema
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import DEFAULT_TENANT
from crmkit.ports.query import Keyset, Query
from crmkit.ports.storage import ChangeSet, DocumentStore, Put, StoreSchema

_FOREVER: Final = 2**62
"""A claim at this time takes every pending message, even one scheduled for a retry."""


@attrs.frozen
class CopyReport:
    """What `copy_store` copied.

    Attributes:
        documents: Documents copied, by kind.
        events: Events copied.
        messages: Pending outbox messages moved.
    """

    documents: dict[str, int]
    events: int
    messages: int


def copy_store(
    source: DocumentStore,
    target: DocumentStore,
    *,
    schema: StoreSchema | None = None,
    tenants: Iterable[str] = (DEFAULT_TENANT,),
    page: int = 1000,
    progress: Callable[[str, int], object] | None = None,
) -> CopyReport:
    """Copy every document, event and pending outbox message of ``tenants`` into ``target``.

    Opens both stores with ``schema`` (crmkit's own by default; opening a store
    again is harmless) and commits one page at a time. Documents keep their
    ids, versions, bodies and index values; events keep their order (their
    positions are the target's own). Stop every writer and dispatcher first:

    * the target should be empty: an id, event version or outbox key it holds
      already raises `DuplicateRecord` or `ConcurrencyConflict`;
    * pending messages are *moved*: the copy claims them in the source with a
      lease that never ends, so a dispatcher still pointed at the source cannot
      send them again, and queues them in the target with zero attempts.
      Delivered and dead messages are not copied (the port offers no way to
      read them).

    ``progress``, if given, is called after each page with what was copied
    (a kind, ``events`` or ``outbox``) and how many so far.
    """
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 10_000:
        raise ValidationError("page", "must be an integer from 1 to 10000", page)
    schema = schema or crm_schema()
    source.open(schema)
    target.open(schema)
    documents = {spec.kind: 0 for spec in schema.kinds}
    events = messages = 0

    def report(what: str, count: int) -> None:
        if progress is not None:
            progress(what, count)

    for tenant in tenants:
        for spec in schema.kinds:
            after: Keyset | None = None
            while docs := source.query(tenant, Query(spec.kind, limit=page, after=after)):
                target.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                documents[spec.kind] += len(docs)
                report(spec.kind, documents[spec.kind])
                after = Keyset((), docs[-1].id)
        position = 0
        while stored := source.read_events(tenant, after=position, limit=page):
            target.commit(tenant, ChangeSet(events=tuple(event.record for event in stored)))
            events += len(stored)
            report("events", events)
            position = stored[-1].position
        lease = 2**63 - 1 - _FOREVER  # the lease ends at the largest time a store can hold
        while claimed := source.claim_outbox(tenant, now=_FOREVER, limit=page, lease=lease):
            target.commit(tenant, ChangeSet(outbox=tuple(entry.message for entry in claimed)))
            messages += len(claimed)
            report("outbox", messages)
    return CopyReport(documents, events, messages)
