"""Counts, sums, minima and maxima grouped by index fields, pushed down where a store can.

An `Aggregate` asks for one kind's documents that meet its conditions (the
same `Eq`, `In` and `Range` as a `Query`), grouped by up to four
single-valued index fields, with one value per `Measure`: the number of
documents, or the sum, minimum or maximum of an ``int`` index field.

`run_aggregate` is the reference semantics, a single streaming pass whose
memory grows with the number of groups only. A store that can compute an
aggregate itself (one ``GROUP BY`` statement, say) offers the optional
`Aggregating` capability, and must return exactly what `run_aggregate`
returns; the storage conformance kit checks it. The `aggregate` helper uses
the capability when the store has it and otherwise streams the store's query
pages through `run_aggregate`:

* Groups come sorted by key: binary (code point) order, ``False`` before
  ``True``, nulls last, the first group field first, as `Query` orders.
* A null value forms its own group (key component ``None``).
* Without group fields there is exactly one group, with key ``()``, even when
  no document matches (its count is 0).
* A sum, minimum or maximum skips null values; over none it is ``None``, as
  in SQL. Sums are exact Python ints, beyond 64 bits if need be.

>>> from crmkit.ports.storage import Document
>>> docs = [
...     Document("deal", "d1", 1, "{}", {"stage": "won", "amount_minor": 500}),
...     Document("deal", "d2", 1, "{}", {"stage": "won", "amount_minor": 250}),
...     Document("deal", "d3", 1, "{}", {"stage": "open"}),
... ]
>>> agg = Aggregate("deal", group_by=("stage",),
...                 measures=(Measure.count(), Measure.sum("amount_minor")))
>>> [(g.key, g.values) for g in run_aggregate(agg, docs)]
[(('open',), (1, None)), (('won',), (2, 750))]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Final, Protocol, cast, runtime_checkable

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.ports.query import MAX_LIMIT, Condition, Keyset, Query, check_query, matches
from crmkit.ports.storage import (
    Document,
    DocumentStore,
    IndexScalar,
    IndexType,
    KindSpec,
    StoreSchema,
)

MAX_GROUP_FIELDS: Final = 4
"""The most fields an aggregate may group by."""
MAX_MEASURES: Final = 16
"""The most measures one aggregate may ask for."""


class MeasureOp(StrEnum):
    """What a `Measure` computes."""

    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"


@attrs.frozen
class Measure:
    """One value per group: a count of documents, or the sum, min or max of an int field.

    Build them with `Measure.count`, `Measure.sum`, `Measure.min` and `Measure.max`.

    Attributes:
        op: What to compute.
        field: The single-valued ``int`` index field (None for a count).
    """

    op: MeasureOp
    field: str | None = None

    @classmethod
    def count(cls) -> Measure:
        """The number of documents in the group."""
        return cls(MeasureOp.COUNT)

    @classmethod
    def sum(cls, field: str) -> Measure:
        """The exact sum of ``field`` over the group (None when every value is null)."""
        return cls(MeasureOp.SUM, field)

    @classmethod
    def min(cls, field: str) -> Measure:
        """The smallest value of ``field`` in the group (None when every value is null)."""
        return cls(MeasureOp.MIN, field)

    @classmethod
    def max(cls, field: str) -> Measure:
        """The largest value of ``field`` in the group (None when every value is null)."""
        return cls(MeasureOp.MAX, field)


@attrs.frozen
class Aggregate:
    """Measures over one kind's matching documents, grouped by up to four fields.

    Attributes:
        kind: The kind to aggregate.
        where: Conditions that must all hold (as in `Query`).
        group_by: Zero to four distinct single-valued index fields.
        measures: One to `MAX_MEASURES` measures, in the order of `Group.values`.
    """

    kind: str
    where: tuple[Condition, ...] = ()
    group_by: tuple[str, ...] = ()
    measures: tuple[Measure, ...] = (Measure(MeasureOp.COUNT),)


@attrs.frozen
class Group:
    """One group of an aggregate's result.

    Attributes:
        key: The group fields' values, in `Aggregate.group_by` order (None: null).
        values: One value per measure, in `Aggregate.measures` order.
    """

    key: tuple[IndexScalar | None, ...]
    values: tuple[int | None, ...]


def check_aggregate(spec: KindSpec, agg: Aggregate) -> None:
    """Raise `ValidationError` unless ``agg`` fits the kind's declared index fields."""
    if not isinstance(agg, Aggregate):
        raise ValidationError("aggregate", "must be an Aggregate", agg)
    if not isinstance(agg.where, tuple):
        raise ValidationError("where", "must be a tuple of conditions", agg.where)
    check_query(spec, Query(agg.kind, agg.where))  # the kind and every condition
    if not isinstance(agg.group_by, tuple):
        raise ValidationError("group_by", "must be a tuple of field names", agg.group_by)
    if len(agg.group_by) > MAX_GROUP_FIELDS:
        raise ValidationError("group_by", f"may name at most {MAX_GROUP_FIELDS} fields")
    if len(set(agg.group_by)) != len(agg.group_by):
        raise ValidationError("group_by", "names a field twice", agg.group_by)
    for name in agg.group_by:
        if not isinstance(name, str):
            raise ValidationError("group_by", "must hold index field names", name)
        if spec.field(name).multi:
            raise ValidationError(name, "cannot group by a multi-valued field")
    if not isinstance(agg.measures, tuple) or not 1 <= len(agg.measures) <= MAX_MEASURES:
        raise ValidationError("measures", f"must be a tuple of 1 to {MAX_MEASURES} measures")
    for measure in agg.measures:
        if not isinstance(measure, Measure) or not isinstance(measure.op, MeasureOp):
            raise ValidationError("measures", "must hold Measure values", measure)
        if measure.op is MeasureOp.COUNT:
            if measure.field is not None:
                raise ValidationError("count", "counts documents and takes no field", measure)
            continue
        if not isinstance(measure.field, str):
            raise ValidationError(str(measure.op), "needs an index field name", measure.field)
        field = spec.field(measure.field)
        if field.multi:
            raise ValidationError(field.name, f"a multi-valued field has no {measure.op}")
        if field.type is not IndexType.INT:
            raise ValidationError(field.name, f"{measure.op} needs an int field, not {field.type}")


