"""What only `SqliteStore` must show: byte-exact rollback, races, migrations, driver errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from crmkit.adapters.sqlite import SCHEMA_VERSION, SqliteStore
from crmkit.kernel.errors import (
    SchemaError,
    StorageError,
    ValidationError,
)
from crmkit.ports.query import MAX_LIMIT, Eq, Query
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    EventRecord,
    IndexField,
    IndexType,
    KindSpec,
    OutboxMessage,
    Put,
    StoreSchema,
)
from crmkit.testing._workers import COUNTER_SCHEMA, bump_counter, counter_process
from crmkit.testing.storage import CONTRACT_SCHEMA


def _doc(id: str, version: int = 1, kind: str = "item", **index: object) -> Document:
    return Document(kind, id, version, json.dumps({"id": id, "v": version}), index)  # type: ignore[arg-type]


def _event(stream: str, version: int) -> EventRecord:
    return EventRecord(f"e-{stream}-{version}", "item", stream, version, "changed", 1, 0, "{}")


def _message(key: str) -> OutboxMessage:
    return OutboxMessage(f"m-{key}", key, "email", "service", None, "{}", 0)


def _dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(path)
    store.open(CONTRACT_SCHEMA)
    yield store
    store.close()


# --- atomicity, down to the bytes of the file --------------------------------


@contextmanager
def _interrupted_after(store: SqliteStore, rows: int) -> Iterator[None]:
    """Interrupt the store's next statement once its transaction has written ``rows`` rows."""
    conn = store._conn()  # this thread's connection: there is no public way to reach it
    start = conn.total_changes

    def interrupt() -> int:
        return int(conn.in_transaction and conn.total_changes - start >= rows)

    conn.set_progress_handler(interrupt, 20)
    try:
        yield
    finally:
        conn.set_progress_handler(None, 0)


def test_a_fault_mid_commit_leaves_the_file_as_it_was(store: SqliteStore, path: Path) -> None:
    """Interrupted after 150 rows of a 370-row commit: the file is byte for byte as before.

    (The other failures, on both SQL adapters, are in ``test_sql_stores.py``.)
    """
    store.commit("t1", ChangeSet((Put(_doc("a", code="x", tags=("red",)), 0),)))
    before = _dump(path)
    writes = tuple(Put(_doc(f"n{i:03}", code=f"c{i}", tags=("red",)), 0) for i in range(300))
    changes = ChangeSet(writes, tuple(_event(f"n{i:03}", 1) for i in range(50)))
    with _interrupted_after(store, 150), pytest.raises(StorageError, match="interrupt"):
        store.commit("t1", changes)
    assert _dump(path) == before
    store.commit("t1", changes)  # the same changes apply once nothing interrupts them
    assert len(store.query("t1", Query("item", (Eq("tags", "red"),), limit=MAX_LIMIT))) == 301


# --- threads and processes --------------------------------------------------


PAUSE = 0.0005  # between read and write: keeps the racers overlapping, so they conflict


