"""The storage kit's tests of queries and keyset paging.

Every condition on every kind of field, the order with nulls last and ids
breaking ties, random queries compared with `crmkit.ports.query.run_query`,
paging by keyset, and the refusal of queries that do not fit the kind.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.ports.query import MAX_LIMIT, Eq, In, Keyset, Order, Query, Range, run_query
from crmkit.ports.storage import ChangeSet, Document, Put
from crmkit.testing._storage_data import T1, canonical, documents, make_doc, queries, unique_codes
from crmkit.testing._storage_hooks import ContractHooks


def _keyset(query: Query, doc: Document) -> Keyset:
    return Keyset(tuple(doc.index.get(order.field) for order in query.order_by), doc.id)  # type: ignore[misc]


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

_FIXTURE = (
    make_doc("a", name="b", rank=2, flag=True, tags=("red", "blue"), nums=(1,)),
    make_doc("b", name="a", rank=None, flag=False, tags=()),
    make_doc("c", name="B", rank=2, tags=("red",)),
    make_doc("d"),
    make_doc("e", name="é", rank=-1, flag=True, code="x"),
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


class QueryTests(ContractHooks):
    """Conditions, order, keyset paging and invalid queries, against `run_query`."""

    @pytest.mark.parametrize(("condition", "ids"), _CONDITION_CASES, ids=repr)
    def test_each_condition(self, condition: Any, ids: list[str]) -> None:
        """Eq, In and Range on text, int, bool, multi-valued fields and ids."""
        with self.opened() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            found = store.query(T1, Query("item", (condition,)))
            assert [doc.id for doc in found] == ids

    @pytest.mark.parametrize(("order", "ids"), _ORDER_CASES, ids=repr)
    def test_order_puts_nulls_last_and_breaks_ties_by_id(
        self, order: tuple[Order, ...], ids: list[str]
    ) -> None:
        """Nulls sort last either way; ids break ties in the last key's direction."""
        with self.opened() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            assert [doc.id for doc in store.query(T1, Query("item", order_by=order))] == ids
            assert [
                doc.id for doc in store.query(T1, Query("item", order_by=order, limit=2))
            ] == ids[:2]

    def test_queries_match_the_reference(self) -> None:
        """Random filters, orders, limits and keysets give exactly `run_query`'s rows."""
        counter = iter(range(10**9))
        with self.opened() as store:

            @settings(deadline=None)  # an adapter over a network may be slow
            @given(docs=documents.map(unique_codes), query=queries())
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
                docs=documents.map(unique_codes),
                query=queries(keyset=False),
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
            store.query(T1, query)
