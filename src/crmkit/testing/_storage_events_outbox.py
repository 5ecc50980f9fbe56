"""The storage kit's tests of the event log and the outbox.

Events read back in commit order with unique (stream, version) pairs; outbox
messages are leased by claims, and completing or failing one needs the
attempt it was claimed at.
"""

from __future__ import annotations

from typing import Any

import pytest

from crmkit.kernel.errors import ConcurrencyConflict, DuplicateRecord, NotFound
from crmkit.ports.storage import ChangeSet, OutboxStatus
from crmkit.testing._storage_data import T1, make_event, make_message
from crmkit.testing._storage_hooks import ContractHooks


class EventAndOutboxTests(ContractHooks):
    """The event log and the outbox lifecycle."""

    def test_event_log(self) -> None:
        """Events read back in commit order, after a position, by stream; versions are unique."""
        with self.opened() as store:
            store.commit(
                T1, ChangeSet(events=(make_event("a", 1), make_event("b", 1), make_event("a", 2)))
            )
            store.commit(T1, ChangeSet(events=(make_event("a", 3),)))
            log = store.read_events(T1)
            assert [(e.record.stream_id, e.record.version) for e in log] == [
                ("a", 1),
                ("b", 1),
                ("a", 2),
                ("a", 3),
            ]
            assert [e.position for e in log] == sorted({e.position for e in log})
            assert [e.record for e in store.read_events(T1, after=log[1].position)] == [
                log[2].record,
                log[3].record,
            ]
            assert [e.record for e in store.read_events(T1, limit=1)] == [log[0].record]
            by_stream = store.read_events(T1, after=log[0].position, stream_id="a")
            assert [e.record.version for e in by_stream] == [2, 3]
            for events in (
                (make_event("a", 2, id="other"),),
                (make_event("b", 2), make_event("b", 2, id="x")),
            ):
                with pytest.raises(ConcurrencyConflict) as info:
                    store.commit(T1, ChangeSet(events=events))
                clash = events[-1]
                assert (info.value.kind, info.value.id) == ("item", clash.stream_id)
                assert info.value.expected == clash.version - 1
            assert len(store.read_events(T1)) == 4

    def test_outbox_lifecycle(self) -> None:
        """Claims lease due messages in order; complete and fail need the current attempt."""
        with self.opened() as store:
            messages = (
                make_message("k1", 5),
                make_message("k2", 0),
                make_message("k3", 0, id="m-a"),
            )
            store.commit(T1, ChangeSet(outbox=messages))

            def claim(now: int, limit: int = 10, lease: int = 10) -> list[tuple[Any, ...]]:
                found = store.claim_outbox(T1, now=now, limit=limit, lease=lease)
                return [(e.message.id, e.attempts, e.lease_until) for e in found]

            assert claim(4, lease=1) == [("m-a", 1, 5), ("m-k2", 1, 5)]  # m-k1 is not due
            # Due first, then by id; a lease ends at its lease_until.
            assert claim(5) == [("m-a", 2, 15), ("m-k2", 2, 15), ("m-k1", 1, 15)]
            assert claim(14) == []
            [entry] = store.claim_outbox(T1, now=15, limit=1, lease=10)
            assert entry.message == messages[2]
            assert (entry.status, entry.attempts, entry.lease_until) == (
                OutboxStatus.PENDING,
                3,
                25,
            )
            with pytest.raises(ConcurrencyConflict):
                store.complete_outbox(T1, "m-a", attempt=2, receipt="late")
            store.complete_outbox(T1, "m-a", attempt=3, receipt="ok")
            with pytest.raises(ConcurrencyConflict):
                store.complete_outbox(T1, "m-a", attempt=3, receipt="twice")
            store.fail_outbox(T1, "m-k2", attempt=2, error="timeout", retry_at=30)
            store.fail_outbox(T1, "m-k1", attempt=1, error="bounced", retry_at=None)
            with pytest.raises(ConcurrencyConflict):
                store.fail_outbox(T1, "m-k1", attempt=1, error="again", retry_at=None)
            assert claim(29) == []
            [retried] = store.claim_outbox(T1, now=30, limit=10, lease=1)
            assert (retried.message.id, retried.message.available_at) == ("m-k2", 30)
            assert (retried.attempts, retried.last_error, retried.receipt) == (3, "timeout", None)
            with pytest.raises(NotFound):
                store.fail_outbox(T1, "m-none", attempt=1, error="x", retry_at=None)
            for clash in (
                (make_message("k1", id="new"),),
                (make_message("k9"), make_message("k9", id="n2")),
            ):
                with pytest.raises(DuplicateRecord) as info:
                    store.commit(T1, ChangeSet(outbox=clash))
                assert (info.value.kind, info.value.field) == ("outbox", "key")
            with pytest.raises(DuplicateRecord) as info:
                store.commit(T1, ChangeSet(outbox=(make_message("k8", id="m-a"),)))
            assert info.value.field == "id"
            # Delivered and dead messages are never claimed again; m-k2 is still pending.
            assert [row[0] for row in claim(10**6)] == ["m-k2"]
