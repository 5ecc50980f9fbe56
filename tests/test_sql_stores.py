"""What both SQL adapters must show beyond the kit: exact rollback, migrations, long lists.

Each test runs on a SQLite file and on PostgreSQL (in a fresh schema of the
server ``CRMKIT_TEST_POSTGRES_URL`` names; skipped without one). A `Place` is
where a store lives, so a test can reopen it with another schema and compare
the whole stored state (every table, row by row) before and after.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from crmkit.adapters.sqlite import SqliteStore
from crmkit.kernel.errors import ConcurrencyConflict, DuplicateRecord, SchemaError
from crmkit.ports.query import MAX_LIMIT, Eq, In, Order, Query, run_query
from crmkit.ports.storage import (
    ChangeSet,
    Delete,
    Document,
    DocumentStore,
    EventRecord,
    IndexField,
    IndexType,
    KindSpec,
    OutboxMessage,
    Put,
    StoreSchema,
)
from crmkit.testing._storage_data import make_doc, make_event, make_message
from crmkit.testing.storage import CONTRACT_SCHEMA


class Place:
    """Where a store lives: it makes stores there and dumps everything they hold."""

    def __init__(self, make: Callable[[], DocumentStore], dump: Callable[[], Any]) -> None:
        self.make = make
        self.dump = dump

    @contextmanager
    def opened(self, schema: StoreSchema = CONTRACT_SCHEMA) -> Iterator[DocumentStore]:
        """A store here, opened with ``schema`` and closed afterwards."""
        store = self.make()
        try:
            store.open(schema)
            yield store
        finally:
            store.close()


def _sqlite_place(path: Path) -> Place:
    def dump() -> list[str]:
        with closing(sqlite3.connect(path)) as conn:
            return list(conn.iterdump())

    return Place(lambda: SqliteStore(path), dump)


def _postgres_place(conninfo: str) -> Place:
    import psycopg

    from crmkit.adapters.postgres import PostgresStore

    def dump() -> dict[str, list[str]]:
        """Every row of every table, sorted (sequences left out: a rollback uses numbers up)."""
        with psycopg.connect(conninfo, autocommit=True) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            ]
            return {
                table: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
                for table in tables
            }

    return Place(lambda: PostgresStore(conninfo), dump)


@pytest.fixture(params=["sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "sqlite":
        return _sqlite_place(tmp_path / "crm.db")
    schemas: Callable[[], str] = request.getfixturevalue("postgres_schemas")
    return _postgres_place(schemas())


@pytest.fixture
def store(place: Place) -> Iterator[DocumentStore]:
    with place.opened() as store:
        yield store


# --- atomicity, down to every row -------------------------------------------


def big_change_set(last: Put | EventRecord | OutboxMessage | None = None) -> ChangeSet:
    """300 new documents, an update, a delete, 50 events and 20 messages, plus ``last``."""
    writes: list[Put | Delete] = [
        Put(make_doc(f"n{i:03}", code=f"c{i}", tags=("red", f"t{i % 3}"), rank=i), 0)
        for i in range(300)
    ]
    writes += [Put(make_doc("a", 2, code="moved", tags=("blue",)), 1), Delete("item", "b", 1)]
    events = [make_event(f"n{i:03}", 1) for i in range(50)]
    outbox = [make_message(f"k{i}") for i in range(1, 21)]
    if isinstance(last, Put):
        writes.append(last)
    elif isinstance(last, EventRecord):
        events.append(last)
    elif isinstance(last, OutboxMessage):
        outbox.append(last)
    return ChangeSet(tuple(writes), tuple(events), tuple(outbox))


def seed(store: DocumentStore) -> None:
    """What `big_change_set` builds on."""
    store.commit(
        "t1",
        ChangeSet(
            (
                Put(make_doc("a", code="x", tags=("red",)), 0),
                Put(make_doc("b", code="y"), 0),
                Put(make_doc("c", code="kept"), 0),
            ),
            (make_event("a", 1),),
            (make_message("k0"),),
        ),
    )


_FAILURES: dict[str, tuple[Put | EventRecord | OutboxMessage, type[Exception]]] = {
    "conflict on the last write": (Put(make_doc("c", 3), 2), ConcurrencyConflict),
    "unique clash on the last write": (Put(make_doc("z", code="kept"), 0), DuplicateRecord),
    "clash on the last event": (make_event("a", 1), ConcurrencyConflict),
    "clash on the last message": (make_message("k0"), DuplicateRecord),
}


@pytest.mark.parametrize("failure", sorted(_FAILURES))
def test_failed_commit_leaves_every_row_as_it_was(
    place: Place, store: DocumentStore, failure: str
) -> None:
    seed(store)
    before = place.dump()
    last, error = _FAILURES[failure]
    with pytest.raises(error):
        store.commit("t1", big_change_set(last))
    assert place.dump() == before
    store.commit("t1", big_change_set())  # the same changes without the failure apply
    assert place.dump() != before
    assert len(store.query("t1", Query("item", (Eq("tags", "red"),), limit=MAX_LIMIT))) == 300


# --- schema -----------------------------------------------------------------

V1 = StoreSchema((KindSpec("item", (IndexField("name", IndexType.TEXT),)),))
V2 = StoreSchema(
    (
        KindSpec(
            "item",
            (
                IndexField("name", IndexType.TEXT),
                IndexField("rank", IndexType.INT),
                IndexField("code", IndexType.TEXT, unique=True),
                IndexField("tags", IndexType.TEXT, multi=True),
            ),
        ),
        KindSpec("other", (IndexField("flag", IndexType.BOOL),)),
    )
)


def test_reopening_keeps_the_data(place: Place) -> None:
    with place.opened() as store:
        store.commit(
            "t",
            ChangeSet((Put(make_doc("a", flag=True, tags=("red",)), 0),), (make_event("a", 1),)),
        )
    with place.opened() as store:
        found = store.get("t", "item", "a")
        assert found is not None
        assert found.index == {"flag": True, "tags": ("red",)}
        assert [d.id for d in store.query("t", Query("item", (Eq("flag", True),)))] == ["a"]
        assert [e.record.stream_id for e in store.read_events("t")] == ["a"]


def test_new_kinds_and_fields_are_added(place: Place) -> None:
    with place.opened(V1) as store:
        store.commit("t", ChangeSet((Put(make_doc("a", name="old"), 0),)))
    with place.opened(V2) as store:
        store.commit("t", ChangeSet((Put(make_doc("b", rank=5, code="x", tags=("red",)), 0),)))
        store.commit("t", ChangeSet((Put(make_doc("o", kind="other", flag=False), 0),)))

        def ids(*where: Eq) -> list[str]:
            return [d.id for d in store.query("t", Query("item", where, (Order("rank"),)))]

        assert ids() == ["b", "a"]  # the old document's new column is null, so it sorts last
        assert ids(Eq("rank", None), Eq("tags", None), Eq("code", None)) == ["a"]
        assert ids(Eq("tags", "red")) == ["b"]
        with pytest.raises(DuplicateRecord):
            store.commit("t", ChangeSet((Put(make_doc("c", code="x"), 0),)))
        assert store.get("t", "other", "o") is not None


def test_a_dropped_field_is_nulled_by_rewrites(place: Place) -> None:
    """As in MemoryStore: a rewrite drops the value, an untouched document keeps it."""
    with place.opened(V2) as store:
        store.commit(
            "t",
            ChangeSet(
                (Put(make_doc("a", rank=5, tags=("red",)), 0), Put(make_doc("b", rank=7), 0))
            ),
        )
    with place.opened(V1) as store:
        store.commit("t", ChangeSet((Put(make_doc("a", 2, name="new"), 1),)))
    with place.opened(V2) as store:
        assert [d.id for d in store.query("t", Query("item", (Eq("rank", None),)))] == ["a"]
        assert [d.id for d in store.query("t", Query("item", (Eq("tags", "red"),)))] == []
        assert [d.id for d in store.query("t", Query("item", (Eq("rank", 7),)))] == ["b"]


def test_a_changed_field_is_refused(place: Place) -> None:
    with place.opened(V1):
        pass
    changed = StoreSchema((KindSpec("item", (IndexField("name", IndexType.INT),)),))
    with pytest.raises(SchemaError, match=r"item\.name"), place.opened(changed):
        pass


# --- queries and values ---------------------------------------------------------


def test_long_in_lists_match_the_reference(store: DocumentStore) -> None:
    docs = [make_doc(f"d{i:03}", rank=i - 300, tags=(f"t{i}",)) for i in range(600)]
    store.commit("t", ChangeSet(tuple(Put(d, 0) for d in docs)))
    for condition in (
        In("rank", tuple(range(-1000, 1000, 3))),
        In("tags", tuple(f"t{i}" for i in range(0, 1200, 2))),
        In("id", tuple(f"d{i:03}" for i in range(0, 600, 5))),
    ):
        query = Query("item", (condition,), (Order("rank", descending=True),), MAX_LIMIT)
        found = [d.id for d in store.query("t", query)]
        assert found == [d.id for d in run_query(query, docs)]
        assert found


def test_bodies_and_index_values_read_back_exactly(store: DocumentStore) -> None:
    """The body keeps its bytes; absent and null stay apart; tuples keep order and repeats;
    a value naming a key is no key."""
    body = '{"z":1,  "a":"\\u00e9\\ud83d\\ude00", "a":2.50}'
    index = {"name": '"code":', "rank": None, "flag": False, "nums": (2, 1, 2), "tags": ()}
    store.commit(
        "t", ChangeSet((Put(Document("item", "a", 1, body, index), 0), Put(make_doc("b"), 0)))
    )
    found = store.get("t", "item", "a")
    assert found is not None
    assert found.body == body
    assert found.index.get("code") is None
    assert "code" not in found.index
    assert "rank" in found.index
    assert found.index == index
    assert found.index["flag"] is False
    assert [d.index for d in store.query("t", Query("item", (Eq("nums", 2),)))] == [index]
    empty = store.get("t", "item", "b")
    assert empty is not None
    assert dict(empty.index) == {}
