"""CSV exports from the store: every record of a kind, streamed, in the columns imports read.

``crm.exports.run(principal, kind, out)`` writes the records of ``kind`` (one
of `IMPORT_KINDS`) to the byte stream ``out`` with
`crmkit.extension.csv_format.write_rows`, reading them a page at a time
without keeping them (memory stays bounded however many there are). The file
carries each record's ``id``, so importing it into another store with
``crm.imports.run`` gives records equal in every column the file carries, links
between them included: import accounts first, then contacts, leads,
opportunities and activities (an import checks that linked records exist).

Custom fields travel as ``custom.<name>`` columns, one per field the host
declared for the kind (`crmkit.extension.csv_custom`).

Lead files carry one ``answers.<question>`` column per question any exported
lead answered; finding those takes a first pass over the leads' answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from crmkit.app.imports import IMPORT_KINDS, RECORD_TYPES
from crmkit.extension.csv_columns import ANSWERS, CUSTOM
from crmkit.extension.csv_custom import custom_cells
from crmkit.extension.csv_format import row_of, write_rows
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Condition

if TYPE_CHECKING:
    from crmkit.app.crm import Crm
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["Exports"]

_PAGE = 500


class Exports:
    """CSV exports of a CRM (``crm.exports``)."""

    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    def run(
        self,
        principal: Principal,
        kind: str,
        out: BinaryIO,
        *,
        where: tuple[Condition, ...] = (),
        delimiter: str = ",",
        bom: bool = False,
        progress: Callable[[int], object] | None = None,
    ) -> int:
        """Write the records of ``kind`` that meet ``where`` to ``out``; return how many.

        Records come in id order, as the principal may see them. ``progress``
        gets the rows written so far after every 500 rows, and once at the end.
        ``bom`` writes a UTF-8 byte order mark, which some spreadsheet programs need.
        """
        if kind not in IMPORT_KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(IMPORT_KINDS)}", kind)
        if not isinstance(where, tuple):
            raise ValidationError("where", "must be a tuple of conditions", type(where).__name__)
        with self._crm.unit_of_work(principal) as uow:
            extra = _answer_columns(uow, where) if kind == "lead" else []
            # Every custom field the host declared, retired ones too: stored values keep them.
            extra += [CUSTOM + spec.name for spec in self._crm.custom_fields.for_kind(kind)]
            rows = _rows(uow, kind, where, progress)
            count = write_rows(kind, rows, out, extra_columns=extra, delimiter=delimiter, bom=bom)
        if progress is not None:
            progress(count)
        return count


def _records(uow: UnitOfWork, kind: str, where: tuple[Condition, ...]) -> Iterator[Any]:
    return uow.find_all(RECORD_TYPES[kind], where, batch=_PAGE, keep=False)


def _rows(
    uow: UnitOfWork,
    kind: str,
    where: tuple[Condition, ...],
    progress: Callable[[int], object] | None,
) -> Iterator[dict[str, str]]:
    for count, record in enumerate(_records(uow, kind, where), 1):
        yield row_of(kind, record, custom=custom_cells(record.custom))
        if progress is not None and count % _PAGE == 0:
            progress(count)


def _answer_columns(uow: UnitOfWork, where: tuple[Condition, ...]) -> list[str]:
    """The ``answers.<question>`` columns of the leads to export, sorted."""
    questions: set[str] = set()
    for lead in _records(uow, "lead", where):
        questions.update(lead.answers)
    return [ANSWERS + name for name in sorted(questions)]
