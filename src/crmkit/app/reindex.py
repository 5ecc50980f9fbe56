"""Rebuilding index values of stored records, and migrating the host's custom field specs.

Index values are derived from a record on every save. When the derivation
changes (a custom field becomes indexed, or a newer crmkit indexes a field
that older stores left empty), records saved earlier hold no value for it
until `reindex` rewrites their index values from their bodies.

`reindex` works through the storage port alone, so it runs on every adapter:
each record is rewritten in place, at the version it was read at, by a
`Delete` and a `Put` in one change set. A record that a unit of work changed in
the meantime fails the batch's version check; the batch is read again and
retried, and the writer has already written fresh index values anyway. Bodies,
versions and events stay as they were.

`migrate_custom_fields` moves a store from the custom field specs it was last
migrated to (kept in the store) to the CRM's own: it refuses changes that
would lose stored values (`crmkit.extension.custom_migration.plan_migration`),
backfills the index of fields that became indexed, and records the new specs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import attrs

from crmkit.app.change_set import IDEMPOTENCY_KEY
from crmkit.app.custom_records import CUSTOM_SPECS, SPECS_ID, CustomSpecs
from crmkit.app.customising import MIRRORED
from crmkit.app.paging import decode
from crmkit.app.record_type import RecordType
from crmkit.extension.custom_fields import CustomFields
from crmkit.extension.custom_migration import Migration, dump_specs, load_specs, plan_migration
from crmkit.kernel.errors import ConcurrencyConflict, StorageError, ValidationError
from crmkit.kernel.serialization import dumps
from crmkit.ports.query import Keyset, Query
from crmkit.ports.storage import ChangeSet, Delete, Document, Put

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["MigrationReport", "ReindexReport", "migrate_custom_fields", "reindex"]

_RETRIES: Final = 5
"""How often a batch is read again after a concurrent write before giving up."""

Progress = Callable[[str, int], object]


@attrs.frozen
class ReindexReport:
    """What `reindex` did, by kind.

    Attributes:
        read: Records read.
        rewritten: Records whose index values changed and were rewritten.
    """

    read: dict[str, int]
    rewritten: dict[str, int]


@attrs.frozen
class MigrationReport:
    """What `migrate_custom_fields` did.

    Attributes:
        plan: The changes from the stored specs to the CRM's (empty for a first run on
            a store that holds no specs yet: every indexed field is backfilled then).
        reindex: The backfill of the kinds whose index changed.
    """

    plan: Migration
    reindex: ReindexReport


def reindex(
    crm: Crm,
    kinds: Iterable[str] | None = None,
    *,
    batch: int = 500,
    progress: Progress | None = None,
) -> ReindexReport:
    """Rewrite the index values of every record of ``kinds`` (default: every kind).

    Reads ``batch`` records at a time and commits each batch on its own, so
    memory stays bounded; ``progress(kind, read so far)`` is called after each.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
        raise ValidationError("batch", "must be an integer from 1 to 10000", batch)
    by_kind = {rtype.kind: rtype for rtype in crm.record_types}
    wanted = list(by_kind) if kinds is None else list(kinds)
    for kind in wanted:
        if kind not in by_kind:
            raise ValidationError("kinds", "names a kind crmkit does not store", kind)
    read: dict[str, int] = {}
    rewritten: dict[str, int] = {}
    for kind in wanted:
        read[kind] = rewritten[kind] = 0
        after: Keyset | None = None
        while True:
            docs, changed = _batch(crm, by_kind[kind], after, batch)
            if not docs:
                break
            read[kind] += len(docs)
            rewritten[kind] += changed
            after = Keyset((), docs[-1].id)
            if progress is not None:
                progress(kind, read[kind])
    return ReindexReport(read, rewritten)


def _batch(
    crm: Crm, rtype: RecordType[Any], after: Keyset | None, size: int
) -> tuple[list[Document], int]:
    """Read one batch and rewrite the records whose index changed; retried on conflicts."""
    for _ in range(_RETRIES):
        docs = crm.store.query(crm.tenant, Query(rtype.kind, limit=size, after=after))
        writes: list[Delete | Put] = []
        for doc in docs:
            index = crm.index(rtype, decode(crm.loaders, rtype, doc))
            key = doc.index.get(IDEMPOTENCY_KEY)  # what the record cannot say: its create key
            if key is not None:
                index[IDEMPOTENCY_KEY] = key
            if _plain(index) != _plain(doc.index):
                writes.append(Delete(doc.kind, doc.id, doc.version))
                writes.append(Put(attrs.evolve(doc, index=index), 0))
        try:
            if writes:
                crm.store.commit(crm.tenant, ChangeSet(tuple(writes)))
        except ConcurrencyConflict:
            continue
        return docs, len(writes) // 2
    raise StorageError(f"{rtype.kind} records kept changing while they were reindexed: try again")


def _plain(index: Any) -> dict[str, Any]:
    """Index values comparable whatever sequence type a store returns multi values in."""
    return {
        name: tuple(value) if isinstance(value, list | tuple) else value
        for name, value in dict(index).items()
        if value is not None and value != ()
    }


def stored_specs(crm: Crm) -> CustomFields | None:
    """The custom field specs the store was last migrated to, or None if never."""
    doc = crm.store.get(crm.tenant, CUSTOM_SPECS.kind, SPECS_ID)
    if doc is None:
        return None
    record = decode(crm.loaders, CUSTOM_SPECS, doc)
    try:
        return load_specs(record.specs)
    except ValidationError as exc:
        raise StorageError(f"the stored custom field specs cannot be read: {exc}") from None


def migrate_custom_fields(
    crm: Crm, *, batch: int = 500, progress: Progress | None = None
) -> MigrationReport:
    """Move the store to ``crm.custom_fields``; see the module docs.

    Raises `ValidationError` naming the field when the change would lose stored
    values (a removed field, a changed type, a dropped choice ...).
    """
    old = stored_specs(crm)
    new = crm.custom_fields
    if old is None:  # first run: whatever is indexed may lack values
        plan = Migration(made_indexed=tuple(s for s in new.specs if s.indexed and not s.retired))
    else:
        plan = plan_migration(old, new)
    kinds = dict.fromkeys(spec.kind for spec in (*plan.made_indexed, *plan.unindexed))
    kinds.update(dict.fromkeys(k for k, (source, _) in MIRRORED.items() if source in kinds))
    report = reindex(crm, kinds, batch=batch, progress=progress)
    doc = crm.store.get(crm.tenant, CUSTOM_SPECS.kind, SPECS_ID)
    version = 0 if doc is None else doc.version
    record = CustomSpecs(SPECS_ID, version + 1, dump_specs(new))
    body = dumps(crm.converter.unstructure(record))
    put = Put(Document(CUSTOM_SPECS.kind, SPECS_ID, version + 1, body, {}), version)
    crm.store.commit(crm.tenant, ChangeSet((put,)))
    return MigrationReport(plan, report)
