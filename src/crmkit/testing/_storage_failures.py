"""The storage kit's tests of what must hold when things go wrong.

A change set whose last write, event or message fails leaves nothing behind,
nor does a fault injected part-way through a commit; racing threads lose
only with a conflict; and closed or unopened stores and bad input raise
crmkit's errors, never a driver's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from crmkit.kernel.errors import (
    ConcurrencyConflict,
    CrmError,
    DuplicateRecord,
    StorageError,
    ValidationError,
)
from crmkit.ports.query import MAX_LIMIT, Eq, Query
from crmkit.ports.storage import ChangeSet, Delete, Document, DocumentStore, Put, Write
from crmkit.testing._storage_data import (
    CODES,
    CONTRACT_SCHEMA,
    T1,
    T2,
    TAGS,
    all_docs,
    claim_all,
    make_doc,
    make_event,
    make_message,
)
from crmkit.testing._storage_hooks import ContractHooks
from crmkit.testing._workers import bump_counter


def _snapshot(store: DocumentStore) -> dict[str, Any]:
    """Every document (and the side-table view of tags and codes) and event of both tenants."""
    shot: dict[str, Any] = {}
    for tenant in (T1, T2):
        for spec in CONTRACT_SCHEMA.kinds:
            shot[f"{tenant}/{spec.kind}"] = all_docs(store, tenant, spec.kind)
        for field, values in (("tags", TAGS), ("code", CODES)):
            for value in values:
                found = store.query(tenant, Query("item", (Eq(field, value),), limit=MAX_LIMIT))
                shot[f"{tenant}/{field}={value}"] = [doc.id for doc in found]
        shot[f"{tenant}/events"] = [e.record for e in store.read_events(tenant, limit=MAX_LIMIT)]
    return shot


def _bad_inputs() -> list[tuple[str, Callable[[DocumentStore], Any]]]:
    def put(*writes: Write) -> Callable[[DocumentStore], Any]:
        return lambda store: store.commit(T1, ChangeSet(writes))

    bad: list[tuple[str, Callable[[DocumentStore], Any]]] = [
        ("get an undeclared kind", lambda store: store.get(T1, "nope", "a")),
        ("query an undeclared kind", lambda store: store.query(T1, Query("nope"))),
        ("put an undeclared kind", put(Put(make_doc(kind="nope"), 0))),
        ("delete an undeclared kind", put(Delete("nope", "a", 1))),
        ("an undeclared field", put(Put(make_doc(missing=1), 0))),
        ("text in an int field", put(Put(make_doc(rank="1"), 0))),
        ("a bool in an int field", put(Put(make_doc(rank=True), 0))),
        ("an int in a bool field", put(Put(make_doc(flag=1), 0))),
        ("an int in a text field", put(Put(make_doc(name=1), 0))),
        ("an int beyond 64 bits", put(Put(make_doc(rank=2**63), 0))),
        ("a scalar in a multi field", put(Put(make_doc(tags="red"), 0))),
        ("a list in a multi field", put(Put(make_doc(tags=["red"]), 0))),
        ("a mixed multi value", put(Put(make_doc(tags=("red", 1)), 0))),
        ("a tuple in a single field", put(Put(make_doc(code=("x",)), 0))),
        ("a version not above the expected", put(Put(make_doc(version=1), 1))),
        ("a negative expected version", put(Put(make_doc(version=1), -1))),
        ("read no events", lambda store: store.read_events(T1, limit=0)),
        ("claim a negative number", lambda s: s.claim_outbox(T1, now=0, limit=-1, lease=1)),
    ]
    return bad


def _seed(store: DocumentStore) -> None:
    """Documents, events and outbox messages in both tenants, for the atomicity tests."""
    store.commit(
        T1,
        ChangeSet(
            (
                Put(make_doc("a", code="x", tags=("red",), rank=1), 0),
                Put(make_doc("b", code="y", tags=("green",), nums=(1, 1)), 0),
                Put(make_doc("d", code="w", flag=True), 0),
                Put(make_doc("a", kind="note", code="x"), 0),
            ),
            (make_event("a", 1), make_event("b", 1)),
            (make_message("k1"),),
        ),
    )
    store.commit(
        T2,
        ChangeSet((Put(make_doc("a", code="x"), 0),), (make_event("a", 1),), (make_message("k1"),)),
    )


_DOOMED: dict[str, type[CrmError]] = {
    "stale write": ConcurrencyConflict,
    "stale delete": ConcurrencyConflict,
    "existing id": DuplicateRecord,
    "unique clash": DuplicateRecord,
    "unique clash in the batch": DuplicateRecord,
    "event clash": ConcurrencyConflict,
    "event clash in the batch": ConcurrencyConflict,
    "outbox key clash": DuplicateRecord,
    "outbox key clash in the batch": DuplicateRecord,
}


def _doomed(last: str) -> ChangeSet:
    """A valid change set over `_seed`'s data, plus one failing ``last`` item (if named)."""
    writes: list[Write] = [
        Put(make_doc("a", 2, code="z", tags=("blue",), rank=5), 1),  # frees x, takes z
        Delete("item", "b", 1),  # frees y
        Put(make_doc("c", code="y", tags=("red", "blue")), 0),  # takes the freed y
        Put(make_doc("e", kind="note", code="y"), 0),
    ]
    events = [make_event("a", 2), make_event("c", 1)]
    outbox = [make_message("k2"), make_message("k3")]
    extra: dict[str, Callable[[], None]] = {
        "stale write": lambda: writes.append(Put(make_doc("d", 3), 2)),
        "stale delete": lambda: writes.append(Delete("item", "d", 2)),
        "existing id": lambda: writes.append(Put(make_doc("d"), 0)),
        "unique clash": lambda: writes.append(Put(make_doc("f", code="w"), 0)),
        "unique clash in the batch": lambda: writes.append(Put(make_doc("f", code="z"), 0)),
        "event clash": lambda: events.append(make_event("b", 1)),
        "event clash in the batch": lambda: events.append(make_event("c", 1, id="e-again")),
        "outbox key clash": lambda: outbox.append(make_message("k1", id="m-other")),
        "outbox key clash in the batch": lambda: outbox.append(make_message("k2", id="m-other")),
    }
    if last:
        extra[last]()
    return ChangeSet(tuple(writes), tuple(events), tuple(outbox))


