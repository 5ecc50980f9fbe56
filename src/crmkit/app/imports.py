"""CSV imports on the store: streamed in batches, resumable, with a dry run.

``crm.imports.run(principal, kind, stream)`` reads a CSV file of contacts,
accounts, leads, opportunities or activities (`crmkit.extension.csv_format`)
a row at a time and writes the valid rows in batches, each batch one unit of
work. A row that fails when written (a linked record that does not exist, a
stage the pipeline lacks) is reported like a bad row and skipped. Every
batch also moves the import's `ImportRun` record on to its last row, in the
same commit: an import that stops part-way (a crash, a killed process) resumes
with the same ``import_id`` after the last committed row, so no row is lost and
none is written twice. Bad rows are reported with their row, column and rule
and skipped; ``dry_run=True`` reports them and writes nothing.

Ids: a row whose ``id`` cell is filled keeps that id, so that a file that
`crmkit.app.exports` wrote imports into another store as equal records, links
between them included. Such a row is a duplicate when a record with its id
exists (a row of a file written by crmkit is the record it was exported from).

Duplicates (``on_duplicate``): a row with an id duplicates the record with
that id; otherwise a contact or lead is a duplicate of one with the same
email, an account of one with the same name (activities and opportunities
only by id). ``skip`` leaves the stored record alone, ``create`` writes the
row anyway (under a new id if its id is taken), and ``update`` (contacts and
accounts) fills in the stored record's fields from the row.

Custom fields: `RowData.custom` holds the ``custom.<name>`` cells as raw text;
`_write` is where they will be validated against the host's spec and passed
to the create commands, once aggregates carry ``custom`` values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, BinaryIO, Final

import attrs

from crmkit.app._import_rows import (
    RECORD_TYPES as RECORD_TYPES,
    OnDuplicateRow as OnDuplicateRow,
    refusal,
    stored,
    write_row,
)
from crmkit.app.import_records import IMPORT_RUNS, ImportRun
from crmkit.extension.csv_custom import custom_values
from crmkit.extension.csv_format import RowData, RowError, read_rows, validate_row
from crmkit.extension.custom_fields import CustomFields
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import InvalidTransition, NotFound, ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.principal import Principal

if TYPE_CHECKING:
    from crmkit.app.crm import Crm

__all__ = ["IMPORT_KINDS", "RECORD_TYPES", "ImportReport", "Imports", "OnDuplicateRow"]

IMPORT_KINDS: Final = ("contact", "account", "lead", "opportunity", "activity")
"""The kinds `Imports.run` writes."""
MAX_REPORTED: Final = 1000
"""The most row errors an `ImportReport` lists (it counts them all)."""


_to_policy = to_enum(OnDuplicateRow, "on_duplicate")


@attrs.frozen
class ImportReport:
    """What an import did (or, in a dry run, would do).

    Attributes:
        import_id: The import's id (pass it again to resume).
        kind: The kind imported.
        dry_run: Whether nothing was written.
        rows: Rows read in this run (rows committed by an earlier run are not read again).
        created: Records created, over every run of the import.
        updated: Records updated, likewise.
        skipped: Duplicate rows left alone, likewise.
        rejected: Bad rows, likewise.
        errors: The bad rows of this run, each with its row, column and rule (the first 1000),
            rows refused when written included.
        resumed_after: The last row an earlier run had committed (0 for a new import).
    """

    import_id: str
    kind: str
    dry_run: bool
    rows: int
    created: int
    updated: int
    skipped: int
    rejected: int
    errors: tuple[RowError, ...]
    resumed_after: int


def _with_custom(fields: CustomFields, data: RowData) -> RowData | list[RowError]:
    """``data`` with its ``custom.*`` cells as validated values under ``custom``, or errors."""
    values = custom_values(fields, data.kind, data.row, data.custom)
    if isinstance(values, list):
        return values
    return attrs.evolve(data, values={**data.values, "custom": values})


class Imports:
    """CSV imports of a CRM (``crm.imports``)."""

    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    def run(
        self,
        principal: Principal,
        kind: str,
        stream: BinaryIO | bytes,
        *,
        import_id: str | None = None,
        mapping: Mapping[str, str | None] | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        on_duplicate: OnDuplicateRow | str = OnDuplicateRow.SKIP,
        dry_run: bool = False,
        batch: int = 500,
        progress: Callable[[int], object] | None = None,
    ) -> ImportReport:
        """Import ``stream`` (see the module docs); ``progress`` gets the rows read so far.

        ``progress`` is called after every ``batch`` rows read (after the batch
        committed) and once at the end.
        """
        if kind not in IMPORT_KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(IMPORT_KINDS)}", kind)
        policy = _to_policy(on_duplicate)
        if policy is OnDuplicateRow.UPDATE and kind not in ("contact", "account"):
            raise ValidationError("on_duplicate", f"update is not offered for {kind} rows", kind)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
            raise ValidationError("batch", "must be 1 to 10000", batch)
        crm = self._crm
        fields = crm.custom_fields
        run_id = crm.ids() if import_id is None else check_id(import_id, "import_id")
        with crm.unit_of_work(principal) as uow:
            run = uow.get_or_none(IMPORT_RUNS, run_id)
        if run is not None and run.kind != kind:
            raise ValidationError("import_id", f"belongs to an import of {run.kind} rows", run_id)
        after = 0 if run is None else run.last_row
        rows = read_rows(kind, stream, mapping=mapping, encoding=encoding, delimiter=delimiter)
        errors: list[RowError] = []
        read = rejected = unsaved = 0  # rows read, bad rows, bad rows not yet on the run record
        last = after  # the file line of the last row read
        pending: list[RowData] = []
        for item in rows:
            if isinstance(item, RowError):  # a header problem (row 1) or a row that is not CSV
                if item.row > after:
                    errors.extend([item][: max(0, MAX_REPORTED - len(errors))])
                    if item.row > 1:
                        read, rejected, unsaved = read + 1, rejected + 1, unsaved + 1
                continue
            if item.number <= after:
                continue
            read, last = read + 1, item.number
            checked = validate_row(kind, item)
            if not isinstance(checked, list) and (checked.custom or fields.for_kind(kind)):
                checked = _with_custom(fields, checked)
            if isinstance(checked, list):
                rejected, unsaved = rejected + 1, unsaved + 1
                errors.extend(checked[: max(0, MAX_REPORTED - len(errors))])
            else:
                pending.append(checked)
            if read % batch == 0:
                if not dry_run:
                    run, refused = self._commit(
                        principal, kind, run_id, pending, policy, unsaved, last
                    )
                    rejected += len(refused)
                    errors.extend(refused[: max(0, MAX_REPORTED - len(errors))])
                    pending, unsaved = [], 0
                if progress is not None:
                    progress(read)
        if not dry_run and (pending or unsaved or run is None or run.last_row < last):
            run, refused = self._commit(principal, kind, run_id, pending, policy, unsaved, last)
            rejected += len(refused)
            errors.extend(refused[: max(0, MAX_REPORTED - len(errors))])
        if progress is not None and (read == 0 or read % batch):
            progress(read)
        totals = (
            (0, 0, 0, rejected)
            if run is None or dry_run
            else (run.created, run.updated, run.skipped, run.rejected)
        )
        return ImportReport(run_id, kind, dry_run, read, *totals, tuple(errors), after)

    def _commit(
        self,
        principal: Principal,
        kind: str,
        run_id: str,
        rows: list[RowData],
        policy: OnDuplicateRow,
        rejected: int,
        last_row: int,
    ) -> tuple[ImportRun, list[RowError]]:
        """Write one batch and move the run on to ``last_row``, in one unit of work.

        Returns the run and the rows refused when written.
        """
        tally = {"created": 0, "updated": 0, "skipped": 0}
        refused: list[RowError] = []
        with self._crm.unit_of_work(principal) as uow:
            run = uow.get_or_none(IMPORT_RUNS, run_id)  # read here, so its version is checked
            found = stored(uow, kind, rows) if rows else {}
            for data in rows:
                try:
                    tally[write_row(uow, kind, data, policy, found)] += 1
                except (ValidationError, NotFound, InvalidTransition) as exc:
                    refused.append(refusal(kind, data.row, exc))
            now = uow.stamp().at
            new = ImportRun(
                run_id,
                1 if run is None else run.version + 1,
                kind,
                last_row,
                tally["created"] + (0 if run is None else run.created),
                tally["updated"] + (0 if run is None else run.updated),
                tally["skipped"] + (0 if run is None else run.skipped),
                rejected + len(refused) + (0 if run is None else run.rejected),
                now if run is None else run.started_at,
                now,
            )
            uow.save(IMPORT_RUNS, new)
        return new, refused
