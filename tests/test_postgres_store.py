"""What only `PostgresStore` must show: lost-update freedom under load, exact rollback,
the schema guard, shared outbox claims, and driver errors translated.

Every test runs against the real server of ``CRMKIT_TEST_POSTGRES_URL`` in a
fresh schema (see ``conftest.py``) and skips without one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from crmkit.kernel.errors import (
    SchemaError,
    StorageError,
    ValidationError,
)
from crmkit.ports.query import Eq, Query
from crmkit.ports.storage import (
    ChangeSet,
    Document,
    IndexField,
    IndexType,
    KindSpec,
    OutboxMessage,
    Put,
    StoreSchema,
)
from crmkit.testing._storage_data import make_doc, make_event, make_message
from crmkit.testing._workers import COUNTER_SCHEMA, bump_counter
from crmkit.testing.storage import CONTRACT_SCHEMA

psycopg = pytest.importorskip("psycopg")

from crmkit.adapters.postgres import SCHEMA_VERSION, PostgresStore  # noqa: E402


@pytest.fixture
def conninfo(postgres_schemas: Callable[[], str]) -> str:
    return postgres_schemas()


@contextmanager
def _opened(conninfo: str, schema: StoreSchema = CONTRACT_SCHEMA) -> Iterator[PostgresStore]:
    store = PostgresStore(conninfo)
    try:
        store.open(schema)
        yield store
    finally:
        store.close()


@pytest.fixture
def store(conninfo: str) -> Iterator[PostgresStore]:
    with _opened(conninfo) as store:
        yield store


def _dump(conninfo: str) -> dict[str, list[str]]:
    """Every row of every table in the store's schema, sorted: the whole state.

    Sequences are left out: a rolled-back insert still uses up its numbers.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " ORDER BY tablename"
            )
        ]
        assert "crm_events" in tables
        return {
            table: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }


# --- concurrency: no lost update --------------------------------------------


def test_eight_threads_lose_no_update(conninfo: str) -> None:
    """8 threads make 500 conflicting read-modify-write updates each on one document."""
    threads, attempts = 8, 500
    with _opened(conninfo, COUNTER_SCHEMA) as store:
        store.commit("t", ChangeSet((Put(Document("counter", "c", 1, '{"n": 0}'), 0),)))
        start = threading.Barrier(threads)
        results: list[tuple[int, int, list[str]]] = []

        def race() -> None:
            start.wait(timeout=60)
            results.append(bump_counter(store, "t", "counter", "c", attempts))

        racers = [threading.Thread(target=race) for _ in range(threads)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert [unexpected for _, _, unexpected in results] == [[]] * threads
        successes = sum(ok for ok, _, _ in results)
        conflicts = sum(lost for _, lost, _ in results)
        assert successes + conflicts == threads * attempts
        assert conflicts > 0  # they did race
        final = store.get("t", "counter", "c")
        assert final is not None
        assert (json.loads(final.body)["n"], final.version) == (successes, successes + 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_opens_its_own_connection(store: PostgresStore) -> None:
    """The child writes through its own session; the parent's survives the child's exit."""
    store.commit("t", ChangeSet((Put(Document("note", "n", 1, '{"n": 0}'), 0),)))
    parent = store._conn()  # there is no public way to reach this thread's connection

    def child() -> None:
        ok, lost, unexpected = bump_counter(store, "t", "note", "n", 10)
        os._exit(0 if (ok, lost, unexpected) == (10, 0, []) else 1)

    worker = multiprocessing.get_context("fork").Process(target=child)
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert bump_counter(store, "t", "note", "n", 1) == (1, 0, [])
    assert store._conn() is parent
    final = store.get("t", "note", "n")
    assert final is not None
    assert (json.loads(final.body)["n"], final.version) == (11, 12)


# --- atomicity: a failed commit leaves every table as it was -------------------


def test_a_server_error_mid_commit_leaves_every_table_as_it_was(
    store: PostgresStore, conninfo: str
) -> None:
    """The backend is killed while the commit waits on a lock: nothing is written.

    (Commits that fail a check are in ``test_sql_stores.py``, on both SQL adapters.)
    """
    store.commit("t1", ChangeSet((Put(make_doc("a"), 0),)))
    before = _dump(conninfo)
    changes = ChangeSet(
        (
            *(Put(make_doc(f"n{i:03}", tags=("red",)), 0) for i in range(300)),
            Put(make_doc("a", 2), 1),
        ),
        tuple(make_event(f"n{i:03}", 1) for i in range(50)),
        (make_message("k1"),),
    )
    with psycopg.connect(conninfo) as blocker:  # holds the outbox, so the commit waits
        blocker.execute("LOCK TABLE crm_outbox IN EXCLUSIVE MODE")
        failed: list[BaseException] = []

        def commit() -> None:
            try:
                store.commit("t1", changes)
            except BaseException as exc:
                failed.append(exc)

        worker = threading.Thread(target=commit)
        worker.start()
        _wait_for_lock_waiter(blocker)
        blocker.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT granted"
            " AND relation = 'crm_outbox'::regclass"
        )
        worker.join(timeout=60)
        blocker.rollback()
    assert len(failed) == 1
    assert isinstance(failed[0], StorageError)
    assert _dump(conninfo) == before
    store.commit("t1", changes)  # the store reconnects
    assert store.get("t1", "item", "n001") is not None


def _wait_for_lock_waiter(conn: Any) -> None:
    for _ in range(3000):
        waiting = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'crm_outbox'::regclass"
        ).fetchone()
        if waiting[0]:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the commit never waited for the lock")


