"""The SQLite document store: crmkit's embedded default, on the standard ``sqlite3``.

Layout of one file (WAL mode; ``PRAGMA user_version`` holds `SCHEMA_VERSION`):

* ``doc_<kind>``, one table per kind: ``tenant``, ``id``, ``version``, ``body``,
  ``_index`` (the document's index values as JSON, so reads return exactly what
  was written) and one typed column per single-valued index field (``TEXT`` or
  ``INTEGER``; booleans are 0 and 1); primary key (tenant, id); an index on
  (tenant, field) per field, partial (``WHERE field IS NOT NULL``) and unique
  for unique fields;
* ``crm_multi`` (tenant, kind, name, value, id): values of multi-valued fields;
* ``crm_events``: the event log, unique on (tenant, stream_id, version);
* ``crm_outbox``: the outbox, unique on (tenant, key);
* ``crm_fields``: every index field declared so far, to refuse changed types;
* ``srch_map_<kind>`` and ``srch_fts_<kind>``: the FTS5 index of a kind's search
  field (see ``crmkit.adapters._sqlite.search``), written in the commit's transaction.

Every write runs inside ``BEGIN IMMEDIATE``: a transaction that reads and then
upgrades to a write fails at once with "database is locked" when another
connection wrote in between, whatever the busy timeout. Reads are single
statements in autocommit mode, so no read snapshot outlives a call.

Every connection sets ``PRAGMA secure_delete = ON``, so freed space is zeroed
rather than left holding old rows; `SqliteStore.erase` then checkpoints and
truncates the write-ahead log, so erased values leave the files.
"""

# The parts live in crmkit.adapters._sqlite: the layout (schema), one kind's
# statements (kinds), query translation (query), commits (commit), the event
# log (events), the outbox (outbox) and error translation (errors). This module
# keeps the connections and the class that ties them together.

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from crmkit.adapters._common import lazy_index
from crmkit.adapters._sql import aggregate_groups, outbox_of
from crmkit.adapters._sqlite import erasure, events, outbox
from crmkit.adapters._sqlite.commit import Mismatch, apply_changes, diagnose, net_writes
from crmkit.adapters._sqlite.errors import bad_value, driver_errors, translate
from crmkit.adapters._sqlite.kinds import Kind
from crmkit.adapters._sqlite.query import group_select, select, where_sql
from crmkit.adapters._sqlite.schema import SCHEMA_VERSION, migrate
from crmkit.adapters._sqlite.search import exact_select, purge, select as search_select
from crmkit.kernel.errors import StorageError, ValidationError
from crmkit.ports.aggregate import Aggregate, Group, check_aggregate_in
from crmkit.ports.erasure import check_erasure, check_party
from crmkit.ports.query import Query, check_query
from crmkit.ports.search import Hit, SearchQuery, check_search_in
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    OutboxEntry,
    Put,
    StoredEvent,
    StoreSchema,
    check_writes,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore"]


def _close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):  # best effort: the handle is gone either way
        conn.close()


