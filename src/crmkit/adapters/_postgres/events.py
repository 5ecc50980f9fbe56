"""The event log in ``crm_events``: appended at commit, read back by position.

``position`` is an identity column. A sequence alone hands out numbers in the
order transactions ask, not the order they commit, so a reader could pass a
position whose transaction commits later; appends therefore take a per-tenant
advisory lock held to the commit, which keeps a tenant's positions in commit
order. (tenant, stream_id, version) is unique, so two writers cannot both
append the same version of a stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from crmkit.adapters._postgres.schema import Conn
from crmkit.adapters._sql import EVENT_COLUMNS, check_events, event_rows, read_events
from crmkit.ports.storage import EventRecord, StoredEvent

_INSERT: Final = (
    f"INSERT INTO crm_events (tenant, {EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})"
)
_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended('crm_events:' || %s, 0))"


def insert(conn: Conn, tenant: str, events: Sequence[EventRecord]) -> None:
    """Append ``events`` inside the caller's transaction, in the tenant's commit order."""
    conn.execute(_LOCK, (tenant,))
    conn.cursor().executemany(_INSERT, event_rows(tenant, events))


def check(conn: Conn, tenant: str, events: Sequence[EventRecord]) -> None:
    """Raise for the first event whose (stream, version) is stored or earlier in the batch."""
    check_events(conn, tenant, events, "%s")


def read(
    conn: Conn, tenant: str, after: int, limit: int, stream_id: str | None
) -> list[StoredEvent]:
    """Up to ``limit`` events after position ``after``, of one stream if ``stream_id``."""
    rows = read_events(conn, tenant, after, limit, stream_id, "%s")
    return [StoredEvent(row[0], EventRecord(*row[1:])) for row in rows]