def check_aggregate_in(schema: StoreSchema, agg: Aggregate) -> None:
    """`check_aggregate` against the spec of ``agg``'s kind in ``schema`` (for stores)."""
    if not isinstance(agg, Aggregate):
        raise ValidationError("aggregate", "must be an Aggregate", agg)
    check_aggregate(schema.kind(agg.kind), agg)


# --- reference semantics ----------------------------------------------------


def _null_last(key: tuple[IndexScalar | None, ...]) -> tuple[tuple[int, IndexScalar], ...]:
    return tuple((1, 0) if value is None else (0, value) for value in key)


def run_aggregate(agg: Aggregate, docs: Iterable[Document]) -> list[Group]:
    """Apply ``agg`` (checked by `check_aggregate`) to ``docs`` in one streaming pass.

    The reference every `Aggregating` store matches; memory grows with the
    number of groups, not of documents.
    """
    ops = [(measure.op, measure.field or "") for measure in agg.measures]
    fresh = [0 if op is MeasureOp.COUNT else None for op, _ in ops]
    groups: dict[tuple[IndexScalar | None, ...], list[int | None]] = {}
    if not agg.group_by:
        groups[()] = list(fresh)
    for doc in docs:
        if not all(matches(cond, doc) for cond in agg.where):
            continue
        index = doc.index
        # check_aggregate allows single-valued group fields and int measures only.
        key = tuple(cast(IndexScalar | None, index.get(name)) for name in agg.group_by)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = list(fresh)
        for i, (op, field) in enumerate(ops):
            if op is MeasureOp.COUNT:
                acc[i] = cast(int, acc[i]) + 1
                continue
            value = cast(int | None, index.get(field))
            old = acc[i]
            if value is None:
                continue
            if old is None:
                acc[i] = value
            elif op is MeasureOp.SUM:
                acc[i] = old + value
            elif op is MeasureOp.MIN:
                acc[i] = value if value < old else old
            else:
                acc[i] = value if value > old else old
    ordered = sorted(groups.items(), key=lambda item: _null_last(item[0]))
    return [Group(key, tuple(values)) for key, values in ordered]


# --- the optional capability and the helper ----------------------------------


@runtime_checkable
class Aggregating(Protocol):
    """A store that computes aggregates itself, with exactly `run_aggregate`'s result.

    Like `DocumentStore.query`, `aggregate` is scoped by tenant, raises
    `ValidationError` for an aggregate that does not fit the kind (see
    `check_aggregate`) and `StorageError` for a driver failure.
    """

    def aggregate(self, tenant: str, agg: Aggregate) -> list[Group]:
        """The groups of ``agg`` over the tenant's documents, sorted by key."""
        ...


def _pages(store: DocumentStore, tenant: str, agg: Aggregate, page_size: int) -> Iterator[Document]:
    after: Keyset | None = None
    while True:
        page = store.query(tenant, Query(agg.kind, agg.where, (), page_size, after))
        yield from page
        if len(page) < page_size:
            return
        after = Keyset((), page[-1].id)


def aggregate(
    store: DocumentStore,
    tenant: str,
    agg: Aggregate,
    spec: KindSpec,
    *,
    pushdown: bool = True,
    page_size: int = MAX_LIMIT,
) -> list[Group]:
    """The groups of ``agg``: from the store when it is `Aggregating`, else computed here.

    The fallback reads the matching documents a page of ``page_size`` at a
    time (keyset by id) and streams them through `run_aggregate`, so memory
    stays bounded by the page and the number of groups. ``pushdown=False``
    forces the fallback, to compare the two. ``spec`` is the kind's spec, as
    the store was opened with.
    """
    check_aggregate(spec, agg)
    if pushdown and isinstance(store, Aggregating):
        return store.aggregate(tenant, agg)
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ValidationError("page_size", "must be an integer", page_size)
    if not 1 <= page_size <= MAX_LIMIT:
        raise ValidationError("page_size", f"must be between 1 and {MAX_LIMIT}", page_size)
    return run_aggregate(agg, _pages(store, tenant, agg, page_size))
