"""The event log in ``crm_events``: appended at commit, read back by position.

``position`` is an ``AUTOINCREMENT`` key, so positions grow in commit order;
(tenant, stream_id, version) is unique, so two writers cannot both append the
same version of a stream.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from crmkit.kernel.errors import ConcurrencyConflict
from crmkit.ports.storage import EventRecord, StoredEvent

_COLUMNS: Final = (
    "id, stream_kind, stream_id, version, event_type, schema_version, occurred_at, body"
)
_INSERT: Final = f"INSERT INTO crm_events (tenant, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_READ: Final = f"SELECT position, {_COLUMNS} FROM crm_events WHERE tenant = ? AND position > ?"


def insert(conn: sqlite3.Connection, tenant: str, events: Sequence[EventRecord]) -> None:
    """Append ``events`` inside the caller's transaction."""
    conn.executemany(
        _INSERT,
        [
            (
                tenant,
                e.id,
                e.stream_kind,
                e.stream_id,
                e.version,
                e.event_type,
                e.schema_version,
                e.occurred_at,
                e.body,
            )
            for e in events
        ],
    )


def check(conn: sqlite3.Connection, tenant: str, events: Sequence[EventRecord]) -> None:
    """Raise for the first event whose (stream, version) is stored or earlier in the batch."""
    seen: set[tuple[str, int]] = set()
    for event in events:
        mark = (event.stream_id, event.version)
        stored = conn.execute(
            "SELECT 1 FROM crm_events WHERE tenant = ? AND stream_id = ? AND version = ?",
            (tenant, *mark),
        ).fetchone()
        if stored or mark in seen:
            raise ConcurrencyConflict(event.stream_kind, event.stream_id, event.version - 1)
        seen.add(mark)


def read(
    conn: sqlite3.Connection, tenant: str, after: int, limit: int, stream_id: str | None
) -> list[StoredEvent]:
    """Up to ``limit`` events after position ``after``, of one stream if ``stream_id``."""
    params: tuple[Any, ...] = (tenant, after, limit)
    text = _READ + " ORDER BY position LIMIT ?"
    if stream_id is not None:
        text = _READ + " AND stream_id = ? ORDER BY position LIMIT ?"
        params = (tenant, after, stream_id, limit)
    rows = conn.execute(text, params).fetchall()
    return [StoredEvent(row[0], EventRecord(*row[1:])) for row in rows]
