"""How the audit trail is stored: pending entries, the sealed chain, and the payloads.

See `crmkit.app.audit_trail` for how they are written, sealed and verified.
"""

from __future__ import annotations

from typing import Any

from crmkit.app.record_type import INT, TEXT, RecordType
from crmkit.audit.chain import SealedEntry
from crmkit.audit.entry import AuditEntry, AuditPayload
from crmkit.kernel.serialization import dumps
from crmkit.kernel.time import to_micros
from crmkit.ports.storage import Document, IndexField, Put

AUDIT_PENDING: RecordType[AuditEntry] = RecordType(
    "audit_pending",
    AuditEntry,
    (
        (IndexField("at", INT), lambda e: to_micros(e.at)),
        (IndexField("record_id", TEXT), lambda e: e.record_id),
    ),
    idempotent=False,
)
"""Audit entries written by units of work and not yet sealed, indexed by time and record."""

AUDIT: RecordType[SealedEntry] = RecordType(
    "audit",
    SealedEntry,
    (
        (IndexField("sequence", INT, unique=True), lambda s: s.sequence),
        (IndexField("at", INT), lambda s: to_micros(s.entry.at)),
        (IndexField("principal_id", TEXT), lambda s: s.entry.principal_id),
        (IndexField("record_kind", TEXT), lambda s: s.entry.record_kind),
        (IndexField("record_id", TEXT), lambda s: s.entry.record_id),
        (IndexField("entry_kind", TEXT), lambda s: s.entry.kind.value),
    ),
    idempotent=False,
)
"""The sealed chain, indexed by sequence (unique), time, principal, record and entry kind."""

AUDIT_PAYLOADS: RecordType[AuditPayload] = RecordType(
    "audit_payload", AuditPayload, (), idempotent=False
)
"""The personal part of each audit entry (its id is the entry's id); erasure deletes it."""

AUDIT_RECORD_TYPES: tuple[RecordType[Any], ...] = (AUDIT_PENDING, AUDIT, AUDIT_PAYLOADS)
"""The audit trail's kinds."""


def record_doc(rtype: RecordType[Any], id: str, obj: object, body: str) -> Put:
    """A new document of ``rtype`` holding ``obj`` (JSON ``body``), with its index."""
    return Put(Document(rtype.kind, id, 1, body, rtype.index(obj)), 0)


def audit_writes(entry: AuditEntry, payload: AuditPayload, converter: Any) -> tuple[Put, Put]:
    """The two documents a unit of work writes for one audited change."""
    return (
        record_doc(AUDIT_PENDING, entry.id, entry, dumps(converter.unstructure(entry))),
        record_doc(
            AUDIT_PAYLOADS, payload.entry_id, payload, dumps(converter.unstructure(payload))
        ),
    )
