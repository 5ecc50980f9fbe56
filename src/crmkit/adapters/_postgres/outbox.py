"""The outbox in ``crm_outbox``: messages written at commit, then claimed, completed or failed.

A claim leases due messages in one statement: it picks them with
``FOR UPDATE SKIP LOCKED``, so several dispatchers share one outbox and never
wait for or take each other's rows, raises their ``attempts`` and sets
``lease_until``. Completing or failing a message must name the attempt it was
claimed at, so a worker whose lease ran out cannot overwrite a newer claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from crmkit.adapters import _sql
from crmkit.adapters._postgres.schema import Conn
from crmkit.ports.storage import OutboxEntry, OutboxMessage, OutboxStatus

_INSERT: Final = _sql.sql(_sql.OUTBOX_INSERT, "%s")
_CLAIM: Final = (
    # MATERIALIZED: the picked rows are read once; a subquery the planner
    # rescans per row could pick (and lease) more than ``limit`` messages.
    "WITH due AS MATERIALIZED (SELECT id FROM crm_outbox WHERE tenant = %s"
    " AND status = 'pending' AND available_at <= %s"
    " AND (lease_until IS NULL OR lease_until <= %s)"
    " ORDER BY available_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " UPDATE crm_outbox AS o SET attempts = o.attempts + 1, lease_until = %s"
    " FROM due WHERE o.tenant = %s AND o.id = due.id"
    " RETURNING o.id, o.key, o.channel, o.purpose, o.party_id, o.body, o.available_at,"
    " o.attempts, o.last_error, o.receipt"
)


def insert(conn: Conn, tenant: str, outbox: Sequence[OutboxMessage]) -> None:
    """Write ``outbox`` as pending messages inside the caller's transaction."""
    conn.cursor().executemany(_INSERT, _sql.outbox_rows(tenant, outbox))


def check(conn: Conn, tenant: str, outbox: Sequence[OutboxMessage]) -> None:
    """Raise for the first message whose key, then id, is stored or earlier in the batch."""
    _sql.check_outbox(conn, tenant, outbox, "%s")


def claim(conn: Conn, tenant: str, now: int, limit: int, until: int) -> list[OutboxEntry]:
    """Lease up to ``limit`` messages due at ``now`` until ``until``, oldest due first."""
    rows = conn.execute(_CLAIM, (tenant, now, now, limit, until, tenant)).fetchall()
    rows.sort(key=lambda row: (row[6], row[0]))  # RETURNING keeps no order; ids sort as "C"
    return [
        OutboxEntry(OutboxMessage(*row[:7]), OutboxStatus.PENDING, row[7], until, row[8], row[9])
        for row in rows
    ]


def complete(conn: Conn, tenant: str, id: str, attempt: int, receipt: str) -> None:
    """Mark a message claimed at ``attempt`` delivered."""
    _sql.complete(conn, tenant, id, attempt, receipt, "%s")


def fail(conn: Conn, tenant: str, id: str, attempt: int, error: str, retry_at: int | None) -> None:
    """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
    _sql.fail(conn, tenant, id, attempt, error, retry_at, "%s")
