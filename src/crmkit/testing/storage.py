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
`crmkit.ports.query.run_query`), events, the outbox, atomicity, threads,
error translation, and a stateful random walk beside the reference store.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crmkit.adapters.memory import MemoryStore
from crmkit.kernel.errors import (
    ConcurrencyConflict,
    CrmError,
    DuplicateRecord,
    NotFound,
    StorageError,
    ValidationError,
)
from crmkit.ports.query import MAX_LIMIT, Eq, In, Keyset, Order, Query, Range, run_query
from crmkit.ports.storage import (
    ChangeSet,
    Delete,
    Document,
    DocumentStore,
    EventRecord,
    IndexField,
    IndexType,
    KindSpec,
    OutboxMessage,
    OutboxStatus,
    Put,
    StoreSchema,
    Write,
)
from crmkit.testing._workers import bump_counter

CONTRACT_SCHEMA = StoreSchema(
    (
        KindSpec(
            "item",
            (
                IndexField("name", IndexType.TEXT),
                IndexField("rank", IndexType.INT),
                IndexField("flag", IndexType.BOOL),
                IndexField("code", IndexType.TEXT, unique=True),
                IndexField("tags", IndexType.TEXT, multi=True),
                IndexField("nums", IndexType.INT, multi=True),
            ),
        ),
        KindSpec("note", (IndexField("code", IndexType.TEXT, unique=True),)),
    )
)
"""The schema the kit opens every store with: text, int, bool, unique and multi fields."""

_T1, _T2 = "t1", "t2"
_IDS = ("a", "b", "c", "d")
_QUERY_IDS = ("a", "aa", "b", "B", "0", "é", "z", "\U0001f600")
_CODES = ("x", "y", "z")
_KEYS = ("k1", "k2", "k3")
_TAGS = ("red", "green", "blue", "")
_INT_EDGES = (-(2**63), -1, 0, 1, 2, 2**63 - 1)

_texts = st.one_of(
    st.sampled_from(("", "a", "A", "b", "ab", "é", "z", "\U0001f600")),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=4),
)
_ints = st.one_of(st.sampled_from(_INT_EDGES), st.integers(-3, 3))
_SINGLE: dict[str, st.SearchStrategy[Any]] = {
    "name": _texts,
    "rank": _ints,
    "flag": st.booleans(),
    "code": st.sampled_from(_CODES),
}
_MULTI: dict[str, st.SearchStrategy[Any]] = {"tags": st.sampled_from(_TAGS), "nums": _ints}
_item_index = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.none() | values for name, values in _SINGLE.items()},
        **{
            name: st.none() | st.lists(values, max_size=3).map(tuple)
            for name, values in _MULTI.items()
        },
    },
)


# --- helpers ---------------------------------------------------------------


def _doc(id: str = "a", version: int = 1, kind: str = "item", **index: Any) -> Document:
    return Document(kind, id, version, json.dumps({"id": id, "v": version}), index)


def _event(stream_id: str, version: int, id: str | None = None) -> EventRecord:
    return EventRecord(
        id or f"e-{stream_id}-{version}", "item", stream_id, version, "item_changed", 1, 7, "{}"
    )


def _message(key: str, available_at: int = 0, id: str | None = None) -> OutboxMessage:
    return OutboxMessage(
        id or f"m-{key}", key, "email", "service", None, '{"to":"x"}', available_at
    )


def _typed(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_typed(item) for item in value)
    return (type(value).__name__, value)


def canonical(doc: Document | None) -> Any:
    """A comparable form of a document: index values keep their types; null ones drop out.

    An adapter may return a null or empty index value as absent (the port reads
    a missing field as null), but must keep every other value and its type.
    """
    if doc is None:
        return None
    index = sorted(
        (name, _typed(value)) for name, value in doc.index.items() if value not in (None, ())
    )
    return (doc.kind, doc.id, doc.version, doc.body, tuple(index))


def _all(store: DocumentStore, tenant: str, kind: str) -> list[Any]:
    return [canonical(doc) for doc in store.query(tenant, Query(kind, limit=MAX_LIMIT))]


