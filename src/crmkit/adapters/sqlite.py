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
* ``crm_fields``: every index field declared so far, to refuse changed types.

Every write runs inside ``BEGIN IMMEDIATE``: a transaction that reads and then
upgrades to a write fails at once with "database is locked" when another
connection wrote in between, whatever the busy timeout. Reads are single
statements in autocommit mode, so no read snapshot outlives a call.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from itertools import chain
from typing import Any, Final, cast

from crmkit.kernel.errors import (
    ConcurrencyConflict,
    DuplicateRecord,
    NotFound,
    SchemaError,
    StorageError,
    ValidationError,
)
from crmkit.ports.query import Condition, Eq, In, Keyset, Query, check_query
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    EventRecord,
    IndexType,
    IndexValue,
    KindSpec,
    OutboxEntry,
    OutboxMessage,
    OutboxStatus,
    Put,
    StoredEvent,
    StoreSchema,
    Write,
    check_writes,
)

SCHEMA_VERSION: Final = 1
"""The layout version this module writes; a file with a higher one raises `SchemaError`."""

_APPLICATION_ID: Final = 0x63726D6B  # "crmk" in the file header: refuse other apps' files
_CHUNK: Final = 500  # values per IN (...) list, far below SQLite's bound-variable limit
_BIG_IN: Final = 256  # a longer In list travels as one JSON array through json_each
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

_BASE_DDL: Final = (
    "CREATE TABLE crm_fields (kind TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " multi INTEGER NOT NULL, is_unique INTEGER NOT NULL, PRIMARY KEY (kind, name))",
    # No declared type on value: no affinity, so 1 and '1' stay different values.
    "CREATE TABLE crm_multi (tenant TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,"
    " value NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tenant, kind, name, value, id))"
    " WITHOUT ROWID",
    "CREATE INDEX crm_multi_by_doc ON crm_multi (tenant, kind, id, name)",
    "CREATE TABLE crm_events (position INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL, id TEXT NOT NULL, stream_kind TEXT NOT NULL,"
    " stream_id TEXT NOT NULL, version INTEGER NOT NULL, event_type TEXT NOT NULL,"
    " schema_version INTEGER NOT NULL, occurred_at INTEGER NOT NULL, body TEXT NOT NULL,"
    " UNIQUE (tenant, stream_id, version))",
    "CREATE INDEX crm_events_by_tenant ON crm_events (tenant, position)",
    "CREATE TABLE crm_outbox (tenant TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,"
    " channel TEXT NOT NULL, purpose TEXT NOT NULL, party_id TEXT, body TEXT NOT NULL,"
    " available_at INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " lease_until INTEGER, last_error TEXT, receipt TEXT,"
    " PRIMARY KEY (tenant, id), UNIQUE (tenant, key))",
    "CREATE INDEX crm_outbox_due ON crm_outbox (tenant, status, available_at, id)",
)
_EVENT_COLUMNS: Final = (
    "id, stream_kind, stream_id, version, event_type, schema_version, occurred_at, body"
)
_INSERT_EVENT: Final = (
    f"INSERT INTO crm_events (tenant, {_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_READ_EVENTS: Final = (
    f"SELECT position, {_EVENT_COLUMNS} FROM crm_events WHERE tenant = ? AND position > ?"
)
_INSERT_OUTBOX: Final = (
    "INSERT INTO crm_outbox (tenant, id, key, channel, purpose, party_id, body, available_at,"
    " status, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)"
)
_DUE_OUTBOX: Final = (
    "SELECT id, key, channel, purpose, party_id, body, available_at, attempts, last_error,"
    " receipt FROM crm_outbox WHERE tenant = ? AND status = 'pending' AND available_at <= ?"
    " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY available_at, id LIMIT ?"
)
_CLAIMED: Final = " WHERE tenant = ? AND id = ? AND status = 'pending' AND attempts = ?"


