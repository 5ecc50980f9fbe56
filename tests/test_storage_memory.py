"""`MemoryStore`, the reference, passes its own conformance kit."""

from __future__ import annotations

from crmkit.adapters.memory import MemoryStore
from crmkit.ports.aggregate import Aggregating
from crmkit.ports.storage import DocumentStore
from crmkit.testing.storage import StorageContract


class TestMemoryStore(StorageContract):
    """The storage contract on the in-memory store."""

    def make_store(self) -> DocumentStore:
        return MemoryStore()

    def test_aggregates_are_pushed_down(self) -> None:
        """The store offers the optional capability, so the kit's aggregate tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Aggregating)