def _snapshot(store: DocumentStore) -> dict[str, Any]:
    """Every document (and the side-table view of tags and codes) and event of both tenants."""
    shot: dict[str, Any] = {}
    for tenant in (_T1, _T2):
        for spec in CONTRACT_SCHEMA.kinds:
            shot[f"{tenant}/{spec.kind}"] = _all(store, tenant, spec.kind)
        for field, values in (("tags", _TAGS), ("code", _CODES)):
            for value in values:
                found = store.query(tenant, Query("item", (Eq(field, value),), limit=MAX_LIMIT))
                shot[f"{tenant}/{field}={value}"] = [doc.id for doc in found]
        shot[f"{tenant}/events"] = [e.record for e in store.read_events(tenant, limit=MAX_LIMIT)]
    return shot


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


def _keyset(query: Query, doc: Document) -> Keyset:
    return Keyset(tuple(doc.index.get(order.field) for order in query.order_by), doc.id)  # type: ignore[misc]


@st.composite
def _conditions(draw: st.DrawFn) -> Eq | In | Range:
    field = draw(st.sampled_from(sorted({*_SINGLE, *_MULTI, "id"})))
    values = {**_SINGLE, **_MULTI, "id": st.sampled_from(_QUERY_IDS)}[field]
    shapes = ["eq", "null", "in"] + ([] if field in _MULTI else ["range"])
    shape = draw(st.sampled_from(shapes))
    if shape == "eq":
        return Eq(field, draw(values))
    if shape == "null":
        return Eq(field, None)
    if shape == "in":
        return In(field, tuple(draw(st.lists(values, max_size=3))))
    bounds = {name: draw(st.none() | values) for name in ("gt", "gte", "lt", "lte")}
    return Range(field, **bounds)


@st.composite
def _queries(draw: st.DrawFn, keyset: bool = True) -> Query:
    where = tuple(draw(st.lists(_conditions(), max_size=2)))
    fields = draw(st.lists(st.sampled_from(sorted(_SINGLE)), unique=True, max_size=3))
    order = tuple(Order(field, draw(st.booleans())) for field in fields)
    limit = draw(st.sampled_from((1, 2, 3, 5, MAX_LIMIT)))
    after = None
    if keyset and draw(st.booleans()):
        values = tuple(draw(st.none() | _SINGLE[key.field]) for key in order)
        after = Keyset(values, draw(st.sampled_from(_QUERY_IDS)))
    return Query("item", where, order, limit, after)


_documents = st.lists(
    st.tuples(st.sampled_from(_QUERY_IDS), _item_index), unique_by=lambda pair: pair[0], max_size=8
).map(lambda pairs: [_doc(id, 1, **index) for id, index in pairs])


def _bad_inputs() -> list[tuple[str, Callable[[DocumentStore], Any]]]:
    def put(*writes: Write) -> Callable[[DocumentStore], Any]:
        return lambda store: store.commit(_T1, ChangeSet(writes))

    bad: list[tuple[str, Callable[[DocumentStore], Any]]] = [
        ("get an undeclared kind", lambda store: store.get(_T1, "nope", "a")),
        ("query an undeclared kind", lambda store: store.query(_T1, Query("nope"))),
        ("put an undeclared kind", put(Put(_doc(kind="nope"), 0))),
        ("delete an undeclared kind", put(Delete("nope", "a", 1))),
        ("an undeclared field", put(Put(_doc(missing=1), 0))),
        ("text in an int field", put(Put(_doc(rank="1"), 0))),
        ("a bool in an int field", put(Put(_doc(rank=True), 0))),
        ("an int in a bool field", put(Put(_doc(flag=1), 0))),
        ("an int in a text field", put(Put(_doc(name=1), 0))),
        ("an int beyond 64 bits", put(Put(_doc(rank=2**63), 0))),
        ("a scalar in a multi field", put(Put(_doc(tags="red"), 0))),
        ("a list in a multi field", put(Put(_doc(tags=["red"]), 0))),
        ("a mixed multi value", put(Put(_doc(tags=("red", 1)), 0))),
        ("a tuple in a single field", put(Put(_doc(code=("x",)), 0))),
        ("a version not above the expected", put(Put(_doc(version=1), 1))),
        ("a negative expected version", put(Put(_doc(version=1), -1))),
        ("read no events", lambda store: store.read_events(_T1, limit=0)),
        ("claim a negative number", lambda s: s.claim_outbox(_T1, now=0, limit=-1, lease=1)),
    ]
    return bad