def _q(name: str) -> str:
    """Quote an identifier (names are validated tokens already; quoting costs nothing)."""
    return '"' + name.replace('"', '""') + '"'


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _index(text: str) -> dict[str, IndexValue]:
    """Decode the ``_index`` column: JSON keeps bools and ints apart; lists become tuples."""
    if text == "{}":
        return {}
    index: dict[str, Any] = json.loads(text)
    for name, value in index.items():
        if type(value) is list:
            index[name] = tuple(value)
    return index


class _LazyIndex(Mapping[str, IndexValue]):
    """A document's index values, decoded on first use: most reads never look at them."""

    __slots__ = ("_data", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._data: dict[str, IndexValue] | None = None

    def _decoded(self) -> dict[str, IndexValue]:
        if self._data is None:
            self._data = _index(self._text)
        return self._data

    def __getitem__(self, name: str) -> IndexValue:
        # Callers often ask for one field (the unit of work reads its idempotency
        # key on every load). A key is a token, written as "name" in the JSON:
        # when that text is missing, so is the key, and nothing needs decoding.
        if self._data is None and f'"{name}"' not in self._text:
            raise KeyError(name)
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())


def _lazy(text: str) -> Mapping[str, IndexValue]:
    return {} if text == "{}" else _LazyIndex(text)


def _translate(exc: sqlite3.Error) -> StorageError:
    """The crmkit error for a driver error (the caller chains the original)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(f"the database is locked: another writer held it too long ({exc})")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return StorageError("the store is closed")
    return StorageError(f"SQLite failed: {exc} ({name})")


@contextmanager
def _driver_errors() -> Iterator[None]:
    """Turn everything ``sqlite3`` raises into crmkit's error tree."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc) from exc
    except (UnicodeEncodeError, OverflowError) as exc:
        raise _bad_value(exc) from exc


def _bad_value(exc: UnicodeEncodeError | OverflowError) -> ValidationError:
    """A value that the driver cannot bind (Python accepts both; SQLite does not)."""
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        return ValidationError("text", "holds a lone surrogate, which SQLite cannot store")
    return ValidationError("integer", "does not fit a signed 64-bit integer")


class _Mismatch(Exception):
    """A version or key check failed while applying: roll back and diagnose."""


class _Kind:
    """The SQL of one kind, built once when the store opens."""

    def __init__(self, spec: KindSpec, known: dict[str, tuple[str, bool, bool]]) -> None:
        self.name = spec.kind
        self.table = table = _q("doc_" + spec.kind)
        self.singles = tuple(field.name for field in spec.indexes if not field.multi)
        self.multis = tuple(field.name for field in spec.indexes if field.multi)
        self.uniques = tuple(field.name for field in spec.indexes if field.unique)
        # Fields declared once and dropped since: a rewrite nulls them, as the
        # new document carries no value for them.
        stale = [name for name, (_, multi, _) in known.items() if not multi]
        stale = [name for name in stale if name not in self.singles]
        self.clears_multi = any(multi for _, multi, _ in known.values())
        cols = "".join(", " + _q(name) for name in self.singles)
        sets = "".join(f", {_q(name)} = ?" for name in self.singles)
        sets += "".join(f", {_q(name)} = NULL" for name in stale)
        self.get_sql = f"SELECT version, body, _index FROM {table} WHERE tenant = ? AND id = ?"
        self.insert_sql = (
            f"INSERT INTO {table} (tenant, id, version, body, _index{cols})"
            f" VALUES ({_marks(5 + len(self.singles))})"
        )
        self.update_sql = (
            f"UPDATE {table} SET version = ?, body = ?, _index = ?{sets}"
            " WHERE tenant = ? AND id = ? AND version = ?"
        )
        self.delete_sql = f"DELETE FROM {table} WHERE tenant = ? AND id = ? AND version = ?"
        self.exists_sql = f"SELECT 1 FROM {table} WHERE tenant = ? AND id = ?"
        self.clear_sql = (
            f"UPDATE {table} SET "
            + ", ".join(f"{_q(name)} = NULL" for name in self.uniques)
            + " WHERE tenant = ? AND id = ?"
        )

    def values(self, doc: Document) -> tuple[Any, ...]:
        """Version, body, index JSON and single-valued columns of ``doc``."""
        index = doc.index
        encoded = _encode(index if type(index) is dict else dict(index)) if index else "{}"
        return (doc.version, doc.body, encoded, *[index.get(name) for name in self.singles])

    def multi_rows(self, tenant: str, doc: Document, rows: list[tuple[Any, ...]]) -> None:
        """Append the side-table rows of ``doc``; repeated values are stored once."""
        for name in self.multis:
            values = doc.index.get(name)
            if values:
                rows.extend(
                    (tenant, self.name, name, value, doc.id)
                    for value in dict.fromkeys(values)  # type: ignore[arg-type]
                )