# --- the outbox is shared by several dispatchers ------------------------------


def test_claims_skip_messages_another_dispatcher_holds(store: PostgresStore, conninfo: str) -> None:
    store.commit("t", ChangeSet(outbox=tuple(make_message(f"k{i}") for i in range(6))))
    with psycopg.connect(conninfo) as other:  # a dispatcher in the middle of its claim
        held = other.execute(
            "SELECT id FROM crm_outbox WHERE tenant = 't' ORDER BY id LIMIT 2 FOR UPDATE"
        ).fetchall()
        claimed = store.claim_outbox("t", now=0, limit=10, lease=100)  # does not wait
        other.rollback()
    assert sorted(e.message.id for e in claimed) == [f"m-k{i}" for i in range(2, 6)]
    assert {row[0] for row in held} == {"m-k0", "m-k1"}
    assert [e.message.id for e in store.claim_outbox("t", now=0, limit=10, lease=100)] == [
        "m-k0",
        "m-k1",
    ]


def test_concurrent_claims_never_hand_out_a_message_twice(store: PostgresStore) -> None:
    store.commit("t", ChangeSet(outbox=tuple(make_message(f"k{i:03}") for i in range(200))))
    claimed: list[str] = []
    start = threading.Barrier(4)

    def dispatcher() -> None:
        start.wait(timeout=60)
        while batch := store.claim_outbox("t", now=0, limit=7, lease=10**9):
            for entry in batch:
                store.complete_outbox("t", entry.message.id, attempt=1, receipt="ok")
            claimed.extend(entry.message.id for entry in batch)

    workers = [threading.Thread(target=dispatcher) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(claimed) == [f"m-k{i:03}" for i in range(200)]


# --- reads hold no transaction ------------------------------------------------


def test_reads_open_no_transaction(store: PostgresStore) -> None:
    store.commit("t", ChangeSet((Put(make_doc("a", tags=("red",)), 0),)))
    assert store.get("t", "item", "a") is not None
    store.query("t", Query("item", (Eq("tags", "red"),)))
    conn = store._conn()  # this thread's connection: there is no public way to reach it
    assert conn.autocommit
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


# --- schema -----------------------------------------------------------------

_V1 = StoreSchema((KindSpec("item", (IndexField("name", IndexType.TEXT),)),))


def test_the_layout_is_stamped(conninfo: str) -> None:
    """crm_meta names crmkit and the layout (reopening: see ``test_sql_stores.py``)."""
    with _opened(conninfo, _V1):
        pass
    with psycopg.connect(conninfo) as conn:
        meta = dict(conn.execute("SELECT key, value FROM crm_meta").fetchall())
    assert meta == {"application": "crmkit", "schema_version": str(SCHEMA_VERSION)}


@pytest.mark.parametrize(
    "tamper",
    [
        f"UPDATE crm_meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'",
        "UPDATE crm_meta SET value = 'other' WHERE key = 'application'",
        "DROP TABLE crm_meta",
    ],
    ids=["newer layout", "another application", "no crm_meta"],
)
def test_a_foreign_or_newer_layout_is_refused(conninfo: str, tamper: str) -> None:
    with _opened(conninfo, _V1):
        pass
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(tamper)
    with pytest.raises(SchemaError), _opened(conninfo, _V1):
        pass


def test_concurrent_first_opens_migrate_once(conninfo: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            with _opened(conninfo, CONTRACT_SCHEMA):
                pass
        except BaseException as exc:
            errors.append(exc)

    openers = [threading.Thread(target=open_one) for _ in range(4)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join()
    assert errors == []


# --- driver errors never leak -----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_raises_storage_error() -> None:
    store = PostgresStore(f"postgresql://nobody@127.0.0.1:{_free_port()}/none", connect_timeout=2)
    with pytest.raises(StorageError, match="unreachable"):
        store.open(_V1)
    store.close()


def test_a_vanished_server_connection_raises_storage_error_then_reconnects(
    store: PostgresStore, postgres_url: str
) -> None:
    store.commit("t", ChangeSet((Put(make_doc("a"), 0),)))
    pid = store._conn().info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StorageError):
        store.get("t", "item", "a")
    assert store.get("t", "item", "a") is not None  # a new connection
    store.commit("t", ChangeSet((Put(make_doc("b"), 0),)))


@pytest.mark.parametrize(
    "changes",
    [
        ChangeSet((Put(make_doc("\ud800"), 0),)),
        ChangeSet((Put(make_doc("a", name="nul\x00"), 0),)),
        ChangeSet((Put(make_doc("a", tags=("nul\x00",)), 0),)),
        ChangeSet((Put(Document("item", "a", 1, "not json"), 0),)),
        ChangeSet(events=(make_event("a", 2**63),)),
        ChangeSet(outbox=(OutboxMessage("m", "k", "email", "x", "\udfff", "{}", 0),)),
    ],
    ids=["lone surrogate", "NUL", "NUL in a tag", "body not JSON", "huge version", "surrogate"],
)
def test_values_postgres_cannot_store_raise_validation_error(
    store: PostgresStore, changes: ChangeSet
) -> None:
    with pytest.raises(ValidationError):
        store.commit("t", changes)
    with pytest.raises(ValidationError):
        store.get("t", "item", "\ud800")
    assert store.read_events("t") == []
    assert store.query("t", Query("item")) == []