_BAD_QUERIES: list[Any] = [
    Query("item", (Eq("missing", 1),)),
    Query("item", (Eq("rank", "1"),)),
    Query("item", (Eq("flag", 1),)),
    Query("item", (Eq("rank", True),)),
    Query("item", (In("rank", cast(Any, [1])),)),
    Query("item", (In("name", (1,)),)),
    Query("item", (Range("tags", gt="a"),)),
    Query("item", (Range("name", gt=1),)),
    Query("item", (cast(Any, "rank"),)),
    Query("item", order_by=(Order("tags"),)),
    Query("item", order_by=(Order("id"),)),
    Query("item", order_by=(Order("missing"),)),
    Query("item", limit=0),
    Query("item", limit=MAX_LIMIT + 1),
    Query("item", limit=cast(Any, True)),
    Query("item", order_by=(Order("rank"),), after=Keyset((), "a")),
    Query("item", order_by=(Order("rank"),), after=Keyset(("x",), "a")),
    Query("item", order_by=(Order("rank"),), after=Keyset((1,), cast(Any, 5))),
]


def _seed(store: DocumentStore) -> None:
    """Documents, events and outbox messages in both tenants, for the atomicity tests."""
    store.commit(
        _T1,
        ChangeSet(
            (
                Put(_doc("a", code="x", tags=("red",), rank=1), 0),
                Put(_doc("b", code="y", tags=("green",), nums=(1, 1)), 0),
                Put(_doc("d", code="w", flag=True), 0),
                Put(_doc("a", kind="note", code="x"), 0),
            ),
            (_event("a", 1), _event("b", 1)),
            (_message("k1"),),
        ),
    )
    store.commit(
        _T2, ChangeSet((Put(_doc("a", code="x"), 0),), (_event("a", 1),), (_message("k1"),))
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
        Put(_doc("a", 2, code="z", tags=("blue",), rank=5), 1),  # frees x, takes z
        Delete("item", "b", 1),  # frees y
        Put(_doc("c", code="y", tags=("red", "blue")), 0),  # takes the freed y
        Put(_doc("e", kind="note", code="y"), 0),
    ]
    events = [_event("a", 2), _event("c", 1)]
    outbox = [_message("k2"), _message("k3")]
    extra: dict[str, Callable[[], None]] = {
        "stale write": lambda: writes.append(Put(_doc("d", 3), 2)),
        "stale delete": lambda: writes.append(Delete("item", "d", 2)),
        "existing id": lambda: writes.append(Put(_doc("d"), 0)),
        "unique clash": lambda: writes.append(Put(_doc("f", code="w"), 0)),
        "unique clash in the batch": lambda: writes.append(Put(_doc("f", code="z"), 0)),
        "event clash": lambda: events.append(_event("b", 1)),
        "event clash in the batch": lambda: events.append(_event("c", 1, id="e-again")),
        "outbox key clash": lambda: outbox.append(_message("k1", id="m-other")),
        "outbox key clash in the batch": lambda: outbox.append(_message("k2", id="m-other")),
    }
    if last:
        extra[last]()
    return ChangeSet(tuple(writes), tuple(events), tuple(outbox))


def _claim_all(store: DocumentStore, tenant: str) -> list[str]:
    claimed = store.claim_outbox(tenant, now=10**12, limit=MAX_LIMIT, lease=1)
    return sorted(entry.message.key for entry in claimed)


# One draw per change set: many small draws make the state machine slow.
_change_plans = st.tuples(
    st.lists(
        st.tuples(
            st.sampled_from(("item", "item", "note")),
            st.sampled_from(_IDS),
            st.sampled_from(("valid",) * 8 + ("zero", "stale")),
            st.sampled_from((False, False, False, True)),  # delete (when the id exists)
            st.integers(1, 2),  # version step
            _item_index,
            st.none() | st.sampled_from(_CODES),
        ),
        max_size=5,
    ),
    st.lists(st.tuples(st.sampled_from(_IDS), st.sampled_from((None,) * 4 + (1, 2))), max_size=2),
    st.lists(
        st.tuples(
            st.sampled_from((None,) * 7 + (0, 1, 2, 3)),  # reuse a known message id
            st.sampled_from((None,) * 3 + _KEYS),  # a key that may be taken
            st.none() | st.sampled_from(_IDS),
            st.integers(0, 9) | st.sampled_from(_INT_EDGES),
        ),
        max_size=2,
    ),
)


