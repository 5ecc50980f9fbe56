"""One kind's table: its statements and its row values.

`Kind` builds the SQL of a kind once, when the store opens, from the kind's
declared fields (and those declared earlier and dropped since). The body is a
``json`` column: PostgreSQL checks that it is JSON and keeps the text exactly
as written (``jsonb`` would reorder keys and rewrite escapes, and the port
promises the body back byte for byte); it is read back as text, as psycopg
would otherwise decode it. A document's index values travel as compact JSON
in the ``_index`` column, decoded only when a caller reads them.
"""

from __future__ import annotations

from typing import Any

from crmkit.adapters._postgres.schema import table_name
from crmkit.adapters._postgres.search import SearchTable
from crmkit.adapters._sql import KindSql, Shapes
from crmkit.ports.storage import Document, IndexType, KindSpec

_ARRAYS = {IndexType.TEXT: "text[]", IndexType.INT: "bigint[]", IndexType.BOOL: "boolean[]"}


def multi_text(value: object) -> str:
    """A multi-valued field's value as the text ``crm_multi`` stores."""
    if value is True or value is False:
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class Kind(KindSql):
    """The SQL of one kind, built once when the store opens."""

    def __init__(self, spec: KindSpec, known: Shapes) -> None:
        table = table_name(spec.kind)
        super().__init__(spec, known, table, "%s", "body::text")
        self.types = {field.name: field.type for field in spec.indexes}
        field = spec.search_field
        self.search = None if field is None else SearchTable(spec.kind, field)
        self.versions_sql = (
            f"SELECT id, version FROM {table} WHERE tenant = %s AND id = ANY(%s::text[]) FOR UPDATE"
        )

    def array_type(self, field: str) -> str:
        """The SQL array type of a single-valued field's values (``id`` is text)."""
        return _ARRAYS[self.types.get(field, IndexType.TEXT)]

    def multi_rows(self, tenant: str, doc: Document, rows: list[tuple[Any, ...]]) -> None:
        """Append the side-table rows of ``doc``; repeated values are stored once."""
        for name in self.multis:
            values = doc.index.get(name)
            if values:
                texts = dict.fromkeys(multi_text(v) for v in values)  # type: ignore[union-attr]
                rows.extend((tenant, self.name, name, text, doc.id) for text in texts)
