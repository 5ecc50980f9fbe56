"""The storage kit's search group on SQLite (FTS5), PostgreSQL (tsvector) and memory.

The full kit runs these too (tests/test_storage_*.py); this file runs only the
search group, so the search work can be checked on its own and quickly.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest

from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.ports.query import Eq
from crmkit.ports.search import Searching, SearchQuery
from crmkit.ports.storage import ChangeSet, Document, DocumentStore, Put
from crmkit.testing._storage_data import SEARCH_SCHEMA
from crmkit.testing._storage_search import SearchTests, card

_FILES = count()


class _Hooks(SearchTests):
    def make_store(self) -> DocumentStore:
        raise NotImplementedError


class TestSqliteSearch(_Hooks):
    """FTS5 pushdown, compared with the reference and the streamed fallback."""

    folder: tempfile.TemporaryDirectory[str]

    @classmethod
    def setup_class(cls) -> None:
        cls.folder = tempfile.TemporaryDirectory()

    @classmethod
    def teardown_class(cls) -> None:
        cls.folder.cleanup()

    def make_store(self) -> DocumentStore:
        return SqliteStore(Path(self.folder.name) / f"s{next(_FILES)}.db")


class TestMemorySearch(_Hooks):
    """The memory store applies `run_search` itself; the kit compares it with the fallback."""

    def make_store(self) -> DocumentStore:
        return MemoryStore()


def test_both_stores_search_themselves() -> None:
    assert isinstance(MemoryStore(), Searching)
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "x.db")
        assert isinstance(store, Searching)
        store.close()


def test_scope_is_applied_in_the_same_statement() -> None:
    """The SQL joins the kind's table and filters it; no page is filtered afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.db"
        store = SqliteStore(path)
        store.open(SEARCH_SCHEMA)
        docs = [card(f"c{i:02d}", "anna", "u1" if i % 10 == 0 else "u2") for i in range(40)]
        store.commit("t", ChangeSet(tuple(Put(doc, 0) for doc in docs)))
        statements: list[str] = []
        store._conn().set_trace_callback(statements.append)
        hits = store.search("t", SearchQuery("card", "anna", (Eq("owner", "u1"),), limit=3))
        assert [hit.id for hit in hits] == ["c00", "c10", "c20"]  # a full page of in-scope hits
        searches = [s for s in statements if "MATCH" in s]
        assert len(searches) == 1
        assert '"owner"' in searches[0]
        store.close()
        with sqlite3.connect(path) as conn:  # the index lives beside the kind's table
            assert conn.execute("SELECT count(*) FROM srch_map_card").fetchone() == (40,)


class TestPostgresSearch(_Hooks):
    """The GIN-indexed tsvector pushdown (skipped without a server, as the kit is)."""

    @pytest.fixture(autouse=True)
    def _schemas(self, postgres_schemas: Callable[[], str]) -> None:
        self.fresh = postgres_schemas

    def make_store(self) -> DocumentStore:
        from crmkit.adapters.postgres import PostgresStore

        return PostgresStore(self.fresh())


def test_an_erased_word_leaves_the_sqlite_file() -> None:
    """After an erasure no byte of the erased name is left in the index's segments."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.db"
        store = SqliteStore(path)
        store.open(SEARCH_SCHEMA)
        docs = [card(f"c{i}", f"Person{i} Common") for i in range(50)]
        store.commit("t", ChangeSet((*(Put(doc, 0) for doc in docs), Put(card("z", "Qwzyxor"), 0))))
        assert b"qwzyxor" in path.read_bytes() + Path(f"{path}-wal").read_bytes()
        erased = Document("card", "z", 2, "{}", {"words": "erased"})
        store.erase("t", ChangeSet((Put(erased, 1),)), {}, None)
        assert store.search("t", SearchQuery("card", "qwzyxor")) == []
        assert [hit.id for hit in store.search("t", SearchQuery("card", "erased"))] == ["z"]
        store.close()
        assert b"qwzyxor" not in path.read_bytes()
