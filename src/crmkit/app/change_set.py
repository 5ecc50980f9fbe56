"""What a unit of work writes when it commits: documents, events, timeline, audit, outbox.

`change_set` turns what a unit of work staged into one `ChangeSet`: each
changed record as a document (with its index values and idempotency key),
each event as an event record and a timeline entry, an audit entry and
payload per audited change when the CRM has an audit key, and the outbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from crmkit.activities.activity import RecordRef
from crmkit.activities.timeline import TimelineEntry
from crmkit.app.audit_records import audit_writes
from crmkit.app.records import TIMELINE, RecordType
from crmkit.audit.diff import field_diff
from crmkit.audit.entry import record_change
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps
from crmkit.kernel.time import to_micros
from crmkit.ports.storage import ChangeSet, Document, EventRecord, OutboxMessage, Put

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["IDEMPOTENCY_KEY", "change_set"]

IDEMPOTENCY_KEY: Final = "idempotency_key"
"""The unique index field that holds the key a create command was called with."""

Key = tuple[str, str]


def change_set(
    crm: Crm,
    principal: Principal,
    dirty: Mapping[Key, tuple[RecordType[Any], Any]],
    loaded: Mapping[Key, int],
    keys: Mapping[Key, str],
    read: Mapping[Key, Any],
    events: Sequence[tuple[DomainEvent, tuple[str, ...]]],
    outbox: Sequence[OutboxMessage],
) -> ChangeSet:
    """Everything a unit of work staged, as one atomic `ChangeSet`.

    ``dirty`` holds the changed records, ``loaded`` the version each was read
    at (0 for new ones), ``keys`` their idempotency keys, ``read`` each as it
    was read (the audit trail diffs against it), and ``events`` the events
    raised, each with the ids whose timelines show it.
    """
    conv = crm.converter
    writes = []
    for key, (rtype, obj) in dirty.items():
        index = crm.index(rtype, obj)
        if key in keys:
            index[IDEMPOTENCY_KEY] = keys[key]
        body = dumps(conv.unstructure(obj))
        writes.append(Put(Document(rtype.kind, obj.id, obj.version, body, index), loaded[key]))
    records = []
    for event, subjects in events:
        kind = event.stream_kind()
        records.append(
            EventRecord(
                crm.ids(),
                kind,
                event.aggregate_id,
                event.version,
                event.event_type,
                event.schema_version,
                to_micros(event.occurred_at),
                dumps(conv.unstructure(event)),
            )
        )
        entry = TimelineEntry(
            crm.ids(),
            event.occurred_at,
            subjects,
            event.event_type,
            RecordRef(kind, event.aggregate_id),
            event.summary(),
            event.actor,
        )
        body = dumps(conv.unstructure(entry))
        writes.append(Put(Document(TIMELINE.kind, entry.id, 1, body, TIMELINE.index(entry)), 0))
    writes.extend(_audit(crm, principal, dirty, read, events))
    return ChangeSet(tuple(writes), tuple(records), tuple(outbox))


def _audit(
    crm: Crm,
    principal: Principal,
    dirty: Mapping[Key, tuple[RecordType[Any], Any]],
    read: Mapping[Key, Any],
    events: Sequence[tuple[DomainEvent, tuple[str, ...]]],
) -> Iterator[Put]:
    """An audit entry and its payload for every audited record the unit changed."""
    key = crm.audit_key
    if key is None:
        return
    commands: dict[Key, str] = {}
    for event, _ in reversed(events):  # the first event on a record names the command
        commands[(event.stream_kind(), event.aggregate_id)] = event.event_type
    at = crm.clock.now()
    for (kind, id), (rtype, obj) in dirty.items():
        if not rtype.audited:
            continue
        changes = field_diff(read.get((kind, id)), obj, converter=crm.converter)
        if not changes:
            continue
        entry, payload = record_change(
            crm.ids(), at, principal, commands.get((kind, id), "save"),
            kind, id, obj.version, changes, key,
        )  # fmt: skip
        yield from audit_writes(entry, payload, crm.converter)
