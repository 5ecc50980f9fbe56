"""Privacy: the consent ledger, subject-access export, erasure and retention.

``crm.privacy`` acts on everything crmkit holds about one person:

* `Privacy.consent_ledger`: every consent the contact gave or withdrew;
* `Privacy.export`: a subject-access export, every record about the contact
  as JSON-ready data (the contact, its audience record and segment profile,
  leads, activities, complaints, cases, quotes, campaign memberships, the
  deals it took part in, its timeline, the messages sent to it and the audit
  trail of those records with the values changed);
* `Privacy.erase`: erasure across every store. Each record's personal fields
  are blanked (`crmkit.kernel.personal.redacted`) and a `PersonalDataErased`
  event appended to its stream; the personal fields of every stored event of
  those records are blanked too; timeline entries about the contact lose
  their summaries; messages to it lose their bodies (and are never sent);
  the audit payloads of those records are deleted and an erasure entry
  appended, so the audit chain still verifies. All in one transaction, after
  which SQLite overwrites the freed bytes and truncates its WAL;
* `Privacy.retain`: the retention job, erasing leads untouched for a while.

Deals and accounts are business records: they stay, only their link to the
person's erased data goes. Erasure needs a store with the `Erasing`
capability (crmkit's memory, SQLite and PostgreSQL stores have it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from crmkit.activities.timeline import TimelineEntry
from crmkit.app.audit_records import AUDIT, AUDIT_PAYLOADS, AUDIT_PENDING, record_doc
from crmkit.app.marketing_records import AUDIENCES, MEMBERS, PROFILES
from crmkit.app.paging import decode
from crmkit.app.record_type import RecordType
from crmkit.app.records import (
    ACTIVITIES,
    CASES,
    COMPLAINTS,
    CONTACTS,
    LEADS,
    MERGES,
    OPPORTUNITIES,
    QUOTES,
    TIMELINE,
)
from crmkit.audit.entry import record_erasure
from crmkit.kernel.errors import NotFound, PermissionDenied, StorageError, ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.personal import PersonalDataErased, redacted
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import to_micros
from crmkit.parties.consent import ConsentRecord
from crmkit.ports.access import Action
from crmkit.ports.erasure import Erasing
from crmkit.ports.query import Condition, Eq, Keyset, Query, Range
from crmkit.ports.storage import ChangeSet, Delete, Document, EventRecord, Put, Write

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["Erasure", "Privacy"]

_PAGE = 500
# Records that are about the person, found by an index field holding the contact's id.
_ABOUT: tuple[tuple[RecordType[Any], str], ...] = (
    (AUDIENCES, "contact_id"),
    (LEADS, "contact_id"),
    (ACTIVITIES, "links"),
    (MEMBERS, "contact_id"),
    (COMPLAINTS, "contact_id"),
    (CASES, "contact_id"),
    (QUOTES, "contact_id"),
)


@attrs.frozen
class Erasure:
    """What `Privacy.erase` or `Privacy.retain` erased.

    Attributes:
        records: ``(kind, id)`` of each record whose personal data was blanked.
        events: Stored events whose personal fields were blanked.
        timeline: Timeline entries whose summaries were blanked.
        audit_payloads: Audit payloads deleted.
    """

    records: tuple[tuple[str, str], ...]
    events: int
    timeline: int
    audit_payloads: int


class Privacy:
    """The consent ledger, export, erasure and retention of a CRM (``crm.privacy``)."""

    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    # --- reading -------------------------------------------------------------------------

    def _require(self, principal: Principal, action: Action, kind: str, doc: Document) -> None:
        if not isinstance(principal, Principal):
            raise ValidationError("principal", "must be a Principal", principal)
        if not self._crm.access.can(principal, kind, action, doc.index):
            raise PermissionDenied(f"{principal.id} may not {action.value} {kind} {doc.id}")

    def _doc(self, rtype: RecordType[Any], id: str) -> Document:
        doc = self._crm.store.get(self._crm.tenant, rtype.kind, check_id(id, "contact_id"))
        if doc is None:
            raise NotFound(rtype.kind, id)
        return doc

    def _find(self, rtype: RecordType[Any], where: tuple[Condition, ...]) -> Iterator[Document]:
        crm, after = self._crm, None
        while True:
            docs = crm.store.query(crm.tenant, Query(rtype.kind, where, (), _PAGE, after))
            yield from docs
            if len(docs) < _PAGE:
                return
            after = Keyset((), docs[-1].id)

    def _records(self, contact_doc: Document) -> Iterator[tuple[RecordType[Any], Document]]:
        """Every record about the contact: the contact, then the records that point at it."""
        yield CONTACTS, contact_doc
        seen = {(CONTACTS.kind, contact_doc.id)}
        for rtype, field in _ABOUT:
            for doc in self._find(rtype, (Eq(field, contact_doc.id),)):
                if (rtype.kind, doc.id) not in seen:
                    seen.add((rtype.kind, doc.id))
                    yield rtype, doc
        for field in ("survivor_id", "duplicate_ids"):  # merges keep a snapshot of the survivor
            for doc in self._find(MERGES, (Eq(field, contact_doc.id),)):
                if (MERGES.kind, doc.id) not in seen:
                    seen.add((MERGES.kind, doc.id))
                    yield MERGES, doc
        profile = self._crm.store.get(self._crm.tenant, PROFILES.kind, contact_doc.id)
        if profile is not None:
            yield PROFILES, profile

    def consent_ledger(self, principal: Principal, contact_id: str) -> tuple[ConsentRecord, ...]:
        """Every consent the contact gave or withdrew, oldest first."""
        doc = self._doc(CONTACTS, contact_id)
        self._require(principal, Action.READ, CONTACTS.kind, doc)
        contact = decode(self._crm.loaders, CONTACTS, doc)
        return tuple(sorted(contact.consent, key=lambda record: record.at))

    def export(self, principal: Principal, contact_id: str) -> dict[str, Any]:
        """A subject-access export: every piece of data about the contact, as JSON-ready data."""
        crm = self._crm
        contact_doc = self._doc(CONTACTS, contact_id)
        self._require(principal, Action.EXPORT, CONTACTS.kind, contact_doc)
        out: dict[str, Any] = {"contact_id": contact_doc.id, "records": {}}
        records: dict[str, list[Any]] = out["records"]
        ids = []
        for rtype, doc in self._records(contact_doc):
            records.setdefault(rtype.kind, []).append(_json(crm, rtype, doc))
            ids.append(doc.id)
        records[OPPORTUNITIES.kind] = [
            _json(crm, OPPORTUNITIES, doc)
            for doc in self._find(OPPORTUNITIES, (Eq("contact_ids", contact_doc.id),))
        ]
        out["timeline"] = [
            _json(crm, TIMELINE, doc)
            for doc in self._find(TIMELINE, (Eq("subjects", contact_doc.id),))
        ]
        out["messages"] = [
            {"id": e.message.id, "channel": e.message.channel, "purpose": e.message.purpose,
             "status": e.status.value, "body": e.message.body}
            for e in self._erasing().outbox_of(crm.tenant, contact_doc.id)
        ]  # fmt: skip
        out["audit"] = [
            {
                **crm.converter.unstructure(decode(crm.loaders, AUDIT, doc)),
                "payload": _payload(crm, doc.id),
            }
            for id in dict.fromkeys(ids)  # a segment profile shares its contact's id
            for doc in self._find(AUDIT, (Eq("record_id", id),))
        ]
        return out

    # --- erasing -------------------------------------------------------------------------

    def _erasing(self) -> Erasing:
        store = self._crm.store
        if not isinstance(store, Erasing):
            raise StorageError(
                f"{type(store).__name__} cannot erase: it lacks the Erasing capability"
            )
        return store

    def erase(
        self, principal: Principal, contact_id: str, *, reason: str = "subject request"
    ) -> Erasure:
        """Erase the contact's personal data from every store (see the module docs)."""
        contact_doc = self._doc(CONTACTS, contact_id)
        self._require(principal, Action.ERASE, CONTACTS.kind, contact_doc)
        return self._erase(principal, list(self._records(contact_doc)), contact_doc.id, reason)

    def retain(
        self, principal: Principal, *, inactive_for: timedelta, reason: str = "retention"
    ) -> Erasure:
        """Erase the personal data of leads unchanged for ``inactive_for`` and never converted.

        The host schedules it (for example monthly with 18 months). Leads already
        erased are skipped.
        """
        if not isinstance(inactive_for, timedelta) or inactive_for <= timedelta(0):
            raise ValidationError("inactive_for", "must be a positive timedelta", inactive_for)
        cutoff = to_micros(self._crm.clock.now() - inactive_for)
        stale = [
            (LEADS, doc)
            for doc in self._find(LEADS, (Range("updated_at", lt=cutoff),))
            if doc.index.get("status") != "converted"
            and self._crm.access.can(principal, LEADS.kind, Action.ERASE, doc.index)
        ]
        return self._erase(principal, stale, None, reason)

    def _erase(
        self,
        principal: Principal,
        found: list[tuple[RecordType[Any], Document]],
        party_id: str | None,
        reason: str,
    ) -> Erasure:
        crm = self._crm
        why = clean_line(reason, "reason", max_len=200)
        now = crm.clock.now()
        writes: list[Write] = []
        new_events: list[EventRecord] = []
        bodies: dict[str, str] = {}
        erased: list[tuple[str, str]] = []
        for rtype, doc in found:
            if rtype is PROFILES:  # a read model: rebuilt if ever needed, so just dropped
                writes.append(Delete(rtype.kind, doc.id, doc.version))
                erased.append((rtype.kind, doc.id))
                continue
            bodies.update(self._redacted_events(doc.id))
            obj = decode(crm.loaders, rtype, doc)
            blank = redacted(obj)
            if blank == obj:
                continue
            event = PersonalDataErased(
                aggregate_id=doc.id, version=doc.version + 1, occurred_at=now,
                actor=principal.id, kind=rtype.kind, reason=why,
            )  # fmt: skip
            writes.append(_put(crm, rtype, blank._evolve(version=event.version), doc.version))
            new_events.append(_record(crm, rtype.kind, event))
            erased.append((rtype.kind, doc.id))
        timeline = self._blank_timeline([id for _, id in erased], writes)
        payloads = self._drop_payloads(principal, erased, writes, now)
        self._erasing().erase(
            crm.tenant, ChangeSet(tuple(writes), tuple(new_events)), bodies, party_id
        )
        return Erasure(tuple(erased), len(bodies), timeline, payloads)

    def _redacted_events(self, stream_id: str) -> dict[str, str]:
        crm, out, after = self._crm, {}, 0
        while True:
            stored = crm.store.read_events(crm.tenant, after=after, limit=1000, stream_id=stream_id)
            for item in stored:
                event = crm.decode_event(item)
                blank = redacted(event)
                if blank != event:
                    out[item.record.id] = dumps(crm.converter.unstructure(blank))
                after = item.position
            if len(stored) < 1000:
                return out

    def _blank_timeline(self, ids: list[str], writes: list[Write]) -> int:
        crm, count, seen = self._crm, 0, set()
        for id in ids:
            for doc in self._find(TIMELINE, (Eq("subjects", id),)):
                if doc.id in seen:
                    continue
                seen.add(doc.id)
                entry: TimelineEntry = decode(crm.loaders, TIMELINE, doc)
                blank = attrs.evolve(entry, summary=entry.event_type.replace("_", " "))
                body = dumps(crm.converter.unstructure(blank))
                writes.append(
                    Put(
                        Document(TIMELINE.kind, doc.id, doc.version + 1, body, doc.index),
                        doc.version,
                    )
                )
                count += 1
        return count

    def _drop_payloads(
        self,
        principal: Principal,
        erased: list[tuple[str, str]],
        writes: list[Write],
        now: datetime,
    ) -> int:
        """Delete the audit payloads of the erased records; one erasure entry names them."""
        crm, dropped = self._crm, []
        for id in dict.fromkeys(id for _, id in erased):  # a profile shares its contact's id
            for rtype in (AUDIT, AUDIT_PENDING):  # sealed entries, and those not sealed yet
                for doc in self._find(rtype, (Eq("record_id", id),)):
                    payload = crm.store.get(crm.tenant, AUDIT_PAYLOADS.kind, doc.id)
                    if payload is not None and payload.id not in dropped:
                        writes.append(Delete(AUDIT_PAYLOADS.kind, payload.id, payload.version))
                        dropped.append(payload.id)
        if dropped:
            kind, id = erased[0]
            entry = record_erasure(
                crm.ids(), now, principal, dropped, record_kind=kind, record_id=id
            )
            writes.append(
                record_doc(AUDIT_PENDING, entry.id, entry, dumps(crm.converter.unstructure(entry)))
            )
        return len(dropped)


def _put(crm: Crm, rtype: RecordType[Any], obj: Any, expected: int) -> Put:
    body = dumps(crm.converter.unstructure(obj))
    return Put(Document(rtype.kind, obj.id, obj.version, body, crm.index(rtype, obj)), expected)


def _record(crm: Crm, kind: str, event: PersonalDataErased) -> EventRecord:
    body = dumps(crm.converter.unstructure(event))
    at = to_micros(event.occurred_at)
    return EventRecord(
        crm.ids(), kind, event.aggregate_id, event.version, event.event_type,
        event.schema_version, at, body,
    )  # fmt: skip


def _json(crm: Crm, rtype: RecordType[Any], doc: Document) -> Any:
    return crm.converter.unstructure(decode(crm.loaders, rtype, doc))


def _payload(crm: Crm, entry_id: str) -> str | None:
    doc = crm.store.get(crm.tenant, AUDIT_PAYLOADS.kind, entry_id)
    return None if doc is None else decode(crm.loaders, AUDIT_PAYLOADS, doc).body
