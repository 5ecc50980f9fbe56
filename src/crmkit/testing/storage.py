"""The storage conformance kit: the tests every `DocumentStore` must pass.

Its import path is public and never moves. A plugin author subclasses
`StorageContract` in a test module, returns a fresh, empty, unopened store from
`StorageContract.make_store`, and runs pytest:

```python
from crmkit.testing.storage import StorageContract

class TestMyStore(StorageContract):
    def make_store(self) -> DocumentStore:
        return MyStore(...)
```

The kit opens each store with `CONTRACT_SCHEMA` and checks it against
`crmkit.adapters.memory.MemoryStore`, the reference: round trips, versions,
unique indexes, tenant isolation, queries (including a comparison with
`crmkit.ports.query.run_query`), aggregates (against
`crmkit.ports.aggregate.run_aggregate`), full-text search (against
`crmkit.ports.search.run_search`), events, the outbox, erasure (for stores
with `crmkit.ports.erasure.Erasing`), atomicity, threads,
error translation, and a stateful random walk beside the reference store.
"""

# The tests live in private modules, one themed group each (crmkit.testing.
# _storage_documents, _storage_queries, _storage_aggregates, _storage_events_outbox,
# _storage_search, _storage_erasure, _storage_failures and _storage_machine), with the
# schema, builders and strategies they share in _storage_data. This module is the public path.

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from crmkit.ports.storage import DocumentStore
from crmkit.testing._storage_aggregates import AggregateTests
from crmkit.testing._storage_data import CONTRACT_SCHEMA, canonical
from crmkit.testing._storage_documents import DocumentTests
from crmkit.testing._storage_erasure import ErasureTests
from crmkit.testing._storage_events_outbox import EventAndOutboxTests
from crmkit.testing._storage_failures import FailureTests
from crmkit.testing._storage_machine import ReferenceTests
from crmkit.testing._storage_queries import QueryTests
from crmkit.testing._storage_search import SearchTests

__all__ = ["CONTRACT_SCHEMA", "StorageContract", "canonical"]


# Bases listed last group first: pytest and the docs take inherited tests in
# reverse method resolution order, so they run and read documents first.
class StorageContract(
    ReferenceTests,
    FailureTests,
    ErasureTests,
    EventAndOutboxTests,
    SearchTests,
    AggregateTests,
    QueryTests,
    DocumentTests,
):
    """The conformance tests of the storage port; subclass it and implement `make_store`.

    Every test opens fresh stores with `CONTRACT_SCHEMA` and closes them again.
    Hypothesis-driven tests share one store per test and give each example its
    own tenant, which also exercises tenant isolation.
    """

    def make_store(self) -> DocumentStore:
        """A fresh, empty, unopened store; each call returns a new one."""
        raise NotImplementedError("implement make_store() in your StorageContract subclass")

    def inject_commit_fault(self, store: DocumentStore) -> AbstractContextManager[None] | None:
        """Optionally make commits on ``store`` fail part-way while the context is active.

        Inside the returned context manager a commit must raise `StorageError`
        after writing part of its change set. Return None (the default) when
        the adapter cannot inject a fault; the kit then skips that test.
        """
        return None

    @contextmanager
    def opened(self) -> Iterator[DocumentStore]:
        """A new store, opened with `CONTRACT_SCHEMA` and closed afterwards."""
        store = self.make_store()
        try:
            store.open(CONTRACT_SCHEMA)
            yield store
        finally:
            store.close()
