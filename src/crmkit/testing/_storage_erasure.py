"""The storage kit's tests of erasure, for stores with the optional `Erasing` capability.

`crmkit.ports.erasure.Erasing.erase` applies a change set as `commit` does,
replaces the bodies of named stored events (nothing else about them
changes) and gives every outbox message of one party `ERASED_BODY`, all in
one transaction; `Erasing.outbox_of` lists a party's messages of any status.
A store without the capability skips these tests.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import pytest

from crmkit.kernel.errors import ConcurrencyConflict, StorageError, ValidationError
from crmkit.ports.erasure import ERASED_BODY, Erasing
from crmkit.ports.storage import (
    ChangeSet,
    DocumentStore,
    OutboxMessage,
    OutboxStatus,
    Put,
    StoredEvent,
)
from crmkit.testing._storage_data import (
    CONTRACT_SCHEMA,
    T1,
    T2,
    all_docs,
    canonical,
    make_doc,
    make_event,
)
from crmkit.testing._storage_hooks import ContractHooks

_NOW = 10**12


def _erasing(store: DocumentStore) -> Erasing:
    if not isinstance(store, Erasing):
        pytest.skip("the store does not offer the optional Erasing capability")
    return store


_BODY = '{"to":"anna@example.com"}'


def _message(key: str, party_id: str | None, available_at: int = 0) -> OutboxMessage:
    return OutboxMessage(f"m-{key}", key, "email", "service", party_id, _BODY, available_at)


def _shape(log: list[StoredEvent]) -> list[Any]:
    """Everything about each stored event but its body."""
    return [
        (e.position, e.record.id, e.record.stream_id, e.record.version, e.record.event_type)
        for e in log
    ]


def _snapshot(store: DocumentStore, tenant: str) -> Any:
    erasing = cast(Erasing, store)
    return (
        all_docs(store, tenant, "item"),
        [(e.position, e.record) for e in store.read_events(tenant)],
        [erasing.outbox_of(tenant, party) for party in ("p1", "p2")],
    )


class ErasureTests(ContractHooks):
    """Erasure: event bodies replaced in place, a party's outbox blanked, all or nothing."""

    def test_erase_replaces_event_bodies(self) -> None:
        """Named events get their new body; positions, types, versions and the rest stay."""
        with self.opened() as store:
            erasing = _erasing(store)
            first = (make_event("a", 1), make_event("b", 1), make_event("a", 2))
            store.commit(T1, ChangeSet(events=first))
            store.commit(T2, ChangeSet(events=(make_event("a", 1),)))
            before = store.read_events(T1)
            erasing.erase(T1, ChangeSet(), {"e-a-1": '{"name":""}', "e-a-2": "{}"}, None)
            after = store.read_events(T1)
            assert _shape(after) == _shape(before)
            assert [e.record.body for e in after] == ['{"name":""}', "{}", "{}"]
            assert after[0].record == attrs.evolve(before[0].record, body='{"name":""}')
            assert [e.record for e in after[1:]] == [e.record for e in before[1:]]
            # Another tenant's event with the same id is not touched.
            assert [e.record.body for e in store.read_events(T2)] == ["{}"]
            assert store.read_events(T1, stream_id="a")[0].record.body == '{"name":""}'

    def test_erase_applies_the_change_set(self) -> None:
        """Writes, new events and messages of the change set commit with the rewrites."""
        with self.opened() as store:
            erasing = _erasing(store)
            store.commit(T1, ChangeSet((Put(make_doc("a", code="x"), 0),), (make_event("a", 1),)))
            blank = make_doc("a", 2, code="x", name="")
            changes = ChangeSet(
                (Put(blank, 1),), (make_event("a", 2, id="erased"),), (_message("k9", None),)
            )
            erasing.erase(T1, changes, {"e-a-1": '{"gone":true}'}, "p1")
            assert all_docs(store, T1, "item") == [canonical(blank)]
            log = store.read_events(T1)
            assert [(e.record.id, e.record.body) for e in log] == [
                ("e-a-1", '{"gone":true}'),
                ("erased", "{}"),
            ]
            claimed = store.claim_outbox(T1, now=_NOW, limit=10, lease=1)
            assert [entry.message.key for entry in claimed] == ["k9"]

    def test_erase_may_name_an_event_of_its_change_set(self) -> None:
        """The rewrites come after the change set, so they may name an event it appends."""
        with self.opened() as store:
            erasing = _erasing(store)
            erasing.erase(T1, ChangeSet(events=(make_event("a", 1),)), {"e-a-1": "[]"}, None)
            assert [e.record.body for e in store.read_events(T1)] == ["[]"]

    def test_erase_blanks_the_party_outbox(self) -> None:
        """Every message of the party, any status, gets the placeholder; others keep theirs."""
        with self.opened() as store:
            erasing = _erasing(store)
            messages = (
                _message("sent", "p1"),
                _message("dead", "p1"),
                _message("later", "p1", 5),
                _message("other", "p2", 5),
                _message("system", None, 5),
            )
            store.commit(T1, ChangeSet(outbox=messages))
            store.commit(T2, ChangeSet(outbox=(_message("sent", "p1"),)))
            for entry in store.claim_outbox(T1, now=1, limit=10, lease=1):
                if entry.message.key == "sent":
                    store.complete_outbox(T1, entry.message.id, attempt=1, receipt="r-1")
                else:
                    store.fail_outbox(T1, entry.message.id, attempt=1, error="no", retry_at=None)
            erasing.erase(T1, ChangeSet(), {}, "p1")
            mine = erasing.outbox_of(T1, "p1")
            assert [(e.message.key, e.status, e.message.body) for e in mine] == [
                ("dead", OutboxStatus.DEAD, ERASED_BODY),
                ("later", OutboxStatus.PENDING, ERASED_BODY),
                ("sent", OutboxStatus.DELIVERED, ERASED_BODY),
            ]
            assert mine[2].receipt == "r-1"
            assert mine[0].last_error == "no"
            # The pending one is still claimed, now with the placeholder (the
            # dispatcher dead-letters it as unreadable); others are untouched.
            claimed = store.claim_outbox(T1, now=_NOW, limit=10, lease=1)
            assert sorted((e.message.key, e.message.body) for e in claimed) == [
                ("later", ERASED_BODY),
                ("other", _BODY),
                ("system", _BODY),
            ]
            [theirs] = erasing.outbox_of(T2, "p1")
            assert theirs.message.body == _BODY

    def test_outbox_of_lists_every_status(self) -> None:
        """A party's messages of any status, by id, only of that tenant and party."""
        with self.opened() as store:
            erasing = _erasing(store)
            store.commit(
                T1,
                ChangeSet(outbox=(_message("b", "p1"), _message("a", "p1"), _message("c", "p2"))),
            )
            store.commit(T2, ChangeSet(outbox=(_message("d", "p1"),)))
            [first, _] = store.claim_outbox(T1, now=_NOW, limit=2, lease=1)
            store.complete_outbox(T1, first.message.id, attempt=1, receipt="ok")
            listed = erasing.outbox_of(T1, "p1")
            assert [e.message for e in listed] == [_message("a", "p1"), _message("b", "p1")]
            statuses = {e.message.key: (e.status, e.attempts) for e in listed}
            assert statuses[first.message.key] == (OutboxStatus.DELIVERED, 1)
            assert [e.message.key for e in erasing.outbox_of(T2, "p1")] == ["d"]
            assert erasing.outbox_of(T1, "nobody") == []
            with pytest.raises(ValidationError):
                erasing.outbox_of(T1, cast(Any, None))

    def test_a_failed_erasure_writes_nothing(self) -> None:
        """A stale version or an unknown event id leaves documents, events and outbox alone."""
        with self.opened() as store:
            erasing = _erasing(store)
            store.commit(
                T1,
                ChangeSet((Put(make_doc("a"), 0),), (make_event("a", 1),), (_message("k1", "p1"),)),
            )
            before = _snapshot(store, T1)
            stale = ChangeSet((Put(make_doc("a", 3), 2),), (make_event("a", 2),))
            with pytest.raises(ConcurrencyConflict):
                erasing.erase(T1, stale, {"e-a-1": "{}"}, "p1")
            assert _snapshot(store, T1) == before
            fine = ChangeSet((Put(make_doc("a", 2), 1),), (make_event("a", 2),))
            with pytest.raises(ValidationError) as info:
                erasing.erase(T1, fine, {"e-a-1": "{}", "missing": "{}"}, "p1")
            assert info.value.field == "events"
            assert _snapshot(store, T1) == before
            store.commit(T2, ChangeSet(events=(make_event("z", 1),)))
            with pytest.raises(ValidationError):  # the id of another tenant's event
                erasing.erase(T1, ChangeSet(), {"e-z-1": "{}"}, None)
            assert _snapshot(store, T1) == before

    @pytest.mark.parametrize(
        ("changes", "events", "party_id"),
        [
            (None, {}, None),
            (ChangeSet(), [("e-a-1", "{}")], None),
            (ChangeSet(), {"e-a-1": 1}, None),
            (ChangeSet(), {1: "{}"}, None),
            (ChangeSet(), {}, 7),
        ],
        ids=repr,
    )
    def test_erase_refuses_bad_arguments(self, changes: Any, events: Any, party_id: Any) -> None:
        """Arguments of the wrong type raise `ValidationError` and write nothing."""
        with self.opened() as store:
            erasing = _erasing(store)
            store.commit(T1, ChangeSet(events=(make_event("a", 1),)))
            with pytest.raises(ValidationError):
                erasing.erase(T1, changes, events, party_id)
            assert [e.record.body for e in store.read_events(T1)] == ["{}"]

    def test_erase_after_close_raises_storage_error(self) -> None:
        """A closed store refuses both methods with `StorageError`."""
        store = self.make_store()
        erasing = _erasing(store)
        store.open(CONTRACT_SCHEMA)
        store.close()
        with pytest.raises(StorageError):
            erasing.erase(T1, ChangeSet(), {}, "p1")
        with pytest.raises(StorageError):
            erasing.outbox_of(T1, "p1")