def test_threads_and_processes_lose_no_update(path: Path) -> None:
    """4 threads and 2 spawned processes race 500 read-modify-writes each on one document."""
    attempts, threads, processes = 500, 4, 2
    store = SqliteStore(path)
    store.open(COUNTER_SCHEMA)
    store.commit("t", ChangeSet((Put(Document("counter", "c", 1, '{"n": 0}'), 0),)))
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(threads + processes)
    queue = context.Queue()
    workers = [
        context.Process(
            target=counter_process, args=(str(path), "t", "c", attempts, start, queue, PAUSE)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results: list[tuple[int, int, list[str]]] = []

    def race() -> None:
        start.wait(timeout=120)
        results.append(bump_counter(store, "t", "counter", "c", attempts, PAUSE))

    racers = [threading.Thread(target=race) for _ in range(threads)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    results += [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    queue.close()
    queue.join_thread()
    try:
        assert [worker.exitcode for worker in workers] == [0] * processes
        assert [unexpected for _, _, unexpected in results] == [[]] * (threads + processes)
        successes = sum(ok for ok, _, _ in results)
        conflicts = sum(lost for _, lost, _ in results)
        assert successes + conflicts == attempts * (threads + processes)
        final = store.get("t", "counter", "c")
        assert final is not None
        assert (json.loads(final.body)["n"], final.version) == (successes, successes + 1)
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_opens_its_own_connection(store: SqliteStore) -> None:
    store.commit("t", ChangeSet((Put(Document("note", "n", 1, '{"n": 0}'), 0),)))
    assert store.get("t", "note", "n") is not None  # the parent's connection exists now

    def child() -> None:
        ok, lost, unexpected = bump_counter(store, "t", "note", "n", 10)
        os._exit(0 if (ok, lost, unexpected) == (10, 0, []) else 1)

    worker = multiprocessing.get_context("fork").Process(target=child)
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert bump_counter(store, "t", "note", "n", 1) == (1, 0, [])
    final = store.get("t", "note", "n")
    assert final is not None
    assert (json.loads(final.body)["n"], final.version) == (11, 12)


def test_reads_hold_no_snapshot(store: SqliteStore, path: Path) -> None:
    """After get and query return, a full checkpoint finds no reader in its way."""
    store.commit("t", ChangeSet(tuple(Put(_doc(f"d{i}", tags=("red",)), 0) for i in range(20))))
    store.get("t", "item", "d3")
    store.query("t", Query("item", (Eq("tags", "red"),), limit=3))
    with closing(sqlite3.connect(path)) as other:
        other.execute("INSERT INTO crm_fields VALUES ('x', 'y', 'text', 0, 0)")
        other.commit()
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0


# --- schema -----------------------------------------------------------------

_V1 = StoreSchema((KindSpec("item", (IndexField("name", IndexType.TEXT),)),))


@contextmanager
def _opened(path: Path, schema: StoreSchema) -> Iterator[SqliteStore]:
    store = SqliteStore(path)
    try:
        store.open(schema)
        yield store
    finally:
        store.close()


def test_the_file_is_stamped(path: Path) -> None:
    """WAL mode, and the layout version in ``PRAGMA user_version`` (reopening: see
    ``test_sql_stores.py``)."""
    with _opened(path, CONTRACT_SCHEMA):
        pass
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "pragma", [f"user_version = {SCHEMA_VERSION + 1}", "application_id = 42"], ids=str
)
def test_a_foreign_or_newer_file_is_refused(path: Path, pragma: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA {pragma}")
    with pytest.raises(SchemaError), _opened(path, _V1):
        pass


# --- driver errors never leak -----------------------------------------------


@pytest.mark.parametrize(
    "prepare",
    [
        lambda path: path.write_bytes(b"this is not a database, just some text" * 100),
        lambda path: path.mkdir(),
    ],
    ids=["not a database", "a directory"],
)
def test_an_unusable_file_raises_storage_error(
    path: Path, prepare: Callable[[Path], object]
) -> None:
    prepare(path)
    with pytest.raises(StorageError), _opened(path, _V1):
        pass


def test_a_locked_database_raises_storage_error(path: Path) -> None:
    store = SqliteStore(path, timeout=0.05)
    store.open(CONTRACT_SCHEMA)
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageError, match="locked"):
                store.commit("t", ChangeSet((Put(_doc("a"), 0),)))
            with pytest.raises(StorageError, match="locked"):
                store.claim_outbox("t", now=0, limit=1, lease=1)
            assert store.get("t", "item", "a") is None  # readers are not blocked
            other.execute("ROLLBACK")
        store.commit("t", ChangeSet((Put(_doc("a"), 0),)))
        assert store.get("t", "item", "a") is not None
    finally:
        store.close()


@pytest.mark.parametrize(
    "changes",
    [
        ChangeSet((Put(_doc("\ud800"), 0),)),
        ChangeSet(events=(_event("a", 2**63),)),
        ChangeSet(outbox=(OutboxMessage("m", "k", "email", "x", "\udfff", "{}", 0),)),
    ],
    ids=["lone surrogate", "event version beyond 64 bits", "surrogate in a message"],
)
def test_values_sqlite_cannot_bind_raise_validation_error(
    store: SqliteStore, changes: ChangeSet
) -> None:
    with pytest.raises(ValidationError):
        store.commit("t", changes)
    with pytest.raises(ValidationError):
        store.get("t", "item", "\ud800")
    assert store.read_events("t") == []


def test_in_memory_paths_are_refused() -> None:
    with pytest.raises(ValidationError):
        SqliteStore(":memory:")
