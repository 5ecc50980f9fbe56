"""A `ChangeSet` applied inside the caller's transaction, and the diagnosis of a failure.

The fast path (`apply_changes`) sends the net writes (one statement per id,
`crmkit.adapters._common.net_writes`) grouped by kind with ``executemany``,
which psycopg pipelines: one round trip per batch, not per row. Rows are
written in id order, so two commits touching the same rows lock them in the
same order. A version check that finds no row raises `Mismatch`; a unique or
key clash raises a psycopg ``IntegrityError``. The caller then rolls back and
calls `diagnose` in a second transaction, which locks the rows it reads,
replays the writes in order and raises the error `MemoryStore` would raise for
the first failing one, so every store reports the same error for the same
change set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from crmkit.adapters._common import KindWrites, net_writes, replay, target, unique_values
from crmkit.adapters._postgres import events, outbox, search
from crmkit.adapters._postgres.kinds import Kind
from crmkit.adapters._postgres.schema import Conn
from crmkit.adapters._sql import quote
from crmkit.kernel.errors import DuplicateRecord
from crmkit.ports.storage import ChangeSet, Write

__all__ = ["Mismatch", "apply_changes", "diagnose", "net_writes"]


class Mismatch(Exception):
    """A version or key check failed while applying: roll back and diagnose."""


def _many(conn: Conn, sql: str, rows: Sequence[tuple[Any, ...]], expect: int | None = None) -> None:
    cursor = conn.cursor()
    cursor.executemany(sql, rows)
    if expect is not None and cursor.rowcount != expect:
        raise Mismatch


def apply_changes(
    conn: Conn,
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
    for name in sorted(net):
        writes, kind = net[name], kinds[name]
        if writes.deletes:
            rows = sorted((tenant, id, version) for id, version in writes.deletes)
            _many(conn, kind.delete_sql, rows, len(rows))
        updates = sorted(writes.updates, key=lambda pair: pair[0].id)
        if careful and kind.uniques and updates:
            _many(conn, kind.clear_sql, [(tenant, doc.id) for doc, _ in updates])
        if updates:
            rows = [(*kind.values(doc), tenant, doc.id, v) for doc, v in updates]
            _many(conn, kind.update_sql, rows, len(rows))
        if writes.inserts:
            rows = [(tenant, doc.id, *kind.values(doc)) for doc in writes.inserts]
            _many(conn, kind.insert_sql, rows)
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
    conn: Conn, kinds: Mapping[str, Kind], tenant: str, changes: ChangeSet
) -> dict[str, KindWrites]:
    """Raise the error `MemoryStore` would raise for ``changes``; else their net writes."""
    net = replay(changes.writes, _versions(conn, kinds, tenant, changes.writes))
    for name, writes in net.items():
        _check_unique(conn, tenant, kinds[name], writes)
    events.check(conn, tenant, changes.events)
    outbox.check(conn, tenant, changes.outbox)
    return net


def _versions(
    conn: Conn, kinds: Mapping[str, Kind], tenant: str, writes: Sequence[Write]
) -> dict[tuple[str, str], int]:
    """The stored version of every id the writes touch, locked until the commit."""
    ids: dict[str, set[str]] = {}
    for write in writes:
        kind, id, _ = target(write)
        ids.setdefault(kind, set()).add(id)
    found: dict[tuple[str, str], int] = {}
    for kind, wanted in sorted(ids.items()):
        rows = conn.execute(kinds[kind].versions_sql, (tenant, sorted(wanted))).fetchall()
        found.update(((kind, id), version) for id, version in rows)
    return found


def _check_unique(conn: Conn, tenant: str, kind: Kind, writes: KindWrites) -> None:
    for field in kind.uniques:  # in declaration order, as MemoryStore checks them
        values, touched = unique_values(kind.name, field, writes)
        if not values:
            continue
        rows = conn.execute(
            f"SELECT id FROM {kind.table} WHERE tenant = %s"
            f" AND {quote(field)} = ANY(%s::{kind.array_type(field)})",
            (tenant, values),
        ).fetchall()
        if any(id not in touched for (id,) in rows):
            raise DuplicateRecord(kind.name, field)


def _write_multi(conn: Conn, tenant: str, kind: Kind, writes: KindWrites) -> None:
    gone = [(tenant, kind.name, id) for id, _ in writes.deletes]
    gone += [(tenant, kind.name, doc.id) for doc, _ in writes.updates]
    if gone:
        _many(conn, "DELETE FROM crm_multi WHERE tenant = %s AND kind = %s AND id = %s", gone)
    rows: list[tuple[Any, ...]] = []
    for doc in chain(writes.inserts, (doc for doc, _ in writes.updates)):
        kind.multi_rows(tenant, doc, rows)
    if rows:
        _many(conn, "INSERT INTO crm_multi VALUES (%s, %s, %s, %s, %s)", rows)
