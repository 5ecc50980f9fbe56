"""`RecordType`: how one aggregate class maps onto the storage port."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

import attrs

from crmkit.ports.storage import IndexField, IndexType, IndexValue, KindSpec

T = TypeVar("T")

TEXT, INT = IndexType.TEXT, IndexType.INT
SEARCH_FIELD = "search_text"
"""The name of the searchable index field of a record type with a ``search`` function."""


@attrs.frozen
class RecordType(Generic[T]):
    """A stored aggregate class: its kind and how to index it.

    Attributes:
        kind: The storage kind, for example ``contact``.
        cls: The aggregate class.
        indexes: Index fields, each with the function that reads its value.
        idempotent: Whether create commands accept an idempotency key, kept in a
            unique ``idempotency_key`` index field.
        bulk: Further index fields and the one function that computes all their values
            (for a read model whose index comes from one computation).
        audited: Whether changes are written to the audit trail (read models that follow
            from audited records are not).
        related: Ids of other records whose timelines show this record's events,
            read from its state right after each change (a contact's accounts).
        search: The words full-text search finds the record by (`crmkit.ports.search`),
            kept in the searchable ``search_text`` index field; None: not searchable.
    """

    kind: str
    cls: type[T]
    indexes: tuple[tuple[IndexField, Callable[[T], IndexValue]], ...]
    idempotent: bool = True
    bulk: tuple[tuple[IndexField, ...], Callable[[T], Mapping[str, IndexValue]]] | None = None
    audited: bool = True
    related: Callable[[T], tuple[str, ...]] = lambda _: ()
    search: Callable[[T], str] | None = None

    def spec(self) -> KindSpec:
        """The storage spec of this kind."""
        fields = tuple(field for field, _ in self.indexes)
        if self.bulk is not None:
            fields += self.bulk[0]
        if self.idempotent:
            fields += (IndexField("idempotency_key", TEXT, unique=True),)
        if self.search is not None:
            fields += (IndexField(SEARCH_FIELD, TEXT, search=True),)
        return KindSpec(self.kind, fields)

    def index(self, obj: T) -> dict[str, IndexValue]:
        """The index values of ``obj``."""
        values = {field.name: read(obj) for field, read in self.indexes}
        if self.bulk is not None:
            values.update(self.bulk[1](obj))
        if self.search is not None:
            values[SEARCH_FIELD] = self.search(obj) or None
        return values
