"""Keyset pages of records: what `find` and the timeline return."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import attrs

from crmkit.app.record_type import RecordType
from crmkit.kernel.checks import items
from crmkit.kernel.errors import StorageError, ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.ports.query import Condition, Order, Query, decode_cursor, encode_cursor
from crmkit.ports.storage import Document

T = TypeVar("T")

MAX_PAGE = 1000
"""The largest page a `find` or timeline returns."""


@attrs.frozen
class Page(Generic[T]):
    """One page of results and the cursor to the next.

    Attributes:
        items: The results, in the query's order.
        next_cursor: Pass it back to get the next page; None on the last page.
    """

    items: tuple[T, ...]
    next_cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def decode(loaders: Loaders, rtype: RecordType[T], doc: Document) -> T:
    """The aggregate stored in ``doc``; a corrupt body raises `StorageError`."""
    try:
        data = json.loads(doc.body)
    except ValueError:
        raise StorageError(f"stored {doc.kind} {doc.id!r} is not JSON") from None
    return loaders.load(rtype.cls, data)


def find_page(
    run: Callable[[Query], list[Document]],
    load: Callable[[Document], T],
    kind: str,
    where: tuple[Condition, ...],
    order_by: tuple[Order, ...],
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """One keyset page: ``run`` queries the store, ``load`` turns each document into a record."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be 1 to {MAX_PAGE}", limit)
    query = Query(kind, items(where, "where"), items(order_by, "order_by"), limit + 1)
    if cursor is not None:
        query = attrs.evolve(query, after=decode_cursor(query, cursor))
    docs = run(query)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor(query, docs[-1]) if more else None
    return Page(tuple(load(doc) for doc in docs), next_cursor)
