"""The storage kit's random walk: a store and `MemoryStore` driven by the same calls.

`ReferenceMachine` is a Hypothesis state machine that commits random change
sets (mostly valid, sometimes stale or clashing), reads, queries, reads the
event log and works the outbox, on the store under test and on the reference
beside it. After every step both must hold the same documents, and every call
must give the same result or raise the same crmkit error on both.
`ReferenceTests` runs the walk as one test of the contract.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crmkit.adapters.memory import MemoryStore
from crmkit.kernel.errors import ConcurrencyConflict, CrmError, DuplicateRecord
from crmkit.ports.query import MAX_LIMIT, Query
from crmkit.ports.storage import (
    ChangeSet,
    Delete,
    Document,
    DocumentStore,
    EventRecord,
    OutboxMessage,
    Put,
    Write,
)
from crmkit.testing._storage_data import (
    CODES,
    CONTRACT_SCHEMA,
    IDS,
    INT_EDGES,
    KEYS,
    T1,
    T2,
    all_docs,
    canonical,
    item_index,
    queries,
)
from crmkit.testing._storage_hooks import ContractHooks


def _outcome(call: Callable[[], Any]) -> Any:
    """The result of ``call``, or the identity of the crmkit error it raised."""
    try:
        return ("ok", call())
    except DuplicateRecord as exc:
        return ("error", DuplicateRecord, exc.field)
    except ConcurrencyConflict as exc:
        return ("error", ConcurrencyConflict, exc.kind, exc.id, exc.expected)
    except CrmError as exc:
        return ("error", type(exc))


# One draw per change set: many small draws make the state machine slow.
_change_plans = st.tuples(
    st.lists(
        st.tuples(
            st.sampled_from(("item", "item", "note")),
            st.sampled_from(IDS),
            st.sampled_from(("valid",) * 8 + ("zero", "stale")),
            st.sampled_from((False, False, False, True)),  # delete (when the id exists)
            st.integers(1, 2),  # version step
            item_index,
            st.none() | st.sampled_from(CODES),
        ),
        max_size=5,
    ),
    st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from((None,) * 4 + (1, 2))), max_size=2),
    st.lists(
        st.tuples(
            st.sampled_from((None,) * 7 + (0, 1, 2, 3)),  # reuse a known message id
            st.sampled_from((None,) * 3 + KEYS),  # a key that may be taken
            st.none() | st.sampled_from(IDS),
            st.integers(0, 9) | st.sampled_from(INT_EDGES),
        ),
        max_size=2,
    ),
)


class ReferenceMachine(RuleBasedStateMachine):
    """Makes the same random calls on a store and on `MemoryStore`; they must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.ref = MemoryStore()
        self.ref.open(CONTRACT_SCHEMA)
        self.sut = self.make_store()
        self.sut.open(CONTRACT_SCHEMA)
        self.serial = 0
        self.messages: dict[str, list[str]] = {T1: [], T2: []}
        self.attempts: dict[tuple[str, str], int] = {}

    def make_store(self) -> DocumentStore:
        """The store under test (the contract overrides this)."""
        raise NotImplementedError

    def both(self, call: Callable[[DocumentStore], Any]) -> Any:
        """Run ``call`` on both stores: the same result or the same error; return it."""
        expected = _outcome(lambda: call(self.ref))
        assert _outcome(lambda: call(self.sut)) == expected
        return expected

    def change_set(self, plan: Any, tenant: str) -> ChangeSet:
        """Turn a drawn `_change_plans` value into writes, events and outbox messages.

        Writes are mostly valid (chained on what the reference holds and what
        the change set staged before), sometimes stale or duplicate; events
        mostly take their stream's next version; messages mostly fresh keys.
        """
        write_plans, event_plans, message_plans = plan
        writes: list[Write] = []
        staged: dict[tuple[str, str], int] = {}
        for kind, id, how, delete, step, index, code in write_plans:
            if (kind, id) in staged:
                current = staged[kind, id]
            else:
                stored = self.ref.get(tenant, kind, id)
                current = stored.version if stored else 0
            expected = {"valid": current, "zero": 0, "stale": current + 1}[how]
            if expected > 0 and delete:
                writes.append(Delete(kind, id, expected))
                staged[kind, id] = 0
                continue
            self.serial += 1
            index = index if kind == "item" else {}
            if code is not None:  # often enough for unique values to clash and swap
                index = {**index, "code": code}
            doc = Document(kind, id, expected + step, json.dumps({"n": self.serial}), index)
            writes.append(Put(doc, expected))
            staged[kind, id] = doc.version
        last: dict[str, int] = {}
        for stored_event in self.ref.read_events(tenant, limit=MAX_LIMIT):
            record = stored_event.record
            last[record.stream_id] = max(last.get(record.stream_id, 0), record.version)
        events = []
        for stream, taken in event_plans:
            self.serial += 1
            version = taken or last.get(stream, 0) + 1  # mostly the next version
            last[stream] = max(last.get(stream, 0), version)
            events.append(
                EventRecord(f"e{self.serial}", "item", stream, version, "changed", 1, 0, "{}")
            )
        outbox = []
        for reuse, key, party, available in message_plans:
            self.serial += 1
            known = self.messages[tenant]
            id = known[reuse % len(known)] if reuse is not None and known else f"m{self.serial}"
            key = key or f"k{self.serial}"
            outbox.append(OutboxMessage(id, key, "email", "service", party, "{}", available))
        return ChangeSet(tuple(writes), tuple(events), tuple(outbox))

    @initialize(data=st.data())
    def seed(self, data: st.DataObject) -> None:
        """Start from a few commits in each tenant, so that later steps find data."""
        for tenant in (T1, T2, T1, T2):
            self.commit_to(tenant, data)

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        """Commit the same random change set to both."""
        self.commit_to(data.draw(st.sampled_from((T1, T2))), data)

    def commit_to(self, tenant: str, data: st.DataObject) -> None:
        """Commit a random change set to ``tenant`` of both stores."""
        changes = self.change_set(data.draw(_change_plans), tenant)
        if self.both(lambda store: store.commit(tenant, changes))[0] == "ok":
            self.messages[tenant].extend(message.id for message in changes.outbox)

    @rule(
        tenant=st.sampled_from((T1, T2)),
        kind=st.sampled_from(("item", "note")),
        id=st.sampled_from(IDS),
    )
    def get(self, tenant: str, kind: str, id: str) -> None:
        """Read one document from both."""
        self.both(lambda store: canonical(store.get(tenant, kind, id)))

    @rule(tenant=st.sampled_from((T1, T2)), query=queries())
    def query(self, tenant: str, query: Query) -> None:
        """Run the same random query on both."""
        self.both(lambda store: [canonical(doc) for doc in store.query(tenant, query)])

    @rule(data=st.data())
    def read_events(self, data: st.DataObject) -> None:
        """Read the logs from a random point; positions may differ, records may not."""
        tenant = data.draw(st.sampled_from((T1, T2)))
        ref_log = self.ref.read_events(tenant, limit=MAX_LIMIT)
        sut_log = self.sut.read_events(tenant, limit=MAX_LIMIT)
        assert [e.record for e in sut_log] == [e.record for e in ref_log]
        positions = [e.position for e in sut_log]
        assert positions == sorted(set(positions))
        skip = data.draw(st.integers(0, len(ref_log)))
        limit = data.draw(st.integers(1, 3))
        stream = data.draw(st.none() | st.sampled_from(IDS))
        found = [
            [
                e.record
                for e in store.read_events(
                    tenant,
                    after=log[skip - 1].position if skip else 0,
                    limit=limit,
                    stream_id=stream,
                )
            ]
            for store, log in ((self.ref, ref_log), (self.sut, sut_log))
        ]
        assert found[1] == found[0]

    @rule(
        tenant=st.sampled_from((T1, T2)),
        now=st.integers(-3, 12),
        limit=st.integers(0, 3),
        lease=st.integers(0, 5),
    )
    def claim(self, tenant: str, now: int, limit: int, lease: int) -> None:
        """Claim due outbox messages from both."""
        claimed = self.ref.claim_outbox(tenant, now=now, limit=limit, lease=lease)
        assert self.sut.claim_outbox(tenant, now=now, limit=limit, lease=lease) == claimed
        for entry in claimed:
            self.attempts[tenant, entry.message.id] = entry.attempts

    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        """Complete or fail a message, with the right attempt or a stale one."""
        tenant = data.draw(st.sampled_from((T1, T2)))
        id = data.draw(st.sampled_from([*self.messages[tenant], "m-unknown"]))
        attempt = self.attempts.get((tenant, id), 0) + data.draw(st.sampled_from((0, 0, 1, -1)))
        how = data.draw(st.sampled_from(("complete", "retry", "dead")))
        retry_at = data.draw(st.integers(0, 12))

        def call(store: DocumentStore) -> None:
            if how == "complete":
                store.complete_outbox(tenant, id, attempt=attempt, receipt=f"r{attempt}")
            else:
                again = retry_at if how == "retry" else None
                store.fail_outbox(tenant, id, attempt=attempt, error="boom", retry_at=again)

        self.both(call)

    @invariant()
    def same_documents(self) -> None:
        """After every step both hold the same documents."""
        for tenant in (T1, T2):
            for spec in CONTRACT_SCHEMA.kinds:
                assert all_docs(self.sut, tenant, spec.kind) == all_docs(
                    self.ref, tenant, spec.kind
                )

    def teardown(self) -> None:
        """Close the store under test."""
        self.sut.close()


class ReferenceTests(ContractHooks):
    """The random walk beside `MemoryStore`, as one test."""

    def test_matches_reference_store(self) -> None:
        """A random walk of commits, reads, queries, events and outbox calls beside MemoryStore."""
        contract = self

        class Machine(ReferenceMachine):
            def make_store(self) -> DocumentStore:
                return contract.make_store()

        examples = 200 if os.environ.get("CI") else 50
        run_state_machine_as_test(
            Machine, settings=settings(max_examples=examples, stateful_step_count=25, deadline=None)
        )
