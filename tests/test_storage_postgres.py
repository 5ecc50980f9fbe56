"""`PostgresStore` passes the storage conformance kit against a real server.

The server comes from ``CRMKIT_TEST_POSTGRES_URL`` (the ``postgres_schemas``
fixture in ``conftest.py``); each store gets its own fresh schema, and a
trigger injects a fault mid-commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from crmkit.ports.aggregate import Aggregating
from crmkit.ports.erasure import Erasing
from crmkit.ports.storage import DocumentStore
from crmkit.testing.storage import StorageContract


@contextmanager
def _outbox_inserts_fail(conninfo: str) -> Iterator[None]:
    """A trigger aborts every outbox insert: a commit fails after its documents and events."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION crm_fault() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER crm_fault BEFORE INSERT ON crm_outbox"
            " FOR EACH ROW EXECUTE FUNCTION crm_fault()"
        )
    try:
        yield
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DROP TRIGGER crm_fault ON crm_outbox")
            conn.execute("DROP FUNCTION crm_fault()")


class TestPostgresStore(StorageContract):
    """The storage contract on PostgreSQL, one fresh schema per store."""

    @pytest.fixture(autouse=True)
    def _schemas(self, postgres_schemas: Callable[[], str]) -> None:
        self.fresh = postgres_schemas
        self.conninfos: dict[int, str] = {}

    def make_store(self) -> DocumentStore:
        from crmkit.adapters.postgres import PostgresStore

        conninfo = self.fresh()
        store = PostgresStore(conninfo)
        self.conninfos[id(store)] = conninfo
        return store

    def inject_commit_fault(self, store: DocumentStore) -> AbstractContextManager[None]:
        return _outbox_inserts_fail(self.conninfos[id(store)])

    def test_aggregates_are_pushed_down(self) -> None:
        """The store offers the optional capability, so the kit's aggregate tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Aggregating)

    def test_erasure_is_offered(self) -> None:
        """The store offers the optional capability, so the kit's erasure tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Erasing)
