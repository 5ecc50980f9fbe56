"""The storage kit's tests of aggregates: counts, sums, minima and maxima by group.

A store that offers `crmkit.ports.aggregate.Aggregating` must return exactly
`crmkit.ports.aggregate.run_aggregate`'s groups; a store that does not is
aggregated by the helper `crmkit.ports.aggregate.aggregate`, streaming its
query pages, and the same tests check that path. Hand-computed fixtures cover
grouping by text, bool and several fields, nulls last, exact sums past 64
bits and tenant scoping; a Hypothesis property compares random aggregates
over random documents with the reference, both pushed down and streamed.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.ports.aggregate import (
    Aggregate,
    Aggregating,
    Group,
    Measure,
    MeasureOp,
    aggregate,
    run_aggregate,
)
from crmkit.ports.query import Eq, In, Range
from crmkit.ports.storage import ChangeSet, Document, DocumentStore, Put
from crmkit.testing._storage_data import (
    CONTRACT_SCHEMA,
    SINGLE,
    T1,
    T2,
    conditions,
    documents,
    make_doc,
    unique_codes,
)
from crmkit.testing._storage_hooks import ContractHooks

ITEM = CONTRACT_SCHEMA.kind("item")
_ALL = (Measure.count(), Measure.sum("rank"), Measure.min("rank"), Measure.max("rank"))

_FIXTURE = (
    make_doc("a", name="b", rank=2, flag=True, tags=("red", "blue")),
    make_doc("b", name="a", rank=None, flag=False),
    make_doc("c", name="B", rank=5, flag=True, tags=("red",)),
    make_doc("d"),
    make_doc("e", name="é", rank=-1, flag=True),
    make_doc("f", name="a", rank=7, flag=False),
)
_FIXTURE_CASES: list[tuple[Aggregate, list[Group]]] = [
    # False: b (null), f (7); True: a (2), c (5), e (-1); null: d. Bools sort False, True, null.
    (
        Aggregate("item", group_by=("flag",), measures=_ALL),
        [
            Group((False,), (2, 7, 7, 7)),
            Group((True,), (3, 2 + 5 - 1, -1, 5)),
            Group((None,), (1, None, None, None)),
        ],
    ),
    # Binary order: "B" (U+0042) < "a" < "b" < "é" (U+00E9), then null.
    (
        Aggregate("item", group_by=("name",), measures=(Measure.count(), Measure.sum("rank"))),
        [
            Group(("B",), (1, 5)),
            Group(("a",), (2, 7)),
            Group(("b",), (1, 2)),
            Group(("é",), (1, -1)),
            Group((None,), (1, None)),
        ],
    ),
    # Tags "red": a (2) and c (5); without group fields, one group.
    (
        Aggregate("item", (Eq("tags", "red"),), measures=(Measure.count(), Measure.sum("rank"))),
        [Group((), (2, 7))],
    ),
    # rank >= 0: a (True, "b"), c (True, "B"), f (False, "a").
    (
        Aggregate("item", (Range("rank", gte=0),), ("flag", "name")),
        [Group((False, "a"), (1,)), Group((True, "B"), (1,)), Group((True, "b"), (1,))],
    ),
    # Nothing matches: no group when grouped, one group of zero otherwise.
    (Aggregate("item", (In("rank", ()),), ("flag",)), []),
    (Aggregate("item", (In("rank", ()),), measures=_ALL), [Group((), (0, None, None, None))]),
]

_BAD_AGGREGATES: list[Any] = [
    Aggregate("missing"),
    Aggregate("item", group_by=("tags",)),
    Aggregate("item", group_by=("missing",)),
    Aggregate("item", group_by=("id",)),
    Aggregate("item", group_by=("name", "name")),
    Aggregate("item", group_by=("name", "rank", "flag", "code", "name")),
    Aggregate("item", group_by=cast(Any, "name")),
    Aggregate("item", measures=()),
    Aggregate("item", measures=(Measure.sum("name"),)),
    Aggregate("item", measures=(Measure.sum("flag"),)),
    Aggregate("item", measures=(Measure.sum("nums"),)),
    Aggregate("item", measures=(Measure.max("missing"),)),
    Aggregate("item", measures=(Measure(MeasureOp.COUNT, "rank"),)),
    Aggregate("item", measures=(Measure(MeasureOp.SUM),)),
    Aggregate("item", measures=(cast(Any, "count"),)),
    Aggregate("item", (Eq("rank", "1"),)),
    Aggregate("item", cast(Any, [Eq("rank", 1)])),
    cast(Any, "item"),
]


def _typed(groups: list[Group]) -> list[Any]:
    """Groups with each value's type, so that ``True`` and ``1`` (or a Decimal) differ."""
    return [
        (
            tuple((type(value).__name__, value) for value in group.key),
            tuple((type(value).__name__, value) for value in group.values),
        )
        for group in groups
    ]


