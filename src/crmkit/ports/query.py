"""The query specification every store understands, and its reference semantics.

A `Query` filters one kind by its declared index fields (and ``id``) with
`Eq`, `In` and `Range`, orders by index fields with nulls last, and pages by
keyset: `Query.after` holds the sort values and id of the last row seen. The
order always ends with the id, in the direction of the last order key (or
ascending), so it is total and pages never overlap or skip.

On a multi-valued field, `Eq` and `In` match when any of the document's values
matches. `Range` and ordering apply to single-valued fields only. Text orders
by code point (binary collation), ``False`` before ``True``.

`sort_key` and `matches` are the reference semantics: the in-memory adapter
uses them, and SQL adapters must agree with them (the conformance kit checks).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from functools import total_ordering
from typing import Any, Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.ports.storage import (
    Document,
    IndexField,
    IndexScalar,
    IndexType,
    KindSpec,
    check_scalar,
)

MAX_LIMIT: Final = 10_000
"""The largest page a query may ask for."""


@attrs.frozen
class Eq:
    """``field`` equals ``value`` (``None``: the field is null or, if multi-valued, empty).

    Attributes:
        field: An index field or ``id``.
        value: The value to match.
    """

    field: str
    value: IndexScalar | None


@attrs.frozen
class In:
    """``field`` equals one of ``values`` (an empty tuple matches nothing).

    Attributes:
        field: An index field or ``id``.
        values: The values to match.
    """

    field: str
    values: tuple[IndexScalar, ...]


@attrs.frozen
class Range:
    """``field`` lies within the given bounds; a null value never does.

    Attributes:
        field: A single-valued index field or ``id``.
        gt: Exclusive lower bound.
        gte: Inclusive lower bound.
        lt: Exclusive upper bound.
        lte: Inclusive upper bound.
    """

    field: str
    gt: IndexScalar | None = None
    gte: IndexScalar | None = None
    lt: IndexScalar | None = None
    lte: IndexScalar | None = None


Condition = Eq | In | Range
"""One filter of a query; a query's conditions must all hold."""


@attrs.frozen
class Order:
    """Order by ``field``, nulls last in either direction.

    Attributes:
        field: A single-valued index field.
        descending: Largest first when true.
    """

    field: str
    descending: bool = False


@attrs.frozen
class Keyset:
    """Where the previous page ended: its last row's sort values and id.

    Attributes:
        values: One value per `Order` of the query.
        id: The last row's id.
    """

    values: tuple[IndexScalar | None, ...]
    id: str


@attrs.frozen
class Query:
    """Documents of one kind that meet every condition, in order, a page at a time.

    Attributes:
        kind: The kind to search.
        where: Conditions that must all hold.
        order_by: Sort keys; the id always breaks ties.
        limit: Page size, 1 to `MAX_LIMIT`.
        after: Start after this row (keyset pagination), or from the start.
    """

    kind: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[Order, ...] = ()
    limit: int = 100
    after: Keyset | None = None

    @property
    def id_descending(self) -> bool:
        """Whether the id tie-break runs descending (it follows the last order key)."""
        return self.order_by[-1].descending if self.order_by else False


def _field(spec: KindSpec, name: str) -> IndexField:
    if not isinstance(name, str):
        raise ValidationError("field", "must be the name of an index field", name)
    if name == "id":
        return IndexField("id_", IndexType.TEXT)  # ids are text; "id" itself is reserved
    return spec.field(name)


