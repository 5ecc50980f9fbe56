"""CSV imports on the store: streamed in batches, resumable, with a dry run.

``crm.imports.run(principal, kind, stream)`` reads a CSV file of contacts,
accounts, leads or opportunities (`crmkit.extension.csv_format`) a row at a
time and writes the valid rows in batches, each batch one unit of work. Every
batch also moves the import's `ImportRun` record on to its last row, in the
same commit: an import that stops part-way (a crash, a killed process) resumes
with the same ``import_id`` after the last committed row, so no row is lost and
none is written twice. Bad rows are reported with their row, column and rule
and skipped; ``dry_run=True`` reports them and writes nothing.

Duplicates (``on_duplicate``): a contact or lead is a duplicate of one with
the same email, an account of one with the same name; ``skip`` leaves the
stored record alone, ``create`` writes the row anyway, and ``update`` (contacts
and accounts) fills in the stored record's fields from the row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import attrs

from crmkit.app.import_records import IMPORT_RUNS, ImportRun
from crmkit.app.record_type import RecordType
from crmkit.app.records import ACCOUNTS, CONTACTS, LEADS
from crmkit.extension.csv_format import RowData, RowError, read_rows, validate_row
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Eq
from crmkit.sales.capture import LeadInput

if TYPE_CHECKING:
    from crmkit.app.crm import Crm
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["IMPORT_KINDS", "ImportReport", "Imports", "OnDuplicateRow"]

IMPORT_KINDS: Final = ("contact", "account", "lead", "opportunity")
"""The kinds `Imports.run` writes."""
MAX_REPORTED: Final = 1000
"""The most row errors an `ImportReport` lists (it counts them all)."""


class OnDuplicateRow(StrEnum):
    """What an import does with a row that matches a stored record."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


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
        errors: The bad rows of this run, each with its row, column and rule (the first 1000).
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
        """Import ``stream`` (see the module docs); ``progress`` gets the rows read so far."""
        if kind not in IMPORT_KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(IMPORT_KINDS)}", kind)
        policy = _to_policy(on_duplicate)
        if policy is OnDuplicateRow.UPDATE and kind not in ("contact", "account"):
            raise ValidationError("on_duplicate", f"update is not offered for {kind} rows", kind)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
            raise ValidationError("batch", "must be 1 to 10000", batch)
        crm = self._crm
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
            if isinstance(item, RowError):  # a header problem, reported on row 1
                if after == 0:
                    errors.append(item)
                continue
            if item.number <= after:
                continue
            read, last = read + 1, item.number
            checked = validate_row(kind, item)
            if isinstance(checked, list):
                rejected, unsaved = rejected + 1, unsaved + 1
                errors.extend(checked[: max(0, MAX_REPORTED - len(errors))])
            else:
                pending.append(checked)
            if len(pending) >= batch and not dry_run:
                run = self._commit(principal, kind, run_id, pending, policy, unsaved, last)
                pending, unsaved = [], 0
            if progress is not None and read % batch == 0:
                progress(read)
        if not dry_run and (pending or unsaved or run is None):
            run = self._commit(principal, kind, run_id, pending, policy, unsaved, last)
        if progress is not None:
            progress(read)
        totals = (
            (0, 0, 0, rejected)
            if run is None
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
    ) -> ImportRun:
        """Write one batch and move the run on to ``last_row``, in one unit of work."""
        tally = {"created": 0, "updated": 0, "skipped": 0}
        with self._crm.unit_of_work(principal) as uow:
            run = uow.get_or_none(IMPORT_RUNS, run_id)  # read here, so its version is checked
            for data in rows:
                tally[_write(uow, kind, data, policy, run_id)] += 1
            now = uow.stamp().at
            new = ImportRun(
                run_id,
                1 if run is None else run.version + 1,
                kind,
                last_row,
                tally["created"] + (0 if run is None else run.created),
                tally["updated"] + (0 if run is None else run.updated),
                tally["skipped"] + (0 if run is None else run.skipped),
                rejected + (0 if run is None else run.rejected),
                now if run is None else run.started_at,
                now,
            )
            uow.save(IMPORT_RUNS, new)
        return new


def _duplicate(uow: UnitOfWork, kind: str, data: RowData) -> Any | None:
    values = data.values
    if kind in ("contact", "lead") and values.get("email") is not None:
        rtype: RecordType[Any] = CONTACTS if kind == "contact" else LEADS
        found = uow.find(rtype, (Eq("email", values["email"].key),), limit=1)  # type: ignore[attr-defined]
        return found.items[0] if found.items else None
    if kind == "account":
        found = uow.find(ACCOUNTS, (Eq("name", str(values["name"]).casefold()),), limit=1)
        return found.items[0] if found.items else None
    return None


def _write(uow: UnitOfWork, kind: str, data: RowData, policy: OnDuplicateRow, run_id: str) -> str:
    """Write one row; ``created``, ``updated`` or ``skipped``."""
    values = {k: v for k, v in data.values.items() if k != "id"}
    key = f"import:{run_id}:{data.row}"
    if policy is not OnDuplicateRow.CREATE:
        found = _duplicate(uow, kind, data)
        if found is not None:
            if policy is OnDuplicateRow.SKIP:
                return "skipped"
            changes = _fields(kind, values, found)
            if not changes:
                return "skipped"
            service = uow.contacts if kind == "contact" else uow.accounts
            service.update(found.id, **changes)
            return "updated"
    if kind == "contact":
        uow.contacts.create(
            str(values.pop("last_name")), idempotency_key=key, **_contact_args(values)
        )
    elif kind == "account":
        uow.accounts.create(str(values.pop("name")), idempotency_key=key, **_contact_args(values))
    elif kind == "lead":
        uow.leads.capture(LeadInput(**values), idempotency_key=key)  # type: ignore[arg-type]
    else:
        name = str(values.pop("name"))
        uow.opportunities.open(name, idempotency_key=key, **values)  # type: ignore[arg-type]
    return "created"


def _contact_args(values: dict[str, object]) -> dict[str, Any]:
    """A row's values as the keywords of ``create``: contact points become lists."""
    out: dict[str, Any] = dict(values)
    for single, many in (("email", "emails"), ("phone", "phones"), ("address", "addresses")):
        if single in out:
            out[many] = [out.pop(single)]
    return out


def _fields(kind: str, values: dict[str, object], found: Any) -> dict[str, Any]:
    """The row's fields that the stored record lacks (an update fills, it does not overwrite)."""
    args = _contact_args(values)
    allowed = {"first_name", "title", "time_zone"} if kind == "contact" else {"website", "industry"}
    return {k: v for k, v in args.items() if k in allowed and getattr(found, k, None) in (None, "")}
