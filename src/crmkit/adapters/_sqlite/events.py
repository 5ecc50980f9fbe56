"""The event log in ``crm_events``: appended at commit, read back by position.

``position`` is an ``AUTOINCREMENT`` key, so positions grow in commit order;
(tenant, stream_id, version) is unique, so two writers cannot both append the
same version of a stream.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from crmkit.adapters._sql import EVENT_COLUMNS, check_events, event_rows, read_events
from crmkit.ports.storage import EventRecord, StoredEvent

_INSERT: Final = (
    f"INSERT INTO crm_events (tenant, {EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert(conn: sqlite3.Connection, tenant: str, events: Sequence[EventRecord]) -> None:
    """Append ``events`` inside the caller's transaction."""
    conn.executemany(_INSERT, event_rows(tenant, events))


def check(conn: sqlite3.Connection, tenant: str, events: Sequence[EventRecord]) -> None:
    """Raise for the first event whose (stream, version) is stored or earlier in the batch."""
    check_events(conn, tenant, events, "?")


def read(
    conn: sqlite3.Connection, tenant: str, after: int, limit: int, stream_id: str | None
) -> list[StoredEvent]:
    """Up to ``limit`` events after position ``after``, of one stream if ``stream_id``."""
    rows = read_events(conn, tenant, after, limit, stream_id, "?")
    return [StoredEvent(row[0], EventRecord(*row[1:])) for row in rows]