class SqliteStore:
    """A `DocumentStore` in one SQLite file, safe across threads and processes.

    Each thread uses its own connection (a process reconnects after a fork);
    `close` closes every connection the store opened in this process, so call
    it once no other thread uses the store.

    >>> import tempfile, pathlib
    >>> from crmkit.ports.storage import KindSpec, StoreSchema
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = SqliteStore(pathlib.Path(folder.name) / "crm.db")
    >>> store.open(StoreSchema((KindSpec("note"),)))
    >>> store.get("default", "note", "n-1") is None
    True
    >>> store.close(); folder.cleanup()
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        if self._path in ("", ":memory:"):
            # Each thread has its own connection, so each would see another database.
            raise ValidationError("path", "must name a file, not an in-memory database", path)
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conns: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._schema: StoreSchema | None = None
        self._kinds: dict[str, Kind] = {}
        self._closed = False

    # --- connections --------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        try:
            if local.pid == os.getpid():
                return local.conn  # type: ignore[no-any-return]
        except AttributeError:
            pass
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        pid = os.getpid()
        if pid != self._pid:
            # A forked child: the parent's lock may have been held at the fork, and
            # the parent's connections must never be used (nor closed) here.
            self._lock = threading.Lock()
            self._pid = pid
        with self._lock:
            if self._closed:
                raise StorageError("the store is closed")
            with driver_errors():
                conn = sqlite3.connect(
                    self._path,
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=False,  # so that close() can close every thread's
                )
                try:
                    conn.execute("PRAGMA synchronous = NORMAL")
                    # Zero what a write frees, so an erased value leaves no copy in
                    # free space; earlier versions of a row are freed the same way.
                    conn.execute("PRAGMA secure_delete = ON")
                except BaseException:
                    conn.close()
                    raise
            alive = []
            for entry in self._conns:
                if entry[0] == pid and not entry[1].is_alive():
                    _close_quietly(entry[2])  # its thread ended: free the file handle
                else:
                    alive.append(entry)
            alive.append((pid, threading.current_thread(), conn))
            self._conns = alive
        self._local.conn = conn
        self._local.pid = pid
        return conn

    def _discard(self, conn: sqlite3.Connection) -> None:
        """Forget a connection whose state is unknown; closing it rolls back."""
        with self._lock:
            self._conns = [entry for entry in self._conns if entry[2] is not conn]
        if getattr(self._local, "conn", None) is conn:
            del self._local.conn
        _close_quietly(conn)

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            self._discard(conn)

    def _ready(self) -> StoreSchema:
        if self._closed:
            raise StorageError("the store is closed")
        if self._schema is None:
            raise StorageError("the store is not open: call open(schema) first")
        return self._schema

    # --- the port -------------------------------------------------------------

    def open(self, schema: StoreSchema) -> None:
        """Create or migrate the file for ``schema``: new kinds and fields are added.

        Raises `SchemaError` when the file was written by a newer layout, belongs
        to another application, or declares a field with another type or shape.
        """
        if self._closed:
            raise StorageError("the store is closed")
        conn = self._conn()
        with driver_errors():
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StorageError(f"SQLite refused WAL mode for {self._path!r}")
            with self._transaction(conn):
                known = migrate(conn, schema)
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
            row = conn.execute(plan.get_sql, (tenant, id)).fetchone()
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        except (UnicodeEncodeError, OverflowError) as exc:
            raise bad_value(exc) from exc
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
        conn = self._conn()
        with driver_errors():
            rows = conn.execute(text, params).fetchall()
        kind = query.kind
        return [
            Document(kind, id, version, body, lazy_index(index))
            for id, version, body, index in rows
        ]

    def aggregate(self, tenant: str, agg: Aggregate) -> list[Group]:
        """The groups of ``agg``, computed by one ``GROUP BY`` statement with bound parameters.

        Results equal `crmkit.ports.aggregate.run_aggregate`'s. Sums are exact:
        SQLite's SUM raises past 64 bits, so each value's high and low 32 bits
        are summed apart and added up in Python; only a group of more than
        2**31 rows could still overflow, which raises `StorageError`.
        """
        check_aggregate_in(self._ready(), agg)
        plan = self._kinds.get(agg.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        text, params = group_select(plan, tenant, agg)
        conn = self._conn()
        with driver_errors():
            rows = conn.execute(text, params).fetchall()
        return aggregate_groups(rows, agg, plan.bools, "sqlite")

    def search(self, tenant: str, query: SearchQuery) -> list[Hit]:
        """The hits of ``query``, found by one statement over the kind's FTS5 index.

        Results equal `crmkit.ports.search.run_search`'s; the conditions (the
        access scope) are applied in the same statement. See
        ``crmkit.adapters._sqlite.search`` for the index and the plan.
        """
        found = check_search_in(self._ready(), query)
        plan = self._kinds.get(query.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        if plan.search is None:  # the schema declares a search field, so this cannot be
            raise StorageError(f"kind {query.kind!r} has no search index")
        params: list[Any] = []
        where = where_sql(plan, tenant, query.where, params) if query.where else None
        args = (plan.search, plan.table, where, params, tenant, query, found)
        conn = self._conn()
        top = exact_select(*args)
        with driver_errors():
            if top is not None:  # every term a whole word: the best tier, often a full page
                ids = conn.execute(*top).fetchall()
                if len(ids) == query.limit:
                    return [Hit(query.kind, id, 3 * len(found)) for (id,) in ids]
            rows = conn.execute(*search_select(*args)).fetchall()
        return [Hit(query.kind, id, score) for id, score in rows]

    def commit(self, tenant: str, changes: ChangeSet) -> None:
        """Apply ``changes`` in one ``BEGIN IMMEDIATE`` transaction, or nothing at all.

        The fast path collapses the writes per id and sends them with
        ``executemany``. When a version, key or unique check fails there, the
        transaction rolls back and a second one finds the first failure in
        write order (as `MemoryStore` reports it) and raises it, or, when
        nothing is wrong (two documents swapping a unique value), applies the
        changes with unique values cleared first.
        """
        check_writes(self._ready(), changes.writes)
        if not (changes.writes or changes.events or changes.outbox):
            return
        with driver_errors():
            self._write(tenant, changes)

    def _write(
        self,
        tenant: str,
        changes: ChangeSet,
        then: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Commit ``changes`` (see `commit`), calling ``then(conn)`` in the same transaction."""
        conn = self._conn()
        net = net_writes(changes.writes)
        if net is not None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                apply_changes(conn, self._kinds, tenant, net, changes, careful=False)
                if then is not None:
                    then(conn)
                conn.execute("COMMIT")
                return
            except (Mismatch, sqlite3.IntegrityError):
                self._rollback(conn)
            except BaseException:
                self._rollback(conn)
                raise
            conn = self._conn()  # a new one if the rollback failed and dropped it
        with self._transaction(conn):
            net = diagnose(conn, self._kinds, tenant, changes)
            try:
                apply_changes(conn, self._kinds, tenant, net, changes, careful=True)
            except Mismatch:
                raise StorageError("the commit failed although every check passed") from None
            if then is not None:
                then(conn)

    def erase(
        self, tenant: str, changes: ChangeSet, events: Mapping[str, str], party_id: str | None
    ) -> None:
        """Apply ``changes``, replace event bodies and blank the party's outbox, all or nothing.

        See `crmkit.ports.erasure.Erasing.erase`. Every connection of the store
        runs with ``PRAGMA secure_delete = ON`` (set again before this
        transaction), so SQLite overwrites the old rows, index entries and
        freed pages with zeros instead of leaving them in free space (and the
        search index of each kind the erasure writes is merged, so the erased
        words leave its segments); after
        the commit ``PRAGMA wal_checkpoint(TRUNCATE)`` copies the rewritten
        pages into the file and truncates the write-ahead log, which still
        held the old page images. The checkpoint waits up to the store's
        ``timeout`` for other connections' reads; if they keep reading past
        it, the log keeps the old bytes until the next complete checkpoint
        (at the latest when the last connection closes). Copies outside the
        file (backups, the file system's free blocks) are beyond its reach.
        """
        bodies = check_erasure(changes, events, party_id)
        check_writes(self._ready(), changes.writes)
        with driver_errors():
            # Always on already (see _connect); set again in case the host changed it.
            self._conn().execute("PRAGMA secure_delete = ON")
            self._write(
                tenant, changes, lambda conn: self._erased(conn, tenant, changes, bodies, party_id)
            )
            self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _erased(
        self,
        conn: sqlite3.Connection,
        tenant: str,
        changes: ChangeSet,
        bodies: Mapping[str, str],
        party_id: str | None,
    ) -> None:
        """The erasure's own writes, in its transaction (see `erase`)."""
        erasure.rewrite(conn, tenant, bodies, party_id)
        # FTS5 records a deletion as a new entry and keeps the old words in its
        # segments until they merge: merge them now, so erased words leave the file.
        kinds = {w.doc.kind if isinstance(w, Put) else w.kind for w in changes.writes}
        for name in sorted(kinds):
            table = self._kinds[name].search
            if table is not None:
                purge(conn, table)

    def outbox_of(self, tenant: str, party_id: str) -> list[OutboxEntry]:
        """Every outbox message of ``party_id``, any status, by id (a scan of the tenant's)."""
        check_party(party_id)
        self._ready()
        conn = self._conn()
        with driver_errors():
            return outbox_of(conn, tenant, party_id, "?")

    def read_events(
        self, tenant: str, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[StoredEvent]:
        """Events after position ``after``; positions grow in commit order across all tenants."""
        if limit < 1:
            raise ValidationError("limit", "must be at least 1", limit)
        self._ready()
        conn = self._conn()
        with driver_errors():
            return events.read(conn, tenant, after, limit, stream_id)

    def claim_outbox(self, tenant: str, *, now: int, limit: int, lease: int) -> list[OutboxEntry]:
        """Lease due messages in one short write transaction; no lock is held after it."""
        if limit < 0:
            raise ValidationError("limit", "must not be negative", limit)
        self._ready()
        if limit == 0:
            return []
        conn = self._conn()
        until = now + lease
        with driver_errors(), self._transaction(conn):
            rows = outbox.claim(conn, tenant, now, limit, until)
        return outbox.entries(rows, until)

    def complete_outbox(self, tenant: str, id: str, *, attempt: int, receipt: str) -> None:
        """Mark a message claimed at ``attempt`` delivered."""
        self._ready()
        conn = self._conn()
        with driver_errors():
            outbox.complete(conn, tenant, id, attempt, receipt)

    def fail_outbox(
        self, tenant: str, id: str, *, attempt: int, error: str, retry_at: int | None
    ) -> None:
        """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
        self._ready()
        conn = self._conn()
        with driver_errors():
            outbox.fail(conn, tenant, id, attempt, error, retry_at)

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