class _KindWrites:
    """The net effect of a change set on one kind, keyed by each id's first expected version."""

    __slots__ = ("absent", "deletes", "inserts", "updates")

    def __init__(self) -> None:
        self.inserts: list[Document] = []
        self.updates: list[tuple[Document, int]] = []
        self.deletes: list[tuple[str, int]] = []
        self.absent: list[str] = []  # created and deleted again: must not exist now


def _target(write: Write) -> tuple[str, str, Document | None]:
    if isinstance(write, Put):
        return write.doc.kind, write.doc.id, write.doc
    return write.kind, write.id, None


def _net(writes: Sequence[Write]) -> dict[str, _KindWrites] | None:
    """Collapse writes to one statement per id; None when they contradict each other."""
    first: dict[tuple[str, str], int] = {}
    final: dict[tuple[str, str], Document | None] = {}
    for write in writes:
        kind, id, doc = _target(write)
        key = (kind, id)
        if key in final:
            previous = final[key]
            if (0 if previous is None else previous.version) != write.expected_version:
                return None
        else:
            first[key] = write.expected_version
        final[key] = doc
    groups: dict[str, _KindWrites] = {}
    for (kind, id), doc in final.items():
        group = groups.get(kind) or groups.setdefault(kind, _KindWrites())
        expected = first[kind, id]
        if expected == 0 and doc is not None:
            group.inserts.append(doc)
        elif expected == 0:
            group.absent.append(id)
        elif doc is not None:
            group.updates.append((doc, expected))
        else:
            group.deletes.append((id, expected))
    return groups


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
        self._kinds: dict[str, _Kind] = {}
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
            with _driver_errors():
                conn = sqlite3.connect(
                    self._path,
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=False,  # so that close() can close every thread's
                )
                try:
                    conn.execute("PRAGMA synchronous = NORMAL")
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
        with _driver_errors():
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise StorageError(f"SQLite refused WAL mode for {self._path!r}")
            with self._transaction(conn):
                known = _migrate(conn, schema)
        self._schema = schema
        self._kinds = {spec.kind: _Kind(spec, known[spec.kind]) for spec in schema.kinds}

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
            raise _translate(exc) from exc
        except (UnicodeEncodeError, OverflowError) as exc:
            raise _bad_value(exc) from exc
        if row is None:
            return None
        return Document(kind, id, row[0], row[1], _lazy(row[2]))

    def query(self, tenant: str, query: Query) -> list[Document]:
        """Documents matching ``query``, translated to one SELECT with bound parameters."""
        check_query(self._ready().kind(query.kind), query)
        plan = self._kinds.get(query.kind)
        if plan is None:  # closed by another thread since the check above
            raise StorageError("the store is closed")
        text, params = _select(plan, tenant, query)
        conn = self._conn()
        with _driver_errors():
            rows = conn.execute(text, params).fetchall()
        kind = query.kind
        return [
            Document(kind, id, version, body, _lazy(index)) for id, version, body, index in rows
        ]

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
        conn = self._conn()
        net = _net(changes.writes)
        with _driver_errors():
            if net is not None:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    self._apply(conn, tenant, net, changes, careful=False)
                    conn.execute("COMMIT")
                    return
                except (_Mismatch, sqlite3.IntegrityError):
                    self._rollback(conn)
                except BaseException:
                    self._rollback(conn)
                    raise
                conn = self._conn()  # a new one if the rollback failed and dropped it
            with self._transaction(conn):
                net = self._diagnose(conn, tenant, changes)
                try:
                    self._apply(conn, tenant, net, changes, careful=True)
                except _Mismatch:
                    raise StorageError("the commit failed although every check passed") from None

    def read_events(
        self, tenant: str, *, after: int = 0, limit: int = 1000, stream_id: str | None = None
    ) -> list[StoredEvent]:
        """Events after position ``after``; positions grow in commit order across all tenants."""
        if limit < 1:
            raise ValidationError("limit", "must be at least 1", limit)
        self._ready()
        params: tuple[Any, ...] = (tenant, after, limit)
        text = _READ_EVENTS + " ORDER BY position LIMIT ?"
        if stream_id is not None:
            text = _READ_EVENTS + " AND stream_id = ? ORDER BY position LIMIT ?"
            params = (tenant, after, stream_id, limit)
        conn = self._conn()
        with _driver_errors():
            rows = conn.execute(text, params).fetchall()
        return [StoredEvent(row[0], EventRecord(*row[1:])) for row in rows]

    def claim_outbox(self, tenant: str, *, now: int, limit: int, lease: int) -> list[OutboxEntry]:
        """Lease due messages in one short write transaction; no lock is held after it."""
        if limit < 0:
            raise ValidationError("limit", "must not be negative", limit)
        self._ready()
        if limit == 0:
            return []
        conn = self._conn()
        until = now + lease
        with _driver_errors(), self._transaction(conn):
            rows = conn.execute(_DUE_OUTBOX, (tenant, now, now, limit)).fetchall()
            conn.executemany(
                "UPDATE crm_outbox SET attempts = attempts + 1, lease_until = ?"
                " WHERE tenant = ? AND id = ?",
                [(until, tenant, row[0]) for row in rows],
            )
        return [
            OutboxEntry(
                OutboxMessage(*row[:7]), OutboxStatus.PENDING, row[7] + 1, until, row[8], row[9]
            )
            for row in rows
        ]

    def complete_outbox(self, tenant: str, id: str, *, attempt: int, receipt: str) -> None:
        """Mark a message claimed at ``attempt`` delivered."""
        self._outbox_update(
            tenant,
            id,
            attempt,
            "UPDATE crm_outbox SET status = 'delivered', lease_until = NULL, receipt = ?",
            receipt,
        )

    def fail_outbox(
        self, tenant: str, id: str, *, attempt: int, error: str, retry_at: int | None
    ) -> None:
        """Record a failed delivery: retry at ``retry_at``, or dead when it is None."""
        if retry_at is None:
            self._outbox_update(
                tenant,
                id,
                attempt,
                "UPDATE crm_outbox SET status = 'dead', lease_until = NULL, last_error = ?",
                error,
            )
        else:
            self._outbox_update(
                tenant,
                id,
                attempt,
                "UPDATE crm_outbox SET available_at = ?, lease_until = NULL, last_error = ?",
                retry_at,
                error,
            )

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

    # --- commit internals ----------------------------------------------------

    def _apply(
        self,
        conn: sqlite3.Connection,
        tenant: str,
        net: dict[str, _KindWrites],
        changes: ChangeSet,
        *,
        careful: bool,
    ) -> None:
        for name, writes in net.items():
            kind = self._kinds[name]
            if writes.deletes:
                rows = [(tenant, id, version) for id, version in writes.deletes]
                _expect(conn.executemany(kind.delete_sql, rows), len(rows))
            if careful and kind.uniques and writes.updates:
                # Free the unique values of rewritten rows first, so that two
                # documents may swap values within one change set.
                conn.executemany(kind.clear_sql, [(tenant, doc.id) for doc, _ in writes.updates])
            if writes.updates:
                rows = [(*kind.values(doc), tenant, doc.id, v) for doc, v in writes.updates]
                _expect(conn.executemany(kind.update_sql, rows), len(rows))
            if writes.inserts:
                conn.executemany(
                    kind.insert_sql, [(tenant, doc.id, *kind.values(doc)) for doc in writes.inserts]
                )
            for id in writes.absent:
                if conn.execute(kind.exists_sql, (tenant, id)).fetchone() is not None:
                    raise _Mismatch
            if kind.clears_multi:
                _write_multi(conn, tenant, kind, writes)
        if changes.events:
            conn.executemany(
                _INSERT_EVENT,
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
                    for e in changes.events
                ],
            )
        if changes.outbox:
            conn.executemany(
                _INSERT_OUTBOX,
                [
                    (tenant, m.id, m.key, m.channel, m.purpose, m.party_id, m.body, m.available_at)
                    for m in changes.outbox
                ],
            )

    def _diagnose(
        self, conn: sqlite3.Connection, tenant: str, changes: ChangeSet
    ) -> dict[str, _KindWrites]:
        """Raise the error `MemoryStore` would raise for ``changes``; else their net writes."""
        stored = self._versions(conn, tenant, changes.writes)
        staged: dict[tuple[str, str], int] = {}
        for write in changes.writes:
            kind, id, doc = _target(write)
            current = staged[kind, id] if (kind, id) in staged else stored.get((kind, id), 0)
            if current != write.expected_version:
                if write.expected_version == 0:
                    raise DuplicateRecord(kind, "id")
                raise ConcurrencyConflict(kind, id, write.expected_version)
            staged[kind, id] = 0 if doc is None else doc.version
        net = _net(changes.writes)
        if net is None:  # cannot happen once the replay above passed
            raise StorageError("the change set contradicts itself")
        for name, writes in net.items():
            self._check_unique(conn, tenant, self._kinds[name], writes)
        _check_events(conn, tenant, changes.events)
        _check_outbox(conn, tenant, changes.outbox)
        return net

    def _versions(
        self, conn: sqlite3.Connection, tenant: str, writes: Sequence[Write]
    ) -> dict[tuple[str, str], int]:
        ids: dict[str, dict[str, None]] = {}
        for write in writes:
            kind, id, _ = _target(write)
            ids.setdefault(kind, {})[id] = None
        found: dict[tuple[str, str], int] = {}
        for kind, wanted in ids.items():
            table = self._kinds[kind].table
            for chunk in _chunks(list(wanted)):
                rows = conn.execute(
                    f"SELECT id, version FROM {table} WHERE tenant = ?"
                    f" AND id IN ({_marks(len(chunk))})",
                    (tenant, *chunk),
                )
                found.update(((kind, id), version) for id, version in rows)
        return found

    def _check_unique(
        self, conn: sqlite3.Connection, tenant: str, kind: _Kind, writes: _KindWrites
    ) -> None:
        if not kind.uniques:
            return
        final = [*writes.inserts, *(doc for doc, _ in writes.updates)]
        touched = {doc.id for doc in final}
        touched.update(id for id, _ in writes.deletes)
        for field in kind.uniques:  # in declaration order, as MemoryStore checks them
            values: dict[Any, None] = {}
            for doc in final:
                value = doc.index.get(field)
                if value is not None:
                    if value in values:
                        raise DuplicateRecord(kind.name, field)
                    values[value] = None
            for chunk in _chunks(list(values)):
                rows = conn.execute(
                    f"SELECT id FROM {kind.table} WHERE tenant = ?"
                    f" AND {_q(field)} IN ({_marks(len(chunk))})",
                    (tenant, *chunk),
                ).fetchall()  # read to the end: no statement stays open
                if any(id not in touched for (id,) in rows):
                    raise DuplicateRecord(kind.name, field)

    def _outbox_update(self, tenant: str, id: str, attempt: int, update: str, *values: Any) -> None:
        self._ready()
        conn = self._conn()
        with _driver_errors():
            if conn.execute(update + _CLAIMED, (*values, tenant, id, attempt)).rowcount == 1:
                return
            exists = conn.execute(
                "SELECT 1 FROM crm_outbox WHERE tenant = ? AND id = ?", (tenant, id)
            ).fetchone()
        if exists is None:
            raise NotFound("outbox", id)
        raise ConcurrencyConflict("outbox", id, attempt)


