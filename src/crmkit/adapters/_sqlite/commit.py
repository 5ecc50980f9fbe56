"""A `ChangeSet` applied inside the caller's transaction, and the diagnosis of a failure.

The fast path (`apply_changes`) collapses the writes to one statement per id
(`net_writes`) and sends them grouped by kind with ``executemany``; a version
check that finds no row raises `Mismatch`, and a unique or key clash raises
``sqlite3.IntegrityError``. The caller then rolls back and calls `diagnose`
in a second transaction, which replays the writes in order and raises the
error `MemoryStore` would raise for the first failing one, so every store
reports the same error for the same change set.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, Final

from crmkit.adapters._common import KindWrites, net_writes, replay, target, unique_values
from crmkit.adapters._sql import quote
from crmkit.adapters._sqlite import events, outbox, search
from crmkit.adapters._sqlite.kinds import Kind
from crmkit.adapters._sqlite.schema import marks
from crmkit.kernel.errors import DuplicateRecord
from crmkit.ports.storage import ChangeSet, Write

__all__ = ["Mismatch", "apply_changes", "diagnose", "net_writes"]

_CHUNK: Final = 500  # values per IN (...) list, far below SQLite's bound-variable limit


class Mismatch(Exception):
    """A version or key check failed while applying: roll back and diagnose."""


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def apply_changes(
    conn: sqlite3.Connection,
    kinds: Mapping[str, Kind],
    tenant: str,
    net: dict[str, KindWrites],
    changes: ChangeSet,
    *,
    careful: bool,
) -> None:
    """Write ``net`` and the events and outbox of ``changes``; raise `Mismatch` on a stale row.

    ``careful`` frees the unique values of rewritten rows first, so that two
    documents may swap values within one change set.
    """
    for name, writes in net.items():
        kind = kinds[name]
        if writes.deletes:
            rows = [(tenant, id, version) for id, version in writes.deletes]
            _expect(conn.executemany(kind.delete_sql, rows), len(rows))
        if careful and kind.uniques and writes.updates:
            conn.executemany(kind.clear_sql, [(tenant, doc.id) for doc, _ in writes.updates])
        if writes.updates:
            rows = [(*kind.values(doc), tenant, doc.id, v) for doc, v in writes.updates]
            _expect(conn.executemany(kind.update_sql, rows), len(rows))
        if writes.inserts:
            conn.executemany(
                kind.insert_sql, [(tenant, doc.id, *kind.values(doc)) for doc in writes.inserts]
            )
        for id in writes.absent:
            if conn.execute(kind.exists_sql, (tenant, id)).fetchone() is not None:
                raise Mismatch
        if kind.clears_multi:
            _write_multi(conn, tenant, kind, writes)
        if kind.search is not None:
            search.write(conn, kind.search, tenant, writes)
    if changes.events:
        events.insert(conn, tenant, changes.events)
    if changes.outbox:
        outbox.insert(conn, tenant, changes.outbox)


def diagnose(
    conn: sqlite3.Connection, kinds: Mapping[str, Kind], tenant: str, changes: ChangeSet
) -> dict[str, KindWrites]:
    """Raise the error `MemoryStore` would raise for ``changes``; else their net writes."""
    net = replay(changes.writes, _versions(conn, kinds, tenant, changes.writes))
    for name, writes in net.items():
        _check_unique(conn, tenant, kinds[name], writes)
    events.check(conn, tenant, changes.events)
    outbox.check(conn, tenant, changes.outbox)
    return net


def _versions(
    conn: sqlite3.Connection, kinds: Mapping[str, Kind], tenant: str, writes: Sequence[Write]
) -> dict[tuple[str, str], int]:
    ids: dict[str, dict[str, None]] = {}
    for write in writes:
        kind, id, _ = target(write)
        ids.setdefault(kind, {})[id] = None
    found: dict[tuple[str, str], int] = {}
    for kind, wanted in ids.items():
        table = kinds[kind].table
        for chunk in _chunks(list(wanted)):
            rows = conn.execute(
                f"SELECT id, version FROM {table} WHERE tenant = ? AND id IN ({marks(len(chunk))})",
                (tenant, *chunk),
            )
            found.update(((kind, id), version) for id, version in rows)
    return found


def _check_unique(conn: sqlite3.Connection, tenant: str, kind: Kind, writes: KindWrites) -> None:
    for field in kind.uniques:  # in declaration order, as MemoryStore checks them
        values, touched = unique_values(kind.name, field, writes)
        for chunk in _chunks(values):
            rows = conn.execute(
                f"SELECT id FROM {kind.table} WHERE tenant = ?"
                f" AND {quote(field)} IN ({marks(len(chunk))})",
                (tenant, *chunk),
            ).fetchall()  # read to the end: no statement stays open
            if any(id not in touched for (id,) in rows):
                raise DuplicateRecord(kind.name, field)


def _expect(cursor: sqlite3.Cursor, count: int) -> None:
    if cursor.rowcount != count:
        raise Mismatch


def _write_multi(conn: sqlite3.Connection, tenant: str, kind: Kind, writes: KindWrites) -> None:
    gone = [(tenant, kind.name, id) for id, _ in writes.deletes]
    gone += [(tenant, kind.name, doc.id) for doc, _ in writes.updates]
    if gone:
        conn.executemany("DELETE FROM crm_multi WHERE tenant = ? AND kind = ? AND id = ?", gone)
    rows: list[tuple[Any, ...]] = []
    for doc in chain(writes.inserts, (doc for doc, _ in writes.updates)):
        kind.multi_rows(tenant, doc, rows)
    if rows:
        conn.executemany("INSERT INTO crm_multi VALUES (?, ?, ?, ?, ?)", rows)
