"""The PostgreSQL document store, on psycopg 3 (``pip install 'crmkit[postgres]'``).

Layout, in the schema the connection's ``search_path`` names first
(``crm_meta`` holds crmkit's mark and `SCHEMA_VERSION`):

* ``doc_<kind>``, one table per kind: ``tenant``, ``id``, ``version``, ``body``
  (``json``: checked by the server, kept byte for byte), ``_index`` (the
  document's index values as JSON text, so reads return exactly what was
  written) and one typed column per single-valued index field (``TEXT
  COLLATE "C"``, ``BIGINT`` or ``BOOLEAN``); primary key (tenant, id); an index
  on (tenant, field) per field, partial (``WHERE field IS NOT NULL``) and unique
  for unique fields;
* ``crm_multi`` (tenant, kind, name, value, id): values of multi-valued fields;
* ``crm_events``: the event log, unique on (tenant, stream_id, version);
* ``crm_outbox``: the outbox, unique on (tenant, key), claimed with
  ``FOR UPDATE SKIP LOCKED``;
* ``crm_fields``: every index field declared so far, to refuse changed types;
* ``srch_<kind>``: the GIN-indexed ``tsvector`` of a kind's search field (see
  ``crmkit.adapters._postgres.search``), written in the commit's transaction.

Connections run in autocommit mode: a read outside a unit of work is one
statement and one round trip, never a ``BEGIN``/``COMMIT`` around it. A commit
is one transaction whose writes psycopg pipelines with ``executemany``; every
write checks the version it expects (``UPDATE … WHERE version = %s``).
"""

# The parts live in crmkit.adapters._postgres: the layout (schema), one kind's
# statements (kinds), query translation (query), commits (commit), the event
# log (events), the outbox (outbox) and error translation (errors). This module
# keeps the connections and the class that ties them together.

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import psycopg

from crmkit.adapters._common import lazy_index
from crmkit.adapters._postgres import erasure, events, outbox, search as search_sql
from crmkit.adapters._postgres.commit import Mismatch, apply_changes, diagnose, net_writes
from crmkit.adapters._postgres.errors import RETRYABLE, driver_errors
from crmkit.adapters._postgres.kinds import Kind
from crmkit.adapters._postgres.query import group_select, select, where_sql
from crmkit.adapters._postgres.schema import SCHEMA_VERSION, Conn, migrate
from crmkit.adapters._sql import aggregate_groups, outbox_of
from crmkit.kernel.errors import StorageError, ValidationError
from crmkit.ports.aggregate import Aggregate, Group, check_aggregate_in
from crmkit.ports.erasure import check_erasure, check_party
from crmkit.ports.query import Query, check_query
from crmkit.ports.search import Hit, SearchQuery, check_search_in
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    OutboxEntry,
    StoredEvent,
    StoreSchema,
    check_writes,
)

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

_DIAGNOSES = 5  # careful attempts when racing writers keep changing the rows under a commit


def _close_quietly(conn: Conn) -> None:
    with suppress(psycopg.Error):  # best effort: the connection is gone either way
        conn.close()


