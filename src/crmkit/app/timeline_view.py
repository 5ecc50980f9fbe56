"""The timeline of one record as one principal may see it.

`Crm.timeline` reads a record's timeline entries newest first, a keyset page
at a time. Under an access policy it first checks that the principal may read
the record itself (`PermissionDenied` otherwise), then leaves out entries about
records the principal may not read, in the store where it can: entries whose
source kind is out of reach are filtered by the query; for kinds the
principal sees only in part (their own, their team's) each entry's source
record is checked. Pages stay full: the reader keeps reading until the page
holds ``limit`` entries or the timeline ends. An entry about a record with
fields hidden from the principal keeps its place with a neutral summary (the
event type in words), since summaries may name amounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from crmkit.activities.timeline import TimelineEntry
from crmkit.app.guard import Guard
from crmkit.app.paging import MAX_PAGE, Page, decode
from crmkit.app.records import MERGES, RECORD_TYPES, TIMELINE
from crmkit.kernel.errors import NotFound, PermissionDenied, ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.principal import Principal
from crmkit.ports.access import Action
from crmkit.ports.query import Condition, Eq, In, Order, Query, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["timeline_page"]

_KINDS = tuple(t.kind for t in RECORD_TYPES if t.kind != TIMELINE.kind)
_NEWEST_FIRST = (Order("occurred_at", descending=True),)


def timeline_page(
    crm: Crm, record_id: str, principal: Principal, limit: int, cursor: str | None
) -> Page[TimelineEntry]:
    """One page of ``record_id``'s timeline for ``principal`` (see the module docs)."""
    check_id(record_id, "record_id")
    if not isinstance(principal, Principal):
        raise ValidationError("principal", "must be a Principal", principal)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be 1 to {MAX_PAGE}", limit)
    guard = Guard(crm.access, principal)
    if guard.checking:
        _require_subject(crm, guard, record_id)
    merges = crm.store.query(
        crm.tenant,
        Query(MERGES.kind, (Eq("survivor_id", record_id), Eq("status", "done")), limit=1000),
    )
    merged = [id for doc in merges for id in decode(crm.loaders, MERGES, doc).duplicate_ids]
    where: tuple[Condition, ...] = (
        In("subjects", (record_id, *merged)) if merged else Eq("subjects", record_id),
    )
    if guard.checking:
        where += (In("source_kind", _readable_kinds(guard)),)
    return _Reader(crm, guard).page(where, limit, cursor)


def _readable_kinds(guard: Guard) -> tuple[str, ...]:
    return tuple(
        kind
        for kind in _KINDS
        if not guard.policy.scope(guard.principal, kind, Action.READ).is_nothing
    )


def _require_subject(crm: Crm, guard: Guard, record_id: str) -> None:
    """The principal must be allowed to read the record whose timeline it asks for."""
    for kind in _KINDS:
        doc = crm.store.get(crm.tenant, kind, record_id)
        if doc is not None:
            if not guard.policy.can(guard.principal, kind, Action.READ, doc.index):
                raise PermissionDenied(f"{guard.principal.id} may not read {kind} {record_id}")
            return
    raise NotFound("record", record_id)


class _Reader:
    """Reads pages of entries, keeping those the principal may see, until a page is full."""

    def __init__(self, crm: Crm, guard: Guard) -> None:
        self._crm = crm
        self._guard = guard
        self._seen: dict[tuple[str, str], bool] = {}

    def page(
        self, where: tuple[Condition, ...], limit: int, cursor: str | None
    ) -> Page[TimelineEntry]:
        crm = self._crm
        query = Query(TIMELINE.kind, where, _NEWEST_FIRST, limit + 1)
        if cursor is not None:
            query = attrs.evolve(query, after=decode_cursor(query, cursor))
        shown: list[TimelineEntry] = []
        last = None
        while True:
            docs = crm.store.query(crm.tenant, query)
            for doc in docs[:limit]:
                entry = self._visible(decode(crm.loaders, TIMELINE, doc))
                if entry is None:
                    continue
                if len(shown) == limit:  # one more to show: the page is full and has a next
                    assert last is not None
                    return Page(tuple(shown), encode_cursor(query, last))
                shown.append(entry)
                last = doc
            if len(docs) <= limit:
                return Page(tuple(shown), None)
            query = attrs.evolve(
                query, after=decode_cursor(query, encode_cursor(query, docs[limit - 1]))
            )

    def _visible(self, entry: TimelineEntry) -> TimelineEntry | None:
        guard = self._guard
        if not guard.checking:
            return entry
        kind, id = entry.record.kind, entry.record.id
        scope = guard.policy.scope(guard.principal, kind, Action.READ)
        if not scope.is_everything:
            key = (kind, id)
            if key not in self._seen:
                doc = self._crm.store.get(self._crm.tenant, kind, id)
                self._seen[key] = doc is not None and scope.allows(doc.index, id)
            if not self._seen[key]:
                return None
        if guard.policy.hidden_fields(guard.principal, kind):
            return attrs.evolve(entry, summary=entry.event_type.replace("_", " "))
        return entry
