"""`copy_store` moves a whole store into another adapter: documents, events, pending messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import crmkit
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.migrate import copy_store
from crmkit.kernel.errors import DuplicateRecord, ValidationError
from crmkit.ports.query import MAX_LIMIT, Eq, Query
from crmkit.ports.storage import ChangeSet, DocumentStore, Put
from crmkit.testing._storage_data import make_doc, make_event, make_message
from crmkit.testing.storage import CONTRACT_SCHEMA, canonical


def _fill(store: DocumentStore) -> None:
    store.open(CONTRACT_SCHEMA)
    for tenant in ("t1", "t2"):
        docs = [
            make_doc(f"d{i:02}", 1 + i % 3, name=f"n{i}", tags=("red", f"t{i % 4}"), rank=i)
            for i in range(23)
        ]
        docs.append(make_doc("x", kind="note", code="unique"))
        events = [make_event(f"d{i % 5:02}", 1 + i // 5) for i in range(17)]
        messages = [make_message(f"k{i}", available_at=i) for i in range(9)]
        store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs), tuple(events)))
        store.commit(tenant, ChangeSet(outbox=tuple(messages)))
    [first, second, *_] = store.claim_outbox("t1", now=100, limit=2, lease=1)
    store.complete_outbox("t1", first.message.id, attempt=1, receipt="sent")  # not copied
    store.fail_outbox("t1", second.message.id, attempt=1, error="later", retry_at=10**9)


def _state(store: DocumentStore, tenant: str) -> dict[str, Any]:
    return {
        kind: [canonical(doc) for doc in store.query(tenant, Query(kind, limit=MAX_LIMIT))]
        for kind in ("item", "note")
    } | {
        "events": [event.record for event in store.read_events(tenant, limit=MAX_LIMIT)],
        "red": [doc.id for doc in store.query(tenant, Query("item", (Eq("tags", "red"),)))],
    }


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "target.db")
    from crmkit.adapters.postgres import PostgresStore

    schemas: Callable[[], str] = request.getfixturevalue("postgres_schemas")
    return PostgresStore(schemas())


def test_everything_arrives(tmp_path: Path, target: DocumentStore) -> None:
    source = SqliteStore(tmp_path / "source.db")
    _fill(source)
    before = {tenant: _state(source, tenant) for tenant in ("t1", "t2")}
    seen: list[tuple[str, int]] = []
    report = copy_store(
        source,
        target,
        schema=CONTRACT_SCHEMA,
        tenants=["t1", "t2"],
        page=5,
        progress=lambda what, count: seen.append((what, count)),
    )
    try:
        assert report.documents == {"item": 46, "note": 2}
        assert (report.events, report.messages) == (34, 17)  # t1 delivered one message
        assert ("item", 5) in seen
        assert ("item", 23) in seen
        assert ("item", 46) in seen  # counts run on across tenants
        for tenant in ("t1", "t2"):
            assert _state(target, tenant) == before[tenant]
        # Pending messages moved: the target hands them out, the source never again.
        assert source.claim_outbox("t1", now=2**62, limit=100, lease=1) == []
        moved = target.claim_outbox("t1", now=10**9, limit=100, lease=1)
        assert sorted(entry.message.key for entry in moved) == [f"k{i}" for i in range(1, 9)]
        assert {entry.attempts for entry in moved} == {1}
        with pytest.raises(DuplicateRecord):  # a second copy into a full target
            copy_store(source, target, schema=CONTRACT_SCHEMA, tenants=["t2"])
    finally:
        source.close()
        target.close()


def test_a_crm_reads_its_records_after_the_move(tmp_path: Path) -> None:
    principal = crmkit.Principal("u-1")
    with crmkit.open(f"sqlite:///{tmp_path}/old.db") as old:
        with old.unit_of_work(principal) as uow:
            contact = uow.contacts.create("Berg", first_name="Anna")
        events = [event for _, event in old.events()]
        target = MemoryStore()
        report = copy_store(old.store, target)
    assert report.documents["contact"] == 1
    assert report.events == len(events) > 0
    with crmkit.Crm(target) as new:
        with new.unit_of_work(principal) as uow:
            assert uow.contacts.get(contact.id) == contact
        assert [event for _, event in new.events()] == events


def test_page_must_be_sensible() -> None:
    with pytest.raises(ValidationError):
        copy_store(MemoryStore(), MemoryStore(), page=0)
