"""The storage kit's tests of documents and versions.

A document reads back exactly as written; every write names the version it
expects, and writes within one change set chain on each other; unique fields
clash across documents of one kind only; and no tenant sees another's data.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import ConcurrencyConflict, DuplicateRecord, NotFound
from crmkit.ports.query import Eq, In, Query
from crmkit.ports.storage import ChangeSet, Delete, Document, Put
from crmkit.testing._storage_data import (
    T1,
    T2,
    canonical,
    claim_all,
    documents,
    make_doc,
    make_event,
    make_message,
    texts,
    unique_codes,
)
from crmkit.testing._storage_hooks import ContractHooks


class DocumentTests(ContractHooks):
    """Round trips, version checks, unique fields and tenant isolation."""

    def test_round_trip(self) -> None:
        """A committed document reads back with its body and typed index values."""
        counter = iter(range(10**9))
        with self.opened() as store:

            @settings(deadline=None)  # an adapter over a network may be slow
            @given(docs=documents.map(unique_codes), body=texts)
            def check(docs: list[Document], body: str) -> None:
                tenant = f"r{next(counter)}"
                text = json.dumps({"text": body}, ensure_ascii=False)
                docs = [Document(d.kind, d.id, 1, text, d.index) for d in docs]
                store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                for doc in docs:
                    assert canonical(store.get(tenant, "item", doc.id)) == canonical(doc)
                assert store.get(tenant, "item", "missing") is None

            check()

    def test_versions_guard_every_write(self) -> None:
        """Stale writes conflict, an existing id is a duplicate, deletes check versions too."""
        with self.opened() as store:
            store.commit(T1, ChangeSet((Put(make_doc("a", code="x"), 0),)))
            with pytest.raises(DuplicateRecord) as duplicate:
                store.commit(T1, ChangeSet((Put(make_doc("a"), 0),)))
            assert (duplicate.value.kind, duplicate.value.field) == ("item", "id")
            with pytest.raises(ConcurrencyConflict) as stale:
                store.commit(T1, ChangeSet((Put(make_doc("a", 3), 2),)))
            assert (stale.value.kind, stale.value.id, stale.value.expected) == ("item", "a", 2)
            second = make_doc("a", 2, code="y")
            store.commit(T1, ChangeSet((Put(second, 1),)))
            assert canonical(store.get(T1, "item", "a")) == canonical(second)
            for delete in (Delete("item", "a", 1), Delete("item", "zz", 1)):
                with pytest.raises(ConcurrencyConflict):
                    store.commit(T1, ChangeSet((delete,)))
            store.commit(T1, ChangeSet((Delete("item", "a", 2),)))
            assert store.get(T1, "item", "a") is None
            store.commit(
                T1, ChangeSet((Put(make_doc("a", code="y"), 0),))
            )  # id and code free again
            assert store.get(T1, "item", "a") is not None

    def test_writes_chain_within_a_change_set(self) -> None:
        """Later writes to an id expect the version its earlier writes left."""
        with self.opened() as store:
            last = make_doc("a", 1, name="last")
            chain = (
                Put(make_doc("a", 1), 0),
                Put(make_doc("a", 2), 1),
                Delete("item", "a", 2),
                Put(last, 0),
                Put(make_doc("b", 1), 0),
                Delete("item", "b", 1),
            )
            store.commit(T1, ChangeSet(chain))
            assert canonical(store.get(T1, "item", "a")) == canonical(last)
            assert store.get(T1, "item", "b") is None
            with pytest.raises(ConcurrencyConflict):
                store.commit(T1, ChangeSet((Put(make_doc("c", 1), 0), Put(make_doc("c", 3), 2))))
            assert store.get(T1, "item", "c") is None
            with pytest.raises(DuplicateRecord):  # "a" exists, even if the batch deletes it again
                store.commit(T1, ChangeSet((Put(make_doc("a", 1), 0), Delete("item", "a", 1))))
            assert canonical(store.get(T1, "item", "a")) == canonical(last)

    def test_unique_fields(self) -> None:
        """Unique values clash across documents of a kind, never with nulls or other kinds."""
        with self.opened() as store:
            store.commit(
                T1, ChangeSet((Put(make_doc("a", code="x"), 0), Put(make_doc("b", code="y"), 0)))
            )
            store.commit(T1, ChangeSet((Put(make_doc("n1", code=None), 0), Put(make_doc("n2"), 0))))
            store.commit(T1, ChangeSet((Put(make_doc("a", kind="note", code="x"), 0),)))
            for clash in (
                (Put(make_doc("c", code="x"), 0),),
                (Put(make_doc("c", code="z"), 0), Put(make_doc("d", code="z"), 0)),
                (Put(make_doc("b", 2, code="x"), 1),),
            ):
                with pytest.raises(DuplicateRecord) as info:
                    store.commit(T1, ChangeSet(clash))
                assert (info.value.kind, info.value.field) == ("item", "code")
            assert store.get(T1, "item", "c") is None
            # Two documents swap their values; a deleted document frees its value.
            store.commit(
                T1,
                ChangeSet((Put(make_doc("a", 2, code="y"), 1), Put(make_doc("b", 2, code="x"), 1))),
            )
            store.commit(T1, ChangeSet((Delete("item", "a", 2), Put(make_doc("c", code="y"), 0))))
            found = store.query(T1, Query("item", (In("code", ("x", "y")),)))
            assert [(doc.id, doc.index.get("code")) for doc in found] == [("b", "x"), ("c", "y")]

    def test_tenants_never_see_each_other(self) -> None:
        """Ids, unique values, event versions and outbox keys are all scoped by tenant."""
        with self.opened() as store:
            for tenant in (T1, T2):
                store.commit(
                    tenant,
                    ChangeSet(
                        (Put(make_doc("a", code="x", tags=("red",)), 0),),
                        (make_event("a", 1),),
                        (make_message("k1"),),
                    ),
                )
            store.commit(T1, ChangeSet((Put(make_doc("b", code="y"), 0), Put(make_doc("a", 2), 1))))
            assert store.get(T2, "item", "b") is None
            assert store.get(T2, "item", "a").version == 1  # type: ignore[union-attr]
            assert [d.id for d in store.query(T2, Query("item"))] == ["a"]
            assert store.query(T2, Query("item", (Eq("code", "y"),))) == []
            assert [d.id for d in store.query(T2, Query("item", (Eq("tags", "red"),)))] == ["a"]
            assert [d.id for d in store.query(T1, Query("item", (Eq("tags", "red"),)))] == []
            assert len(store.read_events(T2)) == 1
            assert store.query("t3", Query("item")) == []
            assert store.read_events("t3") == []
            assert store.claim_outbox("t3", now=0, limit=10, lease=5) == []
            [entry] = store.claim_outbox(T2, now=0, limit=10, lease=5)
            store.complete_outbox(T2, entry.message.id, attempt=1, receipt="r")
            assert claim_all(store, T1) == ["k1"]
            with pytest.raises(NotFound):
                store.complete_outbox("t3", entry.message.id, attempt=1, receipt="r")
