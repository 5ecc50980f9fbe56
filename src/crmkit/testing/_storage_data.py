"""The data the storage kit writes: its schema, builders and Hypothesis strategies.

`CONTRACT_SCHEMA` declares one field of every shape (text, int, bool, unique
and multi-valued); the values below are chosen to collide often (a few ids,
codes and keys) and to reach the edges (64-bit ints, code points outside the
BMP, empty strings). `canonical` is the form in which the kit compares
documents. The public names are re-exported by `crmkit.testing.storage`.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from crmkit.ports.query import MAX_LIMIT, Eq, In, Keyset, Order, Query, Range
from crmkit.ports.storage import (
    Document,
    DocumentStore,
    EventRecord,
    IndexField,
    IndexType,
    KindSpec,
    OutboxMessage,
    StoreSchema,
)

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

SEARCH_SCHEMA = StoreSchema(
    (
        *CONTRACT_SCHEMA.kinds,
        KindSpec(
            "card",
            (
                IndexField("words", IndexType.TEXT, search=True),
                IndexField("owner", IndexType.TEXT),
                IndexField("level", IndexType.INT),
            ),
        ),
    )
)
"""`CONTRACT_SCHEMA` and a ``card`` kind with a search field: the schema of the search tests."""

T1, T2 = "t1", "t2"  # the tenants most tests write to
IDS = ("a", "b", "c", "d")
QUERY_IDS = ("a", "aa", "b", "B", "0", "é", "z", "\U0001f600")
CODES = ("x", "y", "z")
KEYS = ("k1", "k2", "k3")
TAGS = ("red", "green", "blue", "")
INT_EDGES = (-(2**63), -1, 0, 1, 2, 2**63 - 1)

texts = st.one_of(
    st.sampled_from(("", "a", "A", "b", "ab", "é", "z", "\U0001f600")),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=4),
)
ints = st.one_of(st.sampled_from(INT_EDGES), st.integers(-3, 3))
SINGLE: dict[str, st.SearchStrategy[Any]] = {
    "name": texts,
    "rank": ints,
    "flag": st.booleans(),
    "code": st.sampled_from(CODES),
}
MULTI: dict[str, st.SearchStrategy[Any]] = {"tags": st.sampled_from(TAGS), "nums": ints}
item_index = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.none() | values for name, values in SINGLE.items()},
        **{
            name: st.none() | st.lists(values, max_size=3).map(tuple)
            for name, values in MULTI.items()
        },
    },
)


def make_doc(id: str = "a", version: int = 1, kind: str = "item", **index: Any) -> Document:
    """A document whose body names its id and version."""
    return Document(kind, id, version, json.dumps({"id": id, "v": version}), index)


def make_event(stream_id: str, version: int, id: str | None = None) -> EventRecord:
    """An ``item`` event of ``stream_id`` at ``version``."""
    return EventRecord(
        id or f"e-{stream_id}-{version}", "item", stream_id, version, "item_changed", 1, 7, "{}"
    )


def make_message(key: str, available_at: int = 0, id: str | None = None) -> OutboxMessage:
    """An email with idempotency key ``key``, due at ``available_at``."""
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


def all_docs(store: DocumentStore, tenant: str, kind: str) -> list[Any]:
    """Every document of ``kind`` in ``tenant``, in `canonical` form, by id."""
    return [canonical(doc) for doc in store.query(tenant, Query(kind, limit=MAX_LIMIT))]


@st.composite
def conditions(draw: st.DrawFn) -> Eq | In | Range:
    """A valid condition on any field of the ``item`` kind, ids included."""
    field = draw(st.sampled_from(sorted({*SINGLE, *MULTI, "id"})))
    values = {**SINGLE, **MULTI, "id": st.sampled_from(QUERY_IDS)}[field]
    shapes = ["eq", "null", "in"] + ([] if field in MULTI else ["range"])
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
def queries(draw: st.DrawFn, keyset: bool = True) -> Query:
    """A valid query on ``item``: conditions, sort keys, a limit and maybe a keyset."""
    where = tuple(draw(st.lists(conditions(), max_size=2)))
    fields = draw(st.lists(st.sampled_from(sorted(SINGLE)), unique=True, max_size=3))
    order = tuple(Order(field, draw(st.booleans())) for field in fields)
    limit = draw(st.sampled_from((1, 2, 3, 5, MAX_LIMIT)))
    after = None
    if keyset and draw(st.booleans()):
        values = tuple(draw(st.none() | SINGLE[key.field]) for key in order)
        after = Keyset(values, draw(st.sampled_from(QUERY_IDS)))
    return Query("item", where, order, limit, after)


# Up to eight ``item`` documents with distinct ids and random index values.
documents = st.lists(
    st.tuples(st.sampled_from(QUERY_IDS), item_index), unique_by=lambda pair: pair[0], max_size=8
).map(lambda pairs: [make_doc(id, 1, **index) for id, index in pairs])


def claim_all(store: DocumentStore, tenant: str) -> list[str]:
    """Claim every message of ``tenant`` that is still pending; their keys, sorted."""
    claimed = store.claim_outbox(tenant, now=10**12, limit=MAX_LIMIT, lease=1)
    return sorted(entry.message.key for entry in claimed)


def unique_codes(docs: list[Document]) -> list[Document]:
    """``docs`` with each repeated ``code`` value set to null, so that a commit of all succeeds."""
    seen: set[Any] = set()
    kept = []
    for doc in docs:
        code = doc.index.get("code")
        if code is not None and code in seen:
            doc = Document(doc.kind, doc.id, doc.version, doc.body, {**doc.index, "code": None})
        seen.add(code)
        kept.append(doc)
    return kept