class _ReferenceMachine(RuleBasedStateMachine):
    """Makes the same random calls on a store and on `MemoryStore`; they must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.ref = MemoryStore()
        self.ref.open(CONTRACT_SCHEMA)
        self.sut = self.make_store()
        self.sut.open(CONTRACT_SCHEMA)
        self.serial = 0
        self.messages: dict[str, list[str]] = {_T1: [], _T2: []}
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
        for tenant in (_T1, _T2, _T1, _T2):
            self.commit_to(tenant, data)

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        """Commit the same random change set to both."""
        self.commit_to(data.draw(st.sampled_from((_T1, _T2))), data)

    def commit_to(self, tenant: str, data: st.DataObject) -> None:
        """Commit a random change set to ``tenant`` of both stores."""
        changes = self.change_set(data.draw(_change_plans), tenant)
        if self.both(lambda store: store.commit(tenant, changes))[0] == "ok":
            self.messages[tenant].extend(message.id for message in changes.outbox)

    @rule(
        tenant=st.sampled_from((_T1, _T2)),
        kind=st.sampled_from(("item", "note")),
        id=st.sampled_from(_IDS),
    )
    def get(self, tenant: str, kind: str, id: str) -> None:
        """Read one document from both."""
        self.both(lambda store: canonical(store.get(tenant, kind, id)))

    @rule(tenant=st.sampled_from((_T1, _T2)), query=_queries())
    def query(self, tenant: str, query: Query) -> None:
        """Run the same random query on both."""
        self.both(lambda store: [canonical(doc) for doc in store.query(tenant, query)])

    @rule(data=st.data())
    def read_events(self, data: st.DataObject) -> None:
        """Read the logs from a random point; positions may differ, records may not."""
        tenant = data.draw(st.sampled_from((_T1, _T2)))
        ref_log = self.ref.read_events(tenant, limit=MAX_LIMIT)
        sut_log = self.sut.read_events(tenant, limit=MAX_LIMIT)
        assert [e.record for e in sut_log] == [e.record for e in ref_log]
        positions = [e.position for e in sut_log]
        assert positions == sorted(set(positions))
        skip = data.draw(st.integers(0, len(ref_log)))
        limit = data.draw(st.integers(1, 3))
        stream = data.draw(st.none() | st.sampled_from(_IDS))
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
        tenant=st.sampled_from((_T1, _T2)),
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
        tenant = data.draw(st.sampled_from((_T1, _T2)))
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
        for tenant in (_T1, _T2):
            for spec in CONTRACT_SCHEMA.kinds:
                assert _all(self.sut, tenant, spec.kind) == _all(self.ref, tenant, spec.kind)

    def teardown(self) -> None:
        """Close the store under test."""
        self.sut.close()


_FIXTURE = (
    _doc("a", name="b", rank=2, flag=True, tags=("red", "blue"), nums=(1,)),
    _doc("b", name="a", rank=None, flag=False, tags=()),
    _doc("c", name="B", rank=2, tags=("red",)),
    _doc("d"),
    _doc("e", name="é", rank=-1, flag=True, code="x"),
)
_CONDITION_CASES: list[tuple[Any, list[str]]] = [
    (Eq("name", "a"), ["b"]),
    (Eq("rank", None), ["b", "d"]),
    (Eq("flag", False), ["b"]),
    (Eq("tags", "red"), ["a", "c"]),
    (Eq("nums", 1), ["a"]),
    (Eq("tags", None), ["b", "d", "e"]),
    (Eq("id", "c"), ["c"]),
    (In("rank", (2, -1)), ["a", "c", "e"]),
    (In("tags", ("blue", "green")), ["a"]),
    (In("tags", ()), []),
    (In("id", ("a", "e", "zz")), ["a", "e"]),
    (Range("rank", gte=0), ["a", "c"]),
    (Range("rank"), ["a", "c", "e"]),
    (Range("name", gt="B", lt="é"), ["a", "b"]),
    (Range("id", lte="b"), ["a", "b"]),
]
_ORDER_CASES: list[tuple[tuple[Order, ...], list[str]]] = [
    ((Order("rank"),), ["e", "a", "c", "b", "d"]),
    ((Order("rank", descending=True),), ["c", "a", "e", "d", "b"]),
    ((Order("name"),), ["c", "b", "a", "e", "d"]),
    ((Order("flag", descending=True), Order("name")), ["a", "e", "b", "c", "d"]),
]


def _unique_codes(docs: list[Document]) -> list[Document]:
    seen: set[Any] = set()
    kept = []
    for doc in docs:
        code = doc.index.get("code")
        if code is not None and code in seen:
            doc = Document(doc.kind, doc.id, doc.version, doc.body, {**doc.index, "code": None})
        seen.add(code)
        kept.append(doc)
    return kept


class StorageContract:
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

    # --- documents and versions ---------------------------------------------

    def test_round_trip(self) -> None:
        """A committed document reads back with its body and typed index values."""
        counter = iter(range(10**9))
        with self.opened() as store:

            @settings(deadline=None)  # an adapter over a network may be slow
            @given(docs=_documents.map(_unique_codes), body=_texts)
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
            store.commit(_T1, ChangeSet((Put(_doc("a", code="x"), 0),)))
            with pytest.raises(DuplicateRecord) as duplicate:
                store.commit(_T1, ChangeSet((Put(_doc("a"), 0),)))
            assert (duplicate.value.kind, duplicate.value.field) == ("item", "id")
            with pytest.raises(ConcurrencyConflict) as stale:
                store.commit(_T1, ChangeSet((Put(_doc("a", 3), 2),)))
            assert (stale.value.kind, stale.value.id, stale.value.expected) == ("item", "a", 2)
            second = _doc("a", 2, code="y")
            store.commit(_T1, ChangeSet((Put(second, 1),)))
            assert canonical(store.get(_T1, "item", "a")) == canonical(second)
            for delete in (Delete("item", "a", 1), Delete("item", "zz", 1)):
                with pytest.raises(ConcurrencyConflict):
                    store.commit(_T1, ChangeSet((delete,)))
            store.commit(_T1, ChangeSet((Delete("item", "a", 2),)))
            assert store.get(_T1, "item", "a") is None
            store.commit(_T1, ChangeSet((Put(_doc("a", code="y"), 0),)))  # id and code free again
            assert store.get(_T1, "item", "a") is not None

    def test_writes_chain_within_a_change_set(self) -> None:
        """Later writes to an id expect the version its earlier writes left."""
        with self.opened() as store:
            last = _doc("a", 1, name="last")
            chain = (
                Put(_doc("a", 1), 0),
                Put(_doc("a", 2), 1),
                Delete("item", "a", 2),
                Put(last, 0),
                Put(_doc("b", 1), 0),
                Delete("item", "b", 1),
            )
            store.commit(_T1, ChangeSet(chain))
            assert canonical(store.get(_T1, "item", "a")) == canonical(last)
            assert store.get(_T1, "item", "b") is None
            with pytest.raises(ConcurrencyConflict):
                store.commit(_T1, ChangeSet((Put(_doc("c", 1), 0), Put(_doc("c", 3), 2))))
            assert store.get(_T1, "item", "c") is None
            with pytest.raises(DuplicateRecord):  # "a" exists, even if the batch deletes it again
                store.commit(_T1, ChangeSet((Put(_doc("a", 1), 0), Delete("item", "a", 1))))
            assert canonical(store.get(_T1, "item", "a")) == canonical(last)

    def test_unique_fields(self) -> None:
        """Unique values clash across documents of a kind, never with nulls or other kinds."""
        with self.opened() as store:
            store.commit(_T1, ChangeSet((Put(_doc("a", code="x"), 0), Put(_doc("b", code="y"), 0))))
            store.commit(_T1, ChangeSet((Put(_doc("n1", code=None), 0), Put(_doc("n2"), 0))))
            store.commit(_T1, ChangeSet((Put(_doc("a", kind="note", code="x"), 0),)))
            for clash in (
                (Put(_doc("c", code="x"), 0),),
                (Put(_doc("c", code="z"), 0), Put(_doc("d", code="z"), 0)),
                (Put(_doc("b", 2, code="x"), 1),),
            ):
                with pytest.raises(DuplicateRecord) as info:
                    store.commit(_T1, ChangeSet(clash))
                assert (info.value.kind, info.value.field) == ("item", "code")
            assert store.get(_T1, "item", "c") is None
            # Two documents swap their values; a deleted document frees its value.
            store.commit(
                _T1, ChangeSet((Put(_doc("a", 2, code="y"), 1), Put(_doc("b", 2, code="x"), 1)))
            )
            store.commit(_T1, ChangeSet((Delete("item", "a", 2), Put(_doc("c", code="y"), 0))))
            found = store.query(_T1, Query("item", (In("code", ("x", "y")),)))
            assert [(doc.id, doc.index.get("code")) for doc in found] == [("b", "x"), ("c", "y")]

    def test_tenants_never_see_each_other(self) -> None:
        """Ids, unique values, event versions and outbox keys are all scoped by tenant."""
        with self.opened() as store:
            for tenant in (_T1, _T2):
                store.commit(
                    tenant,
                    ChangeSet(
                        (Put(_doc("a", code="x", tags=("red",)), 0),),
                        (_event("a", 1),),
                        (_message("k1"),),
                    ),
                )
            store.commit(_T1, ChangeSet((Put(_doc("b", code="y"), 0), Put(_doc("a", 2), 1))))
            assert store.get(_T2, "item", "b") is None
            assert store.get(_T2, "item", "a").version == 1  # type: ignore[union-attr]
            assert [d.id for d in store.query(_T2, Query("item"))] == ["a"]
            assert store.query(_T2, Query("item", (Eq("code", "y"),))) == []
            assert [d.id for d in store.query(_T2, Query("item", (Eq("tags", "red"),)))] == ["a"]
            assert [d.id for d in store.query(_T1, Query("item", (Eq("tags", "red"),)))] == []
            assert len(store.read_events(_T2)) == 1
            assert store.query("t3", Query("item")) == []
            assert store.read_events("t3") == []
            assert store.claim_outbox("t3", now=0, limit=10, lease=5) == []
            [entry] = store.claim_outbox(_T2, now=0, limit=10, lease=5)
            store.complete_outbox(_T2, entry.message.id, attempt=1, receipt="r")
            assert _claim_all(store, _T1) == ["k1"]
            with pytest.raises(NotFound):
                store.complete_outbox("t3", entry.message.id, attempt=1, receipt="r")

    # --- queries --------------------------------------------------------------

    @pytest.mark.parametrize(("condition", "ids"), _CONDITION_CASES, ids=repr)
    def test_each_condition(self, condition: Any, ids: list[str]) -> None:
        """Eq, In and Range on text, int, bool, multi-valued fields and ids."""
        with self.opened() as store:
            store.commit(_T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            found = store.query(_T1, Query("item", (condition,)))
            assert [doc.id for doc in found] == ids

    @pytest.mark.parametrize(("order", "ids"), _ORDER_CASES, ids=repr)
    def test_order_puts_nulls_last_and_breaks_ties_by_id(
        self, order: tuple[Order, ...], ids: list[str]
    ) -> None:
        """Nulls sort last either way; ids break ties in the last key's direction."""
        with self.opened() as store:
            store.commit(_T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            assert [doc.id for doc in store.query(_T1, Query("item", order_by=order))] == ids
            assert [
                doc.id for doc in store.query(_T1, Query("item", order_by=order, limit=2))
            ] == ids[:2]

    def test_queries_match_the_reference(self) -> None:
        """Random filters, orders, limits and keysets give exactly `run_query`'s rows."""
        counter = iter(range(10**9))
        with self.opened() as store:

            @settings(deadline=None)  # an adapter over a network may be slow
            @given(docs=_documents.map(_unique_codes), query=_queries())
            def check(docs: list[Document], query: Query) -> None:
                tenant = f"q{next(counter)}"
                store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                found = [canonical(doc) for doc in store.query(tenant, query)]
                assert found == [canonical(doc) for doc in run_query(query, docs)]

            check()

    def test_keyset_pages_visit_every_row_once(self) -> None:
        """Paging with the last row's keyset returns every match once, in order."""
        counter = iter(range(10**9))
        with self.opened() as store:

            @settings(deadline=None)  # an adapter over a network may be slow
            @given(
                docs=_documents.map(_unique_codes),
                query=_queries(keyset=False),
                size=st.integers(1, 3),
            )
            def check(docs: list[Document], query: Query, size: int) -> None:
                tenant = f"p{next(counter)}"
                store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                everything = Query("item", query.where, query.order_by, MAX_LIMIT)
                expected = [doc.id for doc in run_query(everything, docs)]
                seen: list[str] = []
                after = None
                for _ in range(len(docs) + 2):
                    page = store.query(
                        tenant, Query("item", query.where, query.order_by, size, after)
                    )
                    seen += [doc.id for doc in page]
                    if len(page) < size:
                        break
                    after = _keyset(query, page[-1])
                assert seen == expected

            check()

    @pytest.mark.parametrize("query", _BAD_QUERIES, ids=repr)
    def test_invalid_queries_raise_validation_error(self, query: Query) -> None:
        """A query that does not fit the kind's index fields is refused."""
        with self.opened() as store, pytest.raises(ValidationError):
            store.query(_T1, query)

    # --- events and outbox ----------------------------------------------------

    def test_event_log(self) -> None:
        """Events read back in commit order, after a position, by stream; versions are unique."""
        with self.opened() as store:
            store.commit(_T1, ChangeSet(events=(_event("a", 1), _event("b", 1), _event("a", 2))))
            store.commit(_T1, ChangeSet(events=(_event("a", 3),)))
            log = store.read_events(_T1)
            assert [(e.record.stream_id, e.record.version) for e in log] == [
                ("a", 1),
                ("b", 1),
                ("a", 2),
                ("a", 3),
            ]
            assert [e.position for e in log] == sorted({e.position for e in log})
            assert [e.record for e in store.read_events(_T1, after=log[1].position)] == [
                log[2].record,
                log[3].record,
            ]
            assert [e.record for e in store.read_events(_T1, limit=1)] == [log[0].record]
            by_stream = store.read_events(_T1, after=log[0].position, stream_id="a")
            assert [e.record.version for e in by_stream] == [2, 3]
            for events in ((_event("a", 2, id="other"),), (_event("b", 2), _event("b", 2, id="x"))):
                with pytest.raises(ConcurrencyConflict) as info:
                    store.commit(_T1, ChangeSet(events=events))
                clash = events[-1]
                assert (info.value.kind, info.value.id) == ("item", clash.stream_id)
                assert info.value.expected == clash.version - 1
            assert len(store.read_events(_T1)) == 4

    def test_outbox_lifecycle(self) -> None:
        """Claims lease due messages in order; complete and fail need the current attempt."""
        with self.opened() as store:
            messages = (_message("k1", 5), _message("k2", 0), _message("k3", 0, id="m-a"))
            store.commit(_T1, ChangeSet(outbox=messages))

            def claim(now: int, limit: int = 10, lease: int = 10) -> list[tuple[Any, ...]]:
                found = store.claim_outbox(_T1, now=now, limit=limit, lease=lease)
                return [(e.message.id, e.attempts, e.lease_until) for e in found]

            assert claim(4, lease=1) == [("m-a", 1, 5), ("m-k2", 1, 5)]  # m-k1 is not due
            # Due first, then by id; a lease ends at its lease_until.
            assert claim(5) == [("m-a", 2, 15), ("m-k2", 2, 15), ("m-k1", 1, 15)]
            assert claim(14) == []
            [entry] = store.claim_outbox(_T1, now=15, limit=1, lease=10)
            assert entry.message == messages[2]
            assert (entry.status, entry.attempts, entry.lease_until) == (
                OutboxStatus.PENDING,
                3,
                25,
            )
            with pytest.raises(ConcurrencyConflict):
                store.complete_outbox(_T1, "m-a", attempt=2, receipt="late")
            store.complete_outbox(_T1, "m-a", attempt=3, receipt="ok")
            with pytest.raises(ConcurrencyConflict):
                store.complete_outbox(_T1, "m-a", attempt=3, receipt="twice")
            store.fail_outbox(_T1, "m-k2", attempt=2, error="timeout", retry_at=30)
            store.fail_outbox(_T1, "m-k1", attempt=1, error="bounced", retry_at=None)
            with pytest.raises(ConcurrencyConflict):
                store.fail_outbox(_T1, "m-k1", attempt=1, error="again", retry_at=None)
            assert claim(29) == []
            [retried] = store.claim_outbox(_T1, now=30, limit=10, lease=1)
            assert (retried.message.id, retried.message.available_at) == ("m-k2", 30)
            assert (retried.attempts, retried.last_error, retried.receipt) == (3, "timeout", None)
            with pytest.raises(NotFound):
                store.fail_outbox(_T1, "m-none", attempt=1, error="x", retry_at=None)
            for clash in ((_message("k1", id="new"),), (_message("k9"), _message("k9", id="n2"))):
                with pytest.raises(DuplicateRecord) as info:
                    store.commit(_T1, ChangeSet(outbox=clash))
                assert (info.value.kind, info.value.field) == ("outbox", "key")
            with pytest.raises(DuplicateRecord) as info:
                store.commit(_T1, ChangeSet(outbox=(_message("k8", id="m-a"),)))
            assert info.value.field == "id"
            # Delivered and dead messages are never claimed again; m-k2 is still pending.
            assert [row[0] for row in claim(10**6)] == ["m-k2"]

    # --- atomicity and concurrency -------------------------------------------

    @pytest.mark.parametrize("last", sorted(_DOOMED))
    def test_failing_last_change_leaves_everything_unchanged(self, last: str) -> None:
        """When the last write, event or message of a change set fails, nothing is written."""
        with self.opened() as store:
            _seed(store)
            before = _snapshot(store)
            with pytest.raises(_DOOMED[last]):
                store.commit(_T1, _doomed(last))
            assert _snapshot(store) == before
            assert _claim_all(store, _T1) == ["k1"]
            store.commit(_T1, _doomed(""))  # the same change set without its last item applies
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
                store.commit(_T1, _doomed(""))
            assert _snapshot(store) == before
            assert _claim_all(store, _T1) == ["k1"]
            store.commit(_T1, _doomed(""))  # the store still works
            assert _claim_all(store, _T1) == ["k2", "k3"]

    def test_threads_read_modify_write(self) -> None:
        """Racing writers: each loss is a conflict and every success is counted."""
        threads, attempts = 4, 40
        with self.opened() as store:
            store.commit(_T1, ChangeSet((Put(Document("note", "n", 1, '{"n": 0}'), 0),)))
            results: list[tuple[int, int, list[str]]] = []
            start = threading.Barrier(threads)

            def work() -> None:
                start.wait()
                results.append(bump_counter(store, _T1, "note", "n", attempts))

            workers = [threading.Thread(target=work) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert [errors for _, _, errors in results] == [[]] * threads
            successes = sum(ok for ok, _, _ in results)
            assert successes + sum(lost for _, lost, _ in results) == threads * attempts
            final = store.get(_T1, "note", "n")
            assert final is not None
            assert (json.loads(final.body)["n"], final.version) == (successes, successes + 1)

    # --- errors ---------------------------------------------------------------

    def test_closed_store_raises_storage_error(self) -> None:
        """After close() every call raises StorageError."""
        store = self.make_store()
        store.open(CONTRACT_SCHEMA)
        store.commit(_T1, ChangeSet((Put(_doc("a"), 0),), outbox=(_message("k1"),)))
        store.close()
        calls: list[Callable[[], Any]] = [
            lambda: store.open(CONTRACT_SCHEMA),
            lambda: store.get(_T1, "item", "a"),
            lambda: store.query(_T1, Query("item")),
            lambda: store.commit(_T1, ChangeSet((Put(_doc("b"), 0),))),
            lambda: store.commit(_T1, ChangeSet()),
            lambda: store.read_events(_T1),
            lambda: store.claim_outbox(_T1, now=0, limit=1, lease=1),
            lambda: store.complete_outbox(_T1, "m-k1", attempt=1, receipt="r"),
            lambda: store.fail_outbox(_T1, "m-k1", attempt=1, error="e", retry_at=None),
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
                store.get(_T1, "item", "a")
            with pytest.raises(StorageError):
                store.commit(_T1, ChangeSet((Put(_doc("a"), 0),)))
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
            assert _all(store, _T1, "item") == []

    # --- the reference --------------------------------------------------------

    def test_matches_reference_store(self) -> None:
        """A random walk of commits, reads, queries, events and outbox calls beside MemoryStore."""
        contract = self

        class Machine(_ReferenceMachine):
            def make_store(self) -> DocumentStore:
                return contract.make_store()

        examples = 200 if os.environ.get("CI") else 50
        run_state_machine_as_test(
            Machine, settings=settings(max_examples=examples, stateful_step_count=25, deadline=None)
        )
