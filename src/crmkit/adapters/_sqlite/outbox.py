"""The outbox in ``crm_outbox``: written at commit, then claimed, completed or failed.

A claim leases due messages by raising their ``attempts`` and setting
``lease_until``; completing or failing a message must name the attempt it was
claimed at, so a worker whose lease ran out cannot overwrite a newer claim.
The caller holds the transaction and translates driver errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from crmkit.adapters import _sql
from crmkit.ports.storage import OutboxEntry, OutboxMessage, OutboxStatus

_DUE: Final = (
    "SELECT id, key, channel, purpose, party_id, body, available_at, attempts, last_error,"
    " receipt FROM crm_outbox WHERE tenant = ? AND status = 'pending' AND available_at <= ?"
    " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY available_at, id LIMIT ?"
)


def insert(conn: sqlite3.Connection, tenant: str, outbox: Sequence[OutboxMessage]) -> None:
    """Write ``outbox`` as pending messages inside the caller's transaction."""
    conn.executemany(_sql.OUTBOX_INSERT, _sql.outbox_rows(tenant, outbox))


def check(conn: sqlite3.Connection, tenant: str, outbox: Sequence[OutboxMessage]) -> None:
    """Raise for the first message whose key, then id, is stored or earlier in the batch."""
    _sql.check_outbox(conn, tenant, outbox, "?")


def claim(
    conn: sqlite3.Connection, tenant: str, now: int, limit: int, until: int
) -> list[tuple[Any, ...]]:
    """Lease up to ``limit`` messages due at ``now`` until ``until``; their rows as read."""
    rows = conn.execute(_DUE, (tenant, now, now, limit)).fetchall()
    conn.executemany(
        "UPDATE crm_outbox SET attempts = attempts + 1, lease_until = ?"
        " WHERE tenant = ? AND id = ?",
        [(until, tenant, row[0]) for row in rows],
    )
    return rows


def entries(rows: Sequence[tuple[Any, ...]], until: int) -> list[OutboxEntry]:
    """The entries of rows that `claim` leased until ``until``."""
    return [
        OutboxEntry(
            OutboxMessage(*row[:7]), OutboxStatus.PENDING, row[7] + 1, until, row[8], row[9]
        )
        for row in rows
    ]


def complete(conn: sqlite3.Connection, tenant: str, id: str, attempt: int, receipt: str) -> None:
    """Mark a message claimed at ``attempt`` delivered."""
    _sql.complete(conn, tenant, id, attempt, receipt, "?")


def fail(
    conn: sqlite3.Connection, tenant: str, id: str, attempt: int, error: str, retry_at: int | None
) -> None:
    """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
    _sql.fail(conn, tenant, id, attempt, error, retry_at, "?")
