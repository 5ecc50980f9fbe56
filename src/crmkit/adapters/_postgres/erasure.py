"""What `PostgresStore.erase` adds to a commit: event bodies replaced, a party's outbox blanked.

Both run inside the caller's transaction, after the change set. The ids and
bodies travel as two arrays, so the tenant's log is scanned twice in all
(once to find the ids, once to rewrite them) however many events an erasure
names; ``crm_events`` has no index on the event id, and erasures are too rare
to pay for one on every append.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crmkit.adapters import _sql
from crmkit.adapters._postgres.schema import Conn

_FOUND: Final = "SELECT DISTINCT id FROM crm_events WHERE tenant = %s AND id = ANY(%s::text[])"
_REPLACE: Final = (
    "UPDATE crm_events AS e SET body = v.body"
    " FROM unnest(%s::text[], %s::text[]) AS v(id, body)"
    " WHERE e.tenant = %s AND e.id = v.id"
)


def rewrite(conn: Conn, tenant: str, bodies: Mapping[str, str], party_id: str | None) -> None:
    """Replace the named events' bodies and blank ``party_id``'s outbox; refuse unknown ids."""
    if bodies:
        ids = list(bodies)
        found = conn.execute(_FOUND, (tenant, ids)).fetchall()
        _sql.refuse_unknown(bodies, (id for (id,) in found))
        conn.execute(_REPLACE, (ids, list(bodies.values()), tenant))
    if party_id is not None:
        _sql.blank_outbox(conn, tenant, party_id, "%s")