@st.composite
def aggregates(draw: st.DrawFn) -> Aggregate:
    """A valid aggregate on ``item``: up to two conditions, three group fields, four measures."""
    where = tuple(draw(st.lists(conditions(), max_size=2)))
    group_by = tuple(draw(st.lists(st.sampled_from(sorted(SINGLE)), unique=True, max_size=3)))
    measure = st.sampled_from(_ALL)
    measures = tuple(draw(st.lists(measure, min_size=1, max_size=4)))
    return Aggregate("item", where, group_by, measures)


class AggregateTests(ContractHooks):
    """Grouped counts, sums, minima and maxima, against `run_aggregate`."""

    def _both(self, store: DocumentStore, tenant: str, agg: Aggregate) -> list[Group]:
        """The store's groups, checked to equal the streamed fallback's (pages of two)."""
        pushed = aggregate(store, tenant, agg, ITEM)
        streamed = aggregate(store, tenant, agg, ITEM, pushdown=False, page_size=2)
        assert _typed(pushed) == _typed(streamed)
        return pushed

    @pytest.mark.parametrize(("agg", "groups"), _FIXTURE_CASES, ids=repr)
    def test_aggregate_fixtures(self, agg: Aggregate, groups: list[Group]) -> None:
        """Hand-computed groups: text in binary order, bools, nulls last, several fields."""
        with self.opened() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            assert _typed(self._both(store, T1, agg)) == _typed(groups)
            assert _typed(run_aggregate(agg, _FIXTURE)) == _typed(groups)

    def test_aggregate_scoped_by_tenant(self) -> None:
        """Only the tenant's documents count; an empty tenant gives one group of zero."""
        with self.opened() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in _FIXTURE)))
            store.commit(T2, ChangeSet((Put(make_doc("z", rank=40), 0),)))
            total = Aggregate("item", measures=(Measure.count(), Measure.sum("rank")))
            assert self._both(store, T2, total) == [Group((), (1, 40))]
            assert self._both(store, T1, total) == [Group((), (6, 13))]
            assert self._both(store, "nobody", total) == [Group((), (0, None))]

    def test_sums_are_exact_beyond_64_bits(self) -> None:
        """Sums of 64-bit values are exact Python ints, however far past 2**63 they go."""
        big, small = 2**63 - 1, -(2**63)
        docs = [
            make_doc("a", rank=big, flag=True),
            make_doc("b", rank=big, flag=True),
            make_doc("c", rank=big, flag=True),
            make_doc("d", rank=small, flag=True),
            make_doc("e", rank=small, flag=False),
            make_doc("f", rank=small, flag=False),
        ]
        agg = Aggregate("item", group_by=("flag",), measures=_ALL)
        with self.opened() as store:
            store.commit(T1, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
            expected = [
                Group((False,), (2, 2 * small, small, small)),
                Group((True,), (4, 3 * big + small, small, big)),
            ]
            assert _typed(self._both(store, T1, agg)) == _typed(expected)

    @pytest.mark.parametrize("agg", _BAD_AGGREGATES, ids=repr)
    def test_invalid_aggregates_raise_validation_error(self, agg: Aggregate) -> None:
        """An aggregate that does not fit the kind's index fields is refused."""
        with self.opened() as store:
            with pytest.raises(ValidationError):
                aggregate(store, T1, agg, ITEM)
            if isinstance(store, Aggregating):
                with pytest.raises(ValidationError):
                    store.aggregate(T1, agg)

    def test_aggregates_match_the_reference(self) -> None:
        """Random aggregates over random documents give exactly `run_aggregate`'s groups."""
        counter = iter(range(10**9))
        with self.opened() as store:
            # Few examples: each one commits and aggregates twice (the kit stays fast).
            @settings(deadline=None, max_examples=40)
            @given(docs=documents.map(unique_codes), agg=aggregates())
            def check(docs: list[Document], agg: Aggregate) -> None:
                tenant = f"g{next(counter)}"
                store.commit(tenant, ChangeSet(tuple(Put(doc, 0) for doc in docs)))
                assert _typed(self._both(store, tenant, agg)) == _typed(run_aggregate(agg, docs))

            check()