class FailureTests(ContractHooks):
    """Atomicity, racing threads, and the errors of closed stores and bad input."""

    @pytest.mark.parametrize("last", sorted(_DOOMED))
    def test_failing_last_change_leaves_everything_unchanged(self, last: str) -> None:
        """When the last write, event or message of a change set fails, nothing is written."""
        with self.opened() as store:
            _seed(store)
            before = _snapshot(store)
            with pytest.raises(_DOOMED[last]):
                store.commit(T1, _doomed(last))
            assert _snapshot(store) == before
            assert claim_all(store, T1) == ["k1"]
            store.commit(T1, _doomed(""))  # the same change set without its last item applies
            assert _snapshot(store) != before

    def test_fault_mid_commit_leaves_everything_unchanged(self) -> None:
        """A commit interrupted after writing part of its changes leaves nothing behind."""
        with self.opened() as store:
            fault = self.inject_commit_fault(store)
            if fault is None:
                pytest.skip("the adapter injects no commit faults (inject_commit_fault)")
            _seed(store)
            before = _snapshot(store)
            with fault, pytest.raises(StorageError):
                store.commit(T1, _doomed(""))
            assert _snapshot(store) == before
            assert claim_all(store, T1) == ["k1"]
            store.commit(T1, _doomed(""))  # the store still works
            assert claim_all(store, T1) == ["k2", "k3"]

    def test_threads_read_modify_write(self) -> None:
        """Racing writers: each loss is a conflict and every success is counted."""
        threads, attempts = 4, 40
        with self.opened() as store:
            store.commit(T1, ChangeSet((Put(Document("note", "n", 1, '{"n": 0}'), 0),)))
            results: list[tuple[int, int, list[str]]] = []
            start = threading.Barrier(threads)

            def work() -> None:
                start.wait()
                results.append(bump_counter(store, T1, "note", "n", attempts))

            workers = [threading.Thread(target=work) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert [errors for _, _, errors in results] == [[]] * threads
            successes = sum(ok for ok, _, _ in results)
            assert successes + sum(lost for _, lost, _ in results) == threads * attempts
            final = store.get(T1, "note", "n")
            assert final is not None
            assert (json.loads(final.body)["n"], final.version) == (successes, successes + 1)

    def test_closed_store_raises_storage_error(self) -> None:
        """After close() every call raises StorageError."""
        store = self.make_store()
        store.open(CONTRACT_SCHEMA)
        store.commit(T1, ChangeSet((Put(make_doc("a"), 0),), outbox=(make_message("k1"),)))
        store.close()
        calls: list[Callable[[], Any]] = [
            lambda: store.open(CONTRACT_SCHEMA),
            lambda: store.get(T1, "item", "a"),
            lambda: store.query(T1, Query("item")),
            lambda: store.commit(T1, ChangeSet((Put(make_doc("b"), 0),))),
            lambda: store.commit(T1, ChangeSet()),
            lambda: store.read_events(T1),
            lambda: store.claim_outbox(T1, now=0, limit=1, lease=1),
            lambda: store.complete_outbox(T1, "m-k1", attempt=1, receipt="r"),
            lambda: store.fail_outbox(T1, "m-k1", attempt=1, error="e", retry_at=None),
        ]
        for call in calls:
            with pytest.raises(StorageError):
                call()
        store.close()  # closing again is harmless

    def test_unopened_store_raises_storage_error(self) -> None:
        """Calls before open() raise StorageError."""
        store = self.make_store()
        try:
            with pytest.raises(StorageError):
                store.get(T1, "item", "a")
            with pytest.raises(StorageError):
                store.commit(T1, ChangeSet((Put(make_doc("a"), 0),)))
        finally:
            store.close()

    @pytest.mark.parametrize(("case", "call"), _bad_inputs(), ids=[c for c, _ in _bad_inputs()])
    def test_bad_input_raises_validation_error(
        self, case: str, call: Callable[[DocumentStore], Any]
    ) -> None:
        """Undeclared kinds and fields and ill-typed values are refused before any write."""
        with self.opened() as store:
            with pytest.raises(ValidationError):
                call(store)
            assert all_docs(store, T1, "item") == []
