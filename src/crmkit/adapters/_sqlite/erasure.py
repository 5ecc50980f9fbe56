"""What `SqliteStore.erase` adds to a commit: event bodies replaced, a party's outbox blanked.

Both run inside the caller's transaction, after the change set. The event
bodies travel as one JSON object (id to body) through ``json_each``, so the
tenant's log is scanned twice in all (once to find the ids, once to rewrite
them) however many events an erasure names; ``crm_events`` has no index on
the event id, and erasures are too rare to pay for one on every append.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Final

from crmkit.adapters import _sql
from crmkit.adapters._common import encode

_FOUND: Final = (
    "SELECT DISTINCT id FROM crm_events WHERE tenant = ?1 AND id IN (SELECT key FROM json_each(?2))"
)
_REPLACE: Final = (
    "UPDATE crm_events SET body = (SELECT value FROM json_each(?2) WHERE key = crm_events.id)"
    " WHERE tenant = ?1 AND id IN (SELECT key FROM json_each(?2))"
)


def rewrite(
    conn: sqlite3.Connection, tenant: str, bodies: Mapping[str, str], party_id: str | None
) -> None:
    """Replace the named events' bodies and blank ``party_id``'s outbox; refuse unknown ids."""
    if bodies:
        names = encode(dict(bodies))
        _sql.refuse_unknown(bodies, (id for (id,) in conn.execute(_FOUND, (tenant, names))))
        conn.execute(_REPLACE, (tenant, names))
    if party_id is not None:
        _sql.blank_outbox(conn, tenant, party_id, "?")