def _check_events(conn: sqlite3.Connection, tenant: str, events: Sequence[EventRecord]) -> None:
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


def _check_outbox(conn: sqlite3.Connection, tenant: str, outbox: Sequence[OutboxMessage]) -> None:
    """Raise for the first message whose key, then id, is stored or earlier in the batch."""
    taken: dict[str, set[str]] = {"key": set(), "id": set()}
    for message in outbox:
        for field, value in (("key", message.key), ("id", message.id)):
            stored = conn.execute(
                f"SELECT 1 FROM crm_outbox WHERE tenant = ? AND {field} = ?", (tenant, value)
            ).fetchone()
            if stored or value in taken[field]:
                raise DuplicateRecord("outbox", field)
            taken[field].add(value)


def _expect(cursor: sqlite3.Cursor, count: int) -> None:
    if cursor.rowcount != count:
        raise _Mismatch


def _write_multi(conn: sqlite3.Connection, tenant: str, kind: _Kind, writes: _KindWrites) -> None:
    gone = [(tenant, kind.name, id) for id, _ in writes.deletes]
    gone += [(tenant, kind.name, doc.id) for doc, _ in writes.updates]
    if gone:
        conn.executemany("DELETE FROM crm_multi WHERE tenant = ? AND kind = ? AND id = ?", gone)
    rows: list[tuple[Any, ...]] = []
    for doc in chain(writes.inserts, (doc for doc, _ in writes.updates)):
        kind.multi_rows(tenant, doc, rows)
    if rows:
        conn.executemany("INSERT INTO crm_multi VALUES (?, ?, ?, ?, ?)", rows)


