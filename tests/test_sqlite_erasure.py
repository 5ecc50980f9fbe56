"""`SqliteStore.erase` leaves no byte of the erased values in the database or its WAL files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmkit.adapters.sqlite import SqliteStore
from crmkit.kernel.errors import ValidationError
from crmkit.ports.erasure import ERASED_BODY
from crmkit.ports.storage import ChangeSet, Document, EventRecord, OutboxMessage, Put
from crmkit.testing.storage import CONTRACT_SCHEMA

MARKER = "Zq7-erase-me-4711"
TENANT = "t1"


def _files(path: Path) -> dict[str, bytes]:
    """The raw bytes of the database file and of its -wal and -shm files, where they exist."""
    out = {}
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        if file.exists():
            out[file.name] = file.read_bytes()
    return out


def _holding(path: Path, needle: bytes) -> list[str]:
    return [name for name, data in _files(path).items() if needle in data]


def _doc(version: int, name: str, body: str) -> Document:
    return Document("item", "a", version, body, {"name": name, "code": name, "tags": (name,)})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(path)
    store.open(CONTRACT_SCHEMA)
    yield store
    store.close()


def _write_marked(store: SqliteStore) -> None:
    """A document written twice, events and messages, all holding the marker.

    The second version frees the first one's row (and a long body's overflow
    pages), so a copy would linger in free space without ``secure_delete``.
    """
    long = json.dumps({"name": MARKER, "notes": MARKER * 400})  # spills to overflow pages
    created = EventRecord("e-1", "item", "a", 1, "item_created", 1, 0, json.dumps({"n": MARKER}))
    renamed = EventRecord("e-2", "item", "a", 2, "item_renamed", 1, 0, json.dumps({"n": MARKER}))
    queued = OutboxMessage("m-1", "k-1", "email", "service", "p1", json.dumps({"to": MARKER}), 0)
    later = OutboxMessage("m-2", "k-2", "email", "service", "p1", json.dumps({"to": MARKER}), 9)
    store.commit(TENANT, ChangeSet((Put(_doc(1, MARKER, long), 0),), (created,), (queued,)))
    [claimed] = store.claim_outbox(TENANT, now=1, limit=5, lease=10)
    store.complete_outbox(TENANT, claimed.message.id, attempt=1, receipt="250 ok")
    renamed_doc = _doc(2, MARKER + "!", json.dumps({"name": MARKER, "v": 2}))
    store.commit(TENANT, ChangeSet((Put(renamed_doc, 1),), (renamed,), (later,)))


def _erase(store: SqliteStore) -> None:
    erased = EventRecord("e-3", "item", "a", 3, "personal_data_erased", 1, 0, "{}")
    blank = Document("item", "a", 3, '{"name":""}', {})
    store.erase(
        TENANT,
        ChangeSet((Put(blank, 2),), (erased,)),
        {"e-1": '{"n":""}', "e-2": '{"n":""}'},
        "p1",
    )


def test_the_marker_is_in_the_files_before_the_erasure(store: SqliteStore, path: Path) -> None:
    """The check below can see the marker: before erasure it is in the files."""
    _write_marked(store)
    assert _holding(path, MARKER.encode())


def test_erasure_leaves_no_byte_of_the_marker(store: SqliteStore, path: Path) -> None:
    """Documents, index entries, events and messages lose the marker, in every file."""
    _write_marked(store)
    _erase(store)
    # While the store is open: the checkpoint truncated the WAL, secure_delete zeroed free space.
    assert _holding(path, MARKER.encode()) == []
    assert store.get(TENANT, "item", "a").body == '{"name":""}'  # type: ignore[union-attr]
    assert [e.record.body for e in store.read_events(TENANT)] == ['{"n":""}', '{"n":""}', "{}"]
    entries = store.outbox_of(TENANT, "p1")
    assert [(e.message.id, e.message.body) for e in entries] == [
        ("m-1", ERASED_BODY),
        ("m-2", ERASED_BODY),
    ]
    assert entries[0].receipt == "250 ok"
    store.close()
    assert _holding(path, MARKER.encode()) == []


def test_every_connection_runs_with_secure_delete(store: SqliteStore) -> None:
    """Free space is zeroed on every write, not only during an erasure."""
    conn = store._conn()  # this thread's connection: there is no public way to reach it
    assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)


def test_a_failed_erasure_keeps_the_wal_consistent(store: SqliteStore, path: Path) -> None:
    """An erasure refused for an unknown event id writes nothing and the store stays usable."""
    _write_marked(store)
    with pytest.raises(ValidationError) as info:
        store.erase(TENANT, ChangeSet(), {"missing": "{}"}, "p1")
    assert info.value.field == "events"
    marked = json.dumps({"to": MARKER})
    assert [e.message.body for e in store.outbox_of(TENANT, "p1")] == [marked, marked]
    _erase(store)
    assert _holding(path, MARKER.encode()) == []