class PostgresStore:
    """A `DocumentStore` in a PostgreSQL database, safe across threads and processes.

    Each thread uses its own connection, opened on first use (a process
    reconnects after a fork); `close` closes every connection the store opened
    in this process, so call it once no other thread uses the store.

    Args:
        conninfo: A libpq connection string or URL, for example
            ``postgresql://user@host/db``; ``?options=-csearch_path%3Dcrm`` keeps
            the tables in schema ``crm``.
        connect_timeout: Seconds to wait for a connection.
        **kwargs: Further connection parameters for ``psycopg.connect``.
    """

    def __init__(self, conninfo: str, *, connect_timeout: float = 10.0, **kwargs: Any) -> None:
        if not isinstance(conninfo, str):
            raise ValidationError("conninfo", "must be a connection string or URL", conninfo)
        self._conninfo = conninfo
        self._kwargs = {"connect_timeout": max(1, round(connect_timeout)), **kwargs}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conns: list[tuple[int, threading.Thread, Conn]] = []
        self._inherited: list[tuple[int, threading.Thread, Conn]] = []
        self._schema: StoreSchema | None = None
        self._kinds: dict[str, Kind] = {}
        self._closed = False

    # --- connections --------------------------------------------------------

    def _conn(self) -> Conn:
        local = self._local
        try:
            if local.pid == os.getpid() and not local.conn.closed:
                return local.conn  # type: ignore[no-any-return]
        except AttributeError:
            pass
        return self._connect()

    def _connect(self) -> Conn:
        pid = os.getpid()
        if pid != self._pid:
            # A forked child must never use the parent's connections, nor let them be
            # garbage-collected: freeing one would end the parent's session.
            self._lock = threading.Lock()
            self._pid = pid
            self._inherited.extend(self._conns)
            self._conns = []
        if self._closed:
            raise StorageError("the store is closed")
        with driver_errors():
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._kwargs)
        with self._lock:
            if self._closed:
                _close_quietly(conn)
                raise StorageError("the store is closed")
            alive = []
            for entry in self._conns:
                if not entry[1].is_alive() or entry[2].closed:
                    _close_quietly(entry[2])  # its thread ended: free the server's backend
                else:
                    alive.append(entry)
            alive.append((pid, threading.current_thread(), conn))
            self._conns = alive
        self._local.conn = conn
        self._local.cursor = conn.cursor()
        self._local.pid = pid
        return conn

    def _check(self, conn: Conn) -> None:
        """Drop a connection that broke, so that the next call opens a new one."""
        if conn.broken or conn.closed:
            with self._lock:
                self._conns = [entry for entry in self._conns if entry[2] is not conn]
            if getattr(self._local, "conn", None) is conn:
                del self._local.conn
            _close_quietly(conn)

    def _ready(self) -> StoreSchema:
        if self._closed:
            raise StorageError("the store is closed")
        if self._schema is None:
            raise StorageError("the store is not open: call open(schema) first")
        return self._schema

    def _run(self, work: Any, *args: Any) -> Any:
        """Call ``work(conn, *args)`` on this thread's connection, translating errors."""
        conn = self._conn()
        try:
            with driver_errors():
                return work(conn, *args)
        finally:
            self._check(conn)

    # --- the port -------------------------------------------------------------

    def open(self, schema: StoreSchema) -> None:
        """Create or migrate the tables for ``schema``: new kinds and fields are added.

        Raises `SchemaError` when the tables were written by a newer layout,
        belong to another application, or declare a field with another type
        or shape.
        """
        if self._closed:
            raise StorageError("the store is closed")

        def work(conn: Conn) -> Any:
            with conn.transaction():
                return migrate(conn, schema)

        known = self._run(work)
        self._schema = schema
        self._kinds = {spec.kind: Kind(spec, known[spec.kind]) for spec in schema.kinds}

    def get(self, tenant: str, kind: str, id: str) -> Document | None:
        """The document, or None (one indexed lookup, no transaction)."""
        plan = self._kinds.get(kind)
        if plan is None:
            self._ready().kind(kind)
            raise StorageError(f"kind {kind!r} is not open")
        conn = self._conn()
        try:
            with driver_errors():
                # The thread's reusable cursor: a new cursor per get cost a tenth of it.
                row = self._local.cursor.execute(plan.get_sql, (tenant, id)).fetchone()
        finally:
            if conn.broken:
                self._check(conn)
        if row is None:
            return None
        return Document(kind, id, row[0], row[1], lazy_index(row[2]))

    def query(self, tenant: str, query: Query) -> list[Document]:
        """Documents matching ``query``, translated to one SELECT with bound parameters."""
        check_query(self._ready().kind(query.kind), query)
        plan = self._kinds.get(query.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        text, params = select(plan, tenant, query)
        rows = self._run(lambda conn: conn.execute(text, params).fetchall())
        kind = query.kind
        return [
            Document(kind, id, version, body, lazy_index(index))
            for id, version, body, index in rows
        ]

    def aggregate(self, tenant: str, agg: Aggregate) -> list[Group]:
        """The groups of ``agg``, computed by one ``GROUP BY`` statement with bound parameters.

        Results equal `crmkit.ports.aggregate.run_aggregate`'s; a sum (an exact
        ``numeric`` in PostgreSQL) comes back as a Python int.
        """
        check_aggregate_in(self._ready(), agg)
        plan = self._kinds.get(agg.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        text, params = group_select(plan, tenant, agg)
        rows = self._run(lambda conn: conn.execute(text, params).fetchall())
        return aggregate_groups(rows, agg, plan.bools, "postgres")

    def search(self, tenant: str, query: SearchQuery) -> list[Hit]:
        """The hits of ``query``, found through the kind's GIN-indexed ``tsvector`` table.

        Results equal `crmkit.ports.search.run_search`'s; the conditions (the
        access scope) are applied in the same statement. See
        ``crmkit.adapters._postgres.search`` for the table and the plan.
        """
        found = check_search_in(self._ready(), query)
        plan = self._kinds.get(query.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        if plan.search is None:  # the schema declares a search field, so this cannot be
            raise StorageError(f"kind {query.kind!r} has no search table")
        params: list[Any] = []
        where = where_sql(plan, tenant, query.where, params) if query.where else None
        args = (plan.search, plan.table, where, params, tenant, query, found)
        top = search_sql.exact_select(*args)
        full = search_sql.select(*args)

        def work(conn: Conn) -> list[Hit]:
            if top is not None:  # every term a whole word: the best tier, often a full page
                ids = conn.execute(*top).fetchall()
                if len(ids) == query.limit:
                    return [Hit(query.kind, id, 3 * len(found)) for (id,) in ids]
            rows = conn.execute(*full).fetchall()
            return [Hit(query.kind, id, score) for id, score in rows]

        return self._run(work)  # type: ignore[no-any-return]

    def commit(self, tenant: str, changes: ChangeSet) -> None:
        """Apply ``changes`` in one transaction, or nothing at all.

        The fast path collapses the writes per id and pipelines them with
        ``executemany``. When a version, key or unique check fails there, the
        transaction rolls back and a second one locks the rows, finds the first
        failure in write order (as `MemoryStore` reports it) and raises it, or,
        when nothing is wrong (two documents swapping a unique value), applies
        the changes with unique values cleared first.
        """
        check_writes(self._ready(), changes.writes)
        if not (changes.writes or changes.events or changes.outbox):
            return
        self._run(self._commit, tenant, changes, None)

    def _commit(
        self, conn: Conn, tenant: str, changes: ChangeSet, then: Callable[[Conn], None] | None
    ) -> None:
        """Commit ``changes`` (see `commit`), calling ``then(conn)`` in the same transaction."""
        kinds = self._kinds
        net = net_writes(changes.writes)
        if net is not None:
            try:
                with conn.transaction():
                    apply_changes(conn, kinds, tenant, net, changes, careful=False)
                    if then is not None:
                        then(conn)
                return
            except (Mismatch, psycopg.IntegrityError, *RETRYABLE):
                pass
        for _ in range(_DIAGNOSES):
            try:
                with conn.transaction():
                    net = diagnose(conn, kinds, tenant, changes)
                    apply_changes(conn, kinds, tenant, net, changes, careful=True)
                    if then is not None:
                        then(conn)
                return
            except (Mismatch, psycopg.IntegrityError, *RETRYABLE):
                continue  # another writer committed in between: look again
        raise StorageError("the commit kept colliding with other writers; try again")

    def erase(
        self, tenant: str, changes: ChangeSet, events: Mapping[str, str], party_id: str | None
    ) -> None:
        """Apply ``changes``, replace event bodies and blank the party's outbox, all or nothing.

        See `crmkit.ports.erasure.Erasing.erase`; it runs as `commit` does,
        with the rewrites in the same transaction. Afterwards no query, and no
        ``pg_dump``, sees the old bodies: a dump holds live rows only. The old
        row versions stay on disk as dead tuples until (auto)vacuum reclaims
        their space and later writes reuse it, and the server's write-ahead log
        keeps them until its segments are recycled. The store does not run
        ``VACUUM`` itself: it cannot run inside the transaction, a plain
        ``VACUUM`` frees space without overwriting it, and ``VACUUM FULL``
        locks the tables; hosts with stricter needs schedule it, and rotate
        their WAL archives and backups.
        """
        bodies = check_erasure(changes, events, party_id)
        check_writes(self._ready(), changes.writes)
        self._run(
            self._commit,
            tenant,
            changes,
            lambda conn: erasure.rewrite(conn, tenant, bodies, party_id),
        )

    def outbox_of(self, tenant: str, party_id: str) -> list[OutboxEntry]:
        """Every outbox message of ``party_id``, any status, by id (a scan of the tenant's)."""
        check_party(party_id)
        self._ready()
        result: list[OutboxEntry] = self._run(outbox_of, tenant, party_id, "%s")
        return result

    def read_events(
        self, tenant: str, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[StoredEvent]:
        """Events after position ``after``; a tenant's positions grow in commit order."""
        if limit < 1:
            raise ValidationError("limit", "must be at least 1", limit)
        self._ready()
        result: list[StoredEvent] = self._run(events.read, tenant, after, limit, stream_id)
        return result

    def claim_outbox(self, tenant: str, *, now: int, limit: int, lease: int) -> list[OutboxEntry]:
        """Lease due messages in one statement; dispatchers sharing the outbox skip each other's."""
        if limit < 0:
            raise ValidationError("limit", "must not be negative", limit)
        self._ready()
        if limit == 0:
            return []
        result: list[OutboxEntry] = self._run(outbox.claim, tenant, now, limit, now + lease)
        return result

    def complete_outbox(self, tenant: str, id: str, *, attempt: int, receipt: str) -> None:
        """Mark a message claimed at ``attempt`` delivered."""
        self._ready()
        self._run(outbox.complete, tenant, id, attempt, receipt)

    def fail_outbox(
        self, tenant: str, id: str, *, attempt: int, error: str, retry_at: int | None
    ) -> None:
        """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
        self._ready()
        self._run(outbox.fail, tenant, id, attempt, error, retry_at)

    def close(self) -> None:
        """Close every connection this process opened; later calls raise `StorageError`."""
        pid = os.getpid()
        with self._lock:
            self._closed = True
            self._kinds = {}
            mine = [conn for owner, _, conn in self._conns if owner == pid]
            self._conns = [entry for entry in self._conns if entry[0] != pid]
        for conn in mine:
            _close_quietly(conn)