def check_query(spec: KindSpec, query: Query) -> None:
    """Raise `ValidationError` unless ``query`` fits the kind's declared index fields."""
    if spec.kind != query.kind:
        raise ValidationError("kind", f"query is for {query.kind}, not {spec.kind}", query.kind)
    if isinstance(query.limit, bool) or not isinstance(query.limit, int):
        raise ValidationError("limit", "must be an integer", query.limit)
    if not 1 <= query.limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}", query.limit)
    for cond in query.where:
        if not isinstance(cond, Eq | In | Range):
            raise ValidationError("where", "must hold Eq, In or Range conditions", cond)
        field = _field(spec, cond.field)
        if isinstance(cond, Eq):
            if cond.value is not None:
                check_scalar(cond.field, field.type, cond.value)
        elif isinstance(cond, In):
            if not isinstance(cond.values, tuple):
                raise ValidationError(cond.field, "In needs a tuple of values", cond.values)
            for value in cond.values:
                check_scalar(cond.field, field.type, value)
        elif isinstance(cond, Range):
            if field.multi:
                raise ValidationError(cond.field, "a multi-valued field has no range")
            for bound in (cond.gt, cond.gte, cond.lt, cond.lte):
                if bound is not None:
                    check_scalar(cond.field, field.type, bound)
    for order in query.order_by:
        if not isinstance(order, Order):
            raise ValidationError("order_by", "must hold Order values", order)
        if _field(spec, order.field).multi or order.field == "id":
            raise ValidationError(order.field, "cannot order by a multi-valued field or id")
    if query.after is not None:
        if len(query.after.values) != len(query.order_by) or not isinstance(query.after.id, str):
            raise ValidationError("after", "does not fit the query's order", query.after)
        for order, bound in zip(query.order_by, query.after.values, strict=True):
            if bound is not None:
                check_scalar(order.field, spec.field(order.field).type, bound)


# --- reference semantics ----------------------------------------------------


@total_ordering
class _Desc:
    """Wraps a value so that it sorts in reverse."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.value > other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _value(doc: Document, field: str) -> Any:
    return doc.id if field == "id" else doc.index.get(field)


def sort_key(query: Query) -> Callable[[tuple[tuple[Any, ...], str]], tuple[Any, ...]]:
    """A key over (sort values, id) that orders rows exactly as ``query`` does."""
    flags = [order.descending for order in query.order_by]
    id_desc = query.id_descending

    def key(row: tuple[tuple[Any, ...], str]) -> tuple[Any, ...]:
        values, id = row
        parts: list[Any] = []
        for value, desc in zip(values, flags, strict=True):
            if value is None:
                parts.append((1, 0))
            else:
                parts.append((0, _Desc(value) if desc else value))
        parts.append(_Desc(id) if id_desc else id)
        return tuple(parts)

    return key


def sort_values(query: Query, doc: Document) -> tuple[IndexScalar | None, ...]:
    """The document's values for the query's order keys."""
    return tuple(doc.index.get(order.field) for order in query.order_by)  # type: ignore[misc]


def matches(cond: Condition, doc: Document) -> bool:
    """Whether ``doc`` meets ``cond``."""
    value = _value(doc, cond.field)
    if isinstance(cond, Eq):
        if cond.value is None:
            return value is None or value == ()
        return (
            _same(value, cond.value)
            if not isinstance(value, tuple)
            else any(_same(v, cond.value) for v in value)
        )
    if isinstance(cond, In):
        values = value if isinstance(value, tuple) else (value,)
        return any(_same(v, w) for v in values for w in cond.values)
    if value is None:
        return False
    return (
        (cond.gt is None or value > cond.gt)
        and (cond.gte is None or value >= cond.gte)
        and (cond.lt is None or value < cond.lt)
        and (cond.lte is None or value <= cond.lte)
    )


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def run_query(query: Query, docs: list[Document]) -> list[Document]:
    """Apply ``query`` to ``docs`` in Python: the reference that every adapter matches."""
    key = sort_key(query)
    selected = [doc for doc in docs if all(matches(cond, doc) for cond in query.where)]
    rows = sorted(selected, key=lambda doc: key((sort_values(query, doc), doc.id)))
    if query.after is not None:
        start = key((query.after.values, query.after.id))
        rows = [doc for doc in rows if key((sort_values(query, doc), doc.id)) > start]
    return rows[: query.limit]


# --- opaque cursors --------------------------------------------------------


def _digest(query: Query) -> str:
    shape = repr((query.kind, query.where, query.order_by)).encode()
    return hashlib.sha256(shape).hexdigest()[:16]


def encode_cursor(query: Query, last: Document) -> str:
    """An opaque cursor for the page after ``last``, bound to the query's filter and order."""
    payload = [list(sort_values(query, last)), last.id, _digest(query)]
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(query: Query, cursor: str) -> Keyset:
    """The keyset a cursor from `encode_cursor` stands for; refuses a cursor of another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values, id, digest = json.loads(raw)
    except (ValueError, TypeError):
        raise ValidationError("cursor", "is not a cursor crmkit made") from None
    if digest != _digest(query) or not isinstance(values, list) or not isinstance(id, str):
        raise ValidationError("cursor", "belongs to another query")
    return Keyset(tuple(values), id)
