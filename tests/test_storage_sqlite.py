"""`SqliteStore` passes the storage conformance kit, with a fault injected mid-commit."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from itertools import count
from pathlib import Path

from crmkit.adapters.sqlite import SqliteStore
from crmkit.ports.aggregate import Aggregating
from crmkit.ports.erasure import Erasing
from crmkit.ports.storage import DocumentStore
from crmkit.testing.storage import StorageContract


@contextmanager
def _outbox_inserts_fail(path: Path) -> Iterator[None]:
    """A trigger aborts every outbox insert: a commit fails after its documents and events."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(
            "CREATE TRIGGER crm_fault BEFORE INSERT ON crm_outbox"
            " BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )
    try:
        yield
    finally:
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("DROP TRIGGER crm_fault")


class TestSqliteStore(StorageContract):
    """The storage contract on SQLite files in a temporary folder."""

    folder: tempfile.TemporaryDirectory[str]

    @classmethod
    def setup_class(cls) -> None:
        cls.folder = tempfile.TemporaryDirectory(prefix="crmkit-sqlite-")
        cls.serial = count()

    @classmethod
    def teardown_class(cls) -> None:
        cls.folder.cleanup()

    def make_store(self) -> DocumentStore:
        path = Path(self.folder.name) / f"store-{next(self.serial)}.db"
        store = SqliteStore(path)
        self.paths = {**getattr(self, "paths", {}), id(store): path}
        return store

    def inject_commit_fault(self, store: DocumentStore) -> AbstractContextManager[None]:
        return _outbox_inserts_fail(self.paths[id(store)])

    def test_aggregates_are_pushed_down(self) -> None:
        """The store offers the optional capability, so the kit's aggregate tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Aggregating)

    def test_erasure_is_offered(self) -> None:
        """The store offers the optional capability, so the kit's erasure tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Erasing)
