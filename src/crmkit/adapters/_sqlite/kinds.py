"""One kind's table: its statements, its row values, and its index values as JSON.

`Kind` builds the SQL of a kind once, when the store opens, from the kind's
declared fields (and those declared earlier and dropped since). A document's
index values travel as compact JSON in the ``_index`` column, so that reads
return exactly what was written; `lazy_index` decodes them only when a caller
looks at them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from crmkit.adapters._sqlite.schema import Shapes, marks, quote, table_name
from crmkit.ports.storage import Document, IndexValue, KindSpec

encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
"""Compact JSON text, non-ASCII kept as it is."""


def _index(text: str) -> dict[str, IndexValue]:
    """Decode the ``_index`` column: JSON keeps bools and ints apart; lists become tuples."""
    if text == "{}":
        return {}
    index: dict[str, Any] = json.loads(text)
    for name, value in index.items():
        if type(value) is list:
            index[name] = tuple(value)
    return index


class _LazyIndex(Mapping[str, IndexValue]):
    """A document's index values, decoded on first use: most reads never look at them."""

    __slots__ = ("_data", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._data: dict[str, IndexValue] | None = None

    def _decoded(self) -> dict[str, IndexValue]:
        if self._data is None:
            self._data = _index(self._text)
        return self._data

    def __getitem__(self, name: str) -> IndexValue:
        # Callers often ask for one field (the unit of work reads its idempotency
        # key on every load). A key is a token, written as "name" in the JSON:
        # when that text is missing, so is the key, and nothing needs decoding.
        if self._data is None and f'"{name}"' not in self._text:
            raise KeyError(name)
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())


def lazy_index(text: str) -> Mapping[str, IndexValue]:
    """The index values of an ``_index`` column, decoded when first read."""
    return {} if text == "{}" else _LazyIndex(text)


class Kind:
    """The SQL of one kind, built once when the store opens."""

    def __init__(self, spec: KindSpec, known: Shapes) -> None:
        self.name = spec.kind
        self.table = table = table_name(spec.kind)
        self.singles = tuple(field.name for field in spec.indexes if not field.multi)
        self.multis = tuple(field.name for field in spec.indexes if field.multi)
        self.uniques = tuple(field.name for field in spec.indexes if field.unique)
        # Fields declared once and dropped since: a rewrite nulls them, as the
        # new document carries no value for them.
        stale = [name for name, (_, multi, _) in known.items() if not multi]
        stale = [name for name in stale if name not in self.singles]
        self.clears_multi = any(multi for _, multi, _ in known.values())
        cols = "".join(", " + quote(name) for name in self.singles)
        sets = "".join(f", {quote(name)} = ?" for name in self.singles)
        sets += "".join(f", {quote(name)} = NULL" for name in stale)
        self.get_sql = f"SELECT version, body, _index FROM {table} WHERE tenant = ? AND id = ?"
        self.insert_sql = (
            f"INSERT INTO {table} (tenant, id, version, body, _index{cols})"
            f" VALUES ({marks(5 + len(self.singles))})"
        )
        self.update_sql = (
            f"UPDATE {table} SET version = ?, body = ?, _index = ?{sets}"
            " WHERE tenant = ? AND id = ? AND version = ?"
        )
        self.delete_sql = f"DELETE FROM {table} WHERE tenant = ? AND id = ? AND version = ?"
        self.exists_sql = f"SELECT 1 FROM {table} WHERE tenant = ? AND id = ?"
        self.clear_sql = (
            f"UPDATE {table} SET "
            + ", ".join(f"{quote(name)} = NULL" for name in self.uniques)
            + " WHERE tenant = ? AND id = ?"
        )

    def values(self, doc: Document) -> tuple[Any, ...]:
        """Version, body, index JSON and single-valued columns of ``doc``."""
        index = doc.index
        encoded = encode(index if type(index) is dict else dict(index)) if index else "{}"
        return (doc.version, doc.body, encoded, *[index.get(name) for name in self.singles])

    def multi_rows(self, tenant: str, doc: Document, rows: list[tuple[Any, ...]]) -> None:
        """Append the side-table rows of ``doc``; repeated values are stored once."""
        for name in self.multis:
            values = doc.index.get(name)
            if values:
                rows.extend(
                    (tenant, self.name, name, value, doc.id)
                    for value in dict.fromkeys(values)  # type: ignore[arg-type]
                )