def _close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):  # best effort: the handle is gone either way
        conn.close()


# --- schema ----------------------------------------------------------------


def _migrate(
    conn: sqlite3.Connection, schema: StoreSchema
) -> dict[str, dict[str, tuple[str, bool, bool]]]:
    """Create or extend the layout inside the caller's transaction; the known fields."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    application = conn.execute("PRAGMA application_id").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the file has layout version {version}, this crmkit reads up to {SCHEMA_VERSION}:"
            " upgrade crmkit"
        )
    if application not in (0, _APPLICATION_ID):
        raise SchemaError("the file belongs to another application (PRAGMA application_id)")
    if version == 0:
        for ddl in _BASE_DDL:
            conn.execute(ddl)
        conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    known: dict[str, dict[str, tuple[str, bool, bool]]] = {}
    for kind, name, type_, multi, unique in conn.execute(
        "SELECT kind, name, type, multi, is_unique FROM crm_fields"
    ):
        known.setdefault(kind, {})[name] = (type_, bool(multi), bool(unique))
    for spec in schema.kinds:
        _migrate_kind(conn, spec, known.setdefault(spec.kind, {}))
    return known


def _migrate_kind(
    conn: sqlite3.Connection, spec: KindSpec, known: dict[str, tuple[str, bool, bool]]
) -> None:
    table = _q("doc_" + spec.kind)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (tenant TEXT NOT NULL, id TEXT NOT NULL,"
        " version INTEGER NOT NULL, body TEXT NOT NULL, _index TEXT NOT NULL,"
        " PRIMARY KEY (tenant, id))"
    )
    for field in spec.indexes:
        shape = (str(field.type), field.multi, field.unique)
        old = known.get(field.name)
        if old is not None:
            if old != shape:
                raise SchemaError(
                    f"index field {spec.kind}.{field.name} was declared as {old}, now as"
                    f" {shape}: crmkit cannot migrate a changed field"
                )
            continue
        if not field.multi:
            column = _q(field.name)
            sql_type = "TEXT" if field.type is IndexType.TEXT else "INTEGER"
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            if field.unique:
                conn.execute(
                    f"CREATE UNIQUE INDEX {_q(f'ux:{spec.kind}:{field.name}')}"
                    f" ON {table} (tenant, {column}) WHERE {column} IS NOT NULL"
                )
            else:
                name = _q(f"ix:{spec.kind}:{field.name}")
                conn.execute(f"CREATE INDEX {name} ON {table} (tenant, {column})")
        conn.execute(
            "INSERT INTO crm_fields VALUES (?, ?, ?, ?, ?)", (spec.kind, field.name, *shape)
        )
        known[field.name] = shape


# --- query translation -----------------------------------------------------


def _select(kind: _Kind, tenant: str, query: Query) -> tuple[str, list[Any]]:
    """One SELECT for ``query``; every value is a bound parameter, in clause order."""
    params: list[Any] = [tenant]
    where = ["t.tenant = ?"]
    for cond in query.where:
        where.append(_condition(kind, tenant, cond, params))
    if query.after is not None:
        where.append(_after(query, query.after, params))
    order = []
    for key in query.order_by:
        column = "t." + _q(key.field)
        order.append(f"{column} IS NULL, {column} {'DESC' if key.descending else 'ASC'}")
    order.append("t.id DESC" if query.id_descending else "t.id ASC")
    params.append(query.limit)
    text = (
        f"SELECT t.id, t.version, t.body, t._index FROM {kind.table} AS t"
        f" WHERE {' AND '.join(where)} ORDER BY {', '.join(order)} LIMIT ?"
    )
    return text, params


def _in_list(values: Sequence[Any], params: list[Any]) -> str:
    if len(values) > _BIG_IN:
        params.append(_encode(list(values)))
        return "(SELECT value FROM json_each(?))"
    params.extend(values)
    return f"({_marks(len(values))})"


def _condition(kind: _Kind, tenant: str, cond: Condition, params: list[Any]) -> str:
    if cond.field in kind.multis:
        if isinstance(cond, Eq) and cond.value is None:
            params.extend((kind.name, cond.field))
            return (
                "NOT EXISTS (SELECT 1 FROM crm_multi AS m WHERE m.tenant = t.tenant"
                " AND m.kind = ? AND m.name = ? AND m.id = t.id)"
            )
        # check_query refuses a Range on a multi-valued field.
        values = (cond.value,) if isinstance(cond, Eq) else cast(In, cond).values
        if not values:
            return "0"
        params.extend((tenant, kind.name, cond.field))
        # An uncorrelated IN list of ids: SQLite reads the matching side rows
        # once through the primary key, then looks the documents up by id.
        return (
            "t.id IN (SELECT m.id FROM crm_multi AS m WHERE m.tenant = ? AND m.kind = ?"
            f" AND m.name = ? AND m.value IN {_in_list(values, params)})"
        )
    column = "t.id" if cond.field == "id" else "t." + _q(cond.field)
    if isinstance(cond, Eq):
        if cond.value is None:
            return f"{column} IS NULL"
        params.append(cond.value)
        return f"{column} = ?"
    if isinstance(cond, In):
        return f"{column} IN {_in_list(cond.values, params)}" if cond.values else "0"
    parts = []
    for op, bound in ((">", cond.gt), (">=", cond.gte), ("<", cond.lt), ("<=", cond.lte)):
        if bound is not None:
            params.append(bound)
            parts.append(f"{column} {op} ?")
    return " AND ".join(parts) if parts else f"{column} IS NOT NULL"


def _after(query: Query, after: Keyset, params: list[Any]) -> str:
    """Rows after the keyset: the expanded OR of ANDs, a null sorting after every value."""
    branches: list[str] = []
    equal: list[str] = []  # the sort keys so far equal the cursor's
    equal_params: list[Any] = []
    for key, value in zip(query.order_by, after.values, strict=True):
        column = "t." + _q(key.field)
        if value is None:
            equal.append(f"{column} IS NULL")  # nothing sorts after a null but a null
            continue
        op = "<" if key.descending else ">"
        branches.append(" AND ".join([*equal, f"({column} {op} ? OR {column} IS NULL)"]))
        params.extend((*equal_params, value))
        equal.append(f"{column} = ?")
        equal_params.append(value)
    branches.append(" AND ".join([*equal, f"t.id {'<' if query.id_descending else '>'} ?"]))
    params.extend((*equal_params, after.id))
    return "(" + " OR ".join(f"({branch})" for branch in branches) + ")"
