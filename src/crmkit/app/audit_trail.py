"""The audit trail on the store: written by every unit of work, sealed by one writer.

With an `AuditKey` (``Crm(audit_key=...)``), each unit of work writes, in
the same commit as the change, one `AuditEntry` per record it created or
changed: who, when, through which command (the first event it raised on the
record), and the names of the fields that changed. The values before and
after, which may be personal, go in a separate `AuditPayload` that the
entry holds only an HMAC digest of. Read models (timeline, segment
profiles, campaign credits) are not audited: they follow from audited records.

`AuditTrail.seal` (``crm.audit.seal()``, run by the host on a schedule, one
sealer at a time) links the pending entries into the SHA-256 hash chain in
time order. Sealing in one writer keeps units of work from contending for the
chain's head. `AuditTrail.verify` checks the whole chain and every payload in
one pass; `AuditTrail.trail` pages through it by record, principal and time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from crmkit.app.audit_records import AUDIT, AUDIT_PAYLOADS, AUDIT_PENDING, record_doc
from crmkit.app.paging import Page, decode, find_page
from crmkit.app.record_type import RecordType
from crmkit.audit.chain import SealedEntry, VerifyReport, seal, verify
from crmkit.audit.diff import Change
from crmkit.kernel.errors import PermissionDenied, StorageError, ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps
from crmkit.kernel.time import require_aware, to_micros
from crmkit.ports.access import Action
from crmkit.ports.query import Condition, Eq, Order, Query, Range
from crmkit.ports.storage import ChangeSet, Delete, Document, Put

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["AuditTrail"]

_PENDING_ORDER: Final = (Order("at"),)


class AuditTrail:
    """Seal, verify and read a CRM's audit trail (``crm.audit``)."""

    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    def _require(self, principal: Principal, action: Action) -> None:
        if not isinstance(principal, Principal):
            raise ValidationError("principal", "must be a Principal", principal)
        policy = self._crm.access
        if policy.scope(principal, AUDIT.kind, action).is_nothing:
            raise PermissionDenied(f"{principal.id} may not {action.value} the audit trail")

    def _query(
        self,
        rtype: RecordType[Any],
        where: tuple[Condition, ...],
        order: tuple[Order, ...],
        limit: int,
    ) -> list[Document]:
        return self._crm.store.query(self._crm.tenant, Query(rtype.kind, where, order, limit))

    def _head(self) -> SealedEntry | None:
        docs = self._query(AUDIT, (), (Order("sequence", descending=True),), 1)
        return decode(self._crm.loaders, AUDIT, docs[0]) if docs else None

    def seal(self, *, batch: int = 1000) -> int:
        """Seal every pending entry, oldest first, ``batch`` per commit; the number sealed.

        Run one sealer at a time (a scheduled job): a second one racing it
        fails on the chain's unique sequence and changes nothing.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
            raise ValidationError("batch", "must be 1 to 10000", batch)
        crm, done = self._crm, 0
        while True:
            docs = self._query(AUDIT_PENDING, (), _PENDING_ORDER, batch)
            if not docs:
                return done
            pending = [decode(crm.loaders, AUDIT_PENDING, doc) for doc in docs]
            sealed = seal(self._head(), pending)
            writes: list[Put | Delete] = [
                record_doc(AUDIT, s.entry.id, s, dumps(crm.converter.unstructure(s)))
                for s in sealed
            ]
            writes += [Delete(AUDIT_PENDING.kind, doc.id, doc.version) for doc in docs]
            crm.store.commit(crm.tenant, ChangeSet(tuple(writes)))
            done += len(sealed)

    def sealed(self, *, batch: int = 1000) -> Iterator[SealedEntry]:
        """The chain, oldest first, read ``batch`` at a time."""
        after = 0
        while True:
            where = (Range("sequence", gt=after),) if after else ()
            docs = self._query(AUDIT, where, (Order("sequence"),), batch)
            for doc in docs:
                entry = decode(self._crm.loaders, AUDIT, doc)
                after = entry.sequence
                yield entry
            if len(docs) < batch:
                return

    def _payload(self, entry_id: str) -> str | None:
        doc = self._crm.store.get(self._crm.tenant, AUDIT_PAYLOADS.kind, entry_id)
        return None if doc is None else decode(self._crm.loaders, AUDIT_PAYLOADS, doc).body

    def verify(self, principal: Principal) -> VerifyReport:
        """Check the sealed chain and every payload (`crmkit.audit.chain.verify`)."""
        self._require(principal, Action.READ)
        return verify(self.sealed(), self._payload, self._crm.audit_keys)

    def trail(
        self,
        principal: Principal,
        *,
        record_id: str | None = None,
        principal_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[SealedEntry]:
        """Sealed entries, newest first, by record, by principal and within ``[since, until)``."""
        self._require(principal, Action.READ)
        where: list[Condition] = []
        if record_id is not None:
            where.append(Eq("record_id", check_id(record_id, "record_id")))
        if principal_id is not None:
            where.append(Eq("principal_id", check_id(principal_id, "principal_id")))
        if since is not None or until is not None:
            low = None if since is None else to_micros(require_aware(since, "since"))
            high = None if until is None else to_micros(require_aware(until, "until"))
            where.append(Range("at", gte=low, lt=high))
        crm = self._crm
        return find_page(
            lambda query: crm.store.query(crm.tenant, query),
            lambda doc: decode(crm.loaders, AUDIT, doc),
            AUDIT.kind,
            tuple(where),
            (Order("at", descending=True),),
            limit,
            cursor,
        )

    def changes(self, principal: Principal, entry_id: str) -> tuple[Change, ...] | None:
        """What an entry changed, values included (personal data); None once erased."""
        self._require(principal, Action.READ)
        body = self._payload(check_id(entry_id, "entry_id"))
        if body is None:
            return None
        try:
            return tuple(Change(**item) for item in json.loads(body))
        except (ValueError, TypeError):
            raise StorageError(f"audit payload {entry_id!r} cannot be read") from None
