"""How imports are stored: one `ImportRun` per import, moved on with every batch."""

from __future__ import annotations

from datetime import datetime

import attrs

from crmkit.app.record_type import INT, TEXT, RecordType
from crmkit.kernel.checks import of_type, version
from crmkit.kernel.time import to_micros
from crmkit.ports.storage import IndexField

__all__ = ["IMPORT_RUNS", "ImportRun"]


@attrs.frozen
class ImportRun:
    """How far an import has come (its id is the import's id).

    Attributes:
        id: The import's id.
        version: Grows by one with every batch.
        kind: The kind it imports.
        last_row: The file line of the last row committed.
        created: Records created.
        updated: Records updated.
        skipped: Duplicate rows left alone.
        rejected: Bad rows.
        started_at: When it started.
        updated_at: When its last batch committed.
    """

    id: str = attrs.field(validator=of_type(str))
    version: int = attrs.field(validator=version)
    kind: str = attrs.field(validator=of_type(str))
    last_row: int = attrs.field(validator=of_type(int))
    created: int = attrs.field(validator=of_type(int))
    updated: int = attrs.field(validator=of_type(int))
    skipped: int = attrs.field(validator=of_type(int))
    rejected: int = attrs.field(validator=of_type(int))
    started_at: datetime
    updated_at: datetime


IMPORT_RUNS: RecordType[ImportRun] = RecordType(
    "import_run",
    ImportRun,
    (
        (IndexField("kind", TEXT), lambda r: r.kind),
        (IndexField("updated_at", INT), lambda r: to_micros(r.updated_at)),
    ),
    idempotent=False,
)
"""Import runs, indexed by kind and last change."""
