"""One kind's table: its statements, its row values, and its index values as JSON.

`Kind` builds the SQL of a kind once, when the store opens, from the kind's
declared fields (and those declared earlier and dropped since). A document's
index values travel as compact JSON in the ``_index`` column, so that reads
return exactly what was written; ``crmkit.adapters._common.lazy_index``
decodes them only when a caller looks at them. The statements themselves are
built by the shared ``crmkit.adapters._sql.KindSql``.
"""

from __future__ import annotations

from typing import Any

from crmkit.adapters._common import encode
from crmkit.adapters._sql import KindSql, Shapes
from crmkit.adapters._sqlite.schema import table_name
from crmkit.adapters._sqlite.search import SearchTable
from crmkit.ports.storage import Document, KindSpec

__all__ = ["Kind", "encode"]


class Kind(KindSql):
    """The SQL of one kind, built once when the store opens."""

    def __init__(self, spec: KindSpec, known: Shapes) -> None:
        super().__init__(spec, known, table_name(spec.kind), "?", "body")
        field = spec.search_field
        self.search = None if field is None else SearchTable(spec.kind, field)

    def multi_rows(self, tenant: str, doc: Document, rows: list[tuple[Any, ...]]) -> None:
        """Append the side-table rows of ``doc``; repeated values are stored once."""
        for name in self.multis:
            values = doc.index.get(name)
            if values:
                rows.extend(
                    (tenant, self.name, name, value, doc.id)
                    for value in dict.fromkeys(values)  # type: ignore[arg-type]
                )
