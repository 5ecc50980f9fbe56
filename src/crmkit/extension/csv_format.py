"""CSV files of records, read and written one row at a time.

`read_rows` opens a byte stream (a UTF-8 BOM is dropped; another encoding is
named with ``encoding=``), sniffs the delimiter from the header line, matches
the header to the kind's columns (`crmkit.extension.csv_columns`) and yields
one `Row` of raw text per data row, or a `RowError` for a row that is not
valid CSV. `validate_row` turns a `Row` into typed values (`RowData`), or
into the list of every rule the row breaks. `row_of` and `write_rows` export
records in the same columns, so that an export reads back to equal values.

Numbers use ``.`` as the decimal mark and no grouping (``1234.56``); pass
``decimal=","`` to `validate_row` for files that write ``1234,56``. Grouped
numbers such as ``1.234,56`` are refused, never guessed.

>>> import io
>>> data = "Surname,E-Mail,Tags\\nBerg,anna@example.com,vip; north\\nLund,nope,\\n"
>>> rows = list(read_rows("contact", io.BytesIO(data.encode())))
>>> rows[0]
Row(number=2, values={'last_name': 'Berg', 'email': 'anna@example.com',
    'tags': 'vip; north'}, custom={})
>>> validate_row("contact", rows[0]).values["tags"]
('north', 'vip')
>>> validate_row("contact", rows[1])
[RowError(row=3, column='email', value=None, rule='must be an email address (local@domain)')]
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO, Final, Protocol

import attrs

from crmkit.activities.activity import Activity
from crmkit.kernel.errors import ValidationError
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity

from ._csv_decode import EncodingError as EncodingError, decoded_lines, encoding_name
from ._csv_export import CELLS
from ._csv_header import header_mapping, resolve_header
from .csv_columns import (
    ANSWERS,
    CUSTOM,
    PERSONAL_COLUMNS,
    check_kind,
    columns,
    is_column,
    parse_cells,
)

__all__ = [
    "DELIMITERS",
    "CsvRows",
    "EncodingError",
    "Row",
    "RowData",
    "RowError",
    "read_rows",
    "row_of",
    "validate_row",
    "write_rows",
]

DELIMITERS: Final = ",;\t|"
"""The delimiters `read_rows` sniffs: comma, semicolon, tab and pipe."""

_CHUNK: Final = 1 << 16
_EOL: Final = re.compile(r"\r\n|\r|\n")
_RECORDS: Final[dict[str, type]] = {
    "contact": Contact,
    "account": Account,
    "lead": Lead,
    "opportunity": Opportunity,
    "activity": Activity,
}


@attrs.frozen
class Row:
    """One data row of a CSV file, as raw text.

    Attributes:
        number: The file's line number where the row starts (the header is line 1).
        values: Canonical column to cell text, for every mapped column (blank cells too).
        custom: Custom field name to cell text, from the ``custom.<name>`` columns.
    """

    number: int
    values: dict[str, str]
    custom: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class RowError:
    """A rule that a row (or the header, row 1) breaks.

    Attributes:
        row: The file's line number where the row starts.
        column: The canonical column, the header name of an unknown column, or None
            for the row as a whole.
        value: The offending cell text, or None when the column holds personal data.
        rule: The rule that was broken.
    """

    row: int
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = f"row {self.row}" + ("" if self.column is None else f", {self.column}")
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{where}: {self.rule}{shown}"


@attrs.frozen
class RowData:
    """A valid row: typed values ready for the record's constructor or command.

    Attributes:
        kind: The record kind.
        row: The file's line number where the row starts.
        values: Field name to typed value, for filled cells only. Most fields are
            the columns themselves (text, ids, `Email`, `Phone`, ``tags`` as a
            tuple, dates, aware datetimes, enums); composite ones are
            ``address`` (an `Address` from street, city, postal_code, region and
            country), ``amount`` (`Money` from amount and currency), and for leads
            ``source`` (a `LeadSource`, channel ``import`` unless given) and
            ``answers`` (a dict), so that ``LeadInput(**values without id)`` works.
        custom: Custom field name to raw text, for filled ``custom.*`` cells.
    """

    kind: str
    row: int
    values: dict[str, object]
    custom: dict[str, str] = attrs.field(factory=dict)


class CsvRows(Iterator[Row | RowError]):
    """The rows of an opened CSV file (`read_rows`), with what its header told.

    Attributes:
        kind: The record kind.
        delimiter: The delimiter, given or sniffed.
        header: The header's names, as written.
        columns: The column each header name maps to (None: ignored or unknown).
        unknown: Header names that match no column (reported as row 1 errors).
    """

    def __init__(
        self,
        kind: str,
        delimiter: str,
        header: list[str],
        resolved: tuple[list[str | None], list[str]],
        reader: _Reader,
    ) -> None:
        self.kind = kind
        self.delimiter = delimiter
        self.header = tuple(header)
        self.columns = tuple(resolved[0])
        self.unknown = tuple(resolved[1])
        self._rows = _rows(kind, reader, self.columns, self.unknown)

    def __next__(self) -> Row | RowError:
        return next(self._rows)


def read_rows(
    kind: str,
    stream: BinaryIO | bytes,
    *,
    mapping: Mapping[str, str | None] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    strict: bool = False,
) -> CsvRows:
    """Open a CSV file of ``kind`` records and stream its rows, one at a time.

    The header is read at once and must name the kind's required columns
    (a lead file: one of last name, email, phone or company) without empty or
    repeated names; headers match columns by `column_for`, or by ``mapping``
    (header name to column, ``custom.<name>``, or None to ignore it). Unknown
    headers are yielded first as `RowError` of row 1, or refused when
    ``strict`` (which also refuses mapping entries the header lacks).

    ``encoding`` defaults to UTF-8; a byte that does not decode raises
    `EncodingError` when it is reached. ``delimiter`` (one of `DELIMITERS`) is
    sniffed from the header line unless given. Blank lines are skipped; a row
    with more filled cells than the header is a `RowError`; missing trailing
    cells are blank.
    """
    check_kind(kind)
    if delimiter is not None and (not isinstance(delimiter, str) or delimiter not in DELIMITERS):
        raise ValidationError("delimiter", "must be one of ',', ';', tab or '|'", delimiter)
    if isinstance(stream, bytes | bytearray):
        stream = io.BytesIO(stream)
    lines = decoded_lines(stream, encoding_name(encoding))
    first = next(lines, None)
    if first is None or not first.strip():
        raise ValidationError("file", "needs a header row: its first line must name the columns")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","  # one column: no delimiter to see
    reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ValidationError("header", f"is not valid CSV: {exc}") from None
    resolved = resolve_header(kind, header, header_mapping(kind, mapping), strict)
    return CsvRows(kind, delimiter, header, resolved, reader)


def validate_row(kind: str, row: Row, *, decimal: str = ".") -> RowData | list[RowError]:
    """The typed values of a row, or a `RowError` for every rule it breaks.

    ``decimal`` is the decimal mark of amounts: ``.`` (the default) or ``,``.
    """
    check_kind(kind)
    if not isinstance(row, Row):
        raise ValidationError("row", "must be a Row", type(row).__name__)
    if decimal not in (".", ","):
        raise ValidationError("decimal", "must be '.' or ','", decimal)
    values, problems = parse_cells(kind, row.values, decimal)
    if problems:
        return [
            RowError(
                row.number,
                column,
                None if column is None or column in PERSONAL_COLUMNS else _cell(row, column),
                rule,
            )
            for column, rule in problems
        ]
    custom = {name: text for name, text in row.custom.items() if text.strip()}
    return RowData(kind, row.number, values, custom)


def _cell(row: Row, column: str) -> str | None:
    text = row.values.get(column, "")
    return text if text.strip() else None


def write_rows(
    kind: str,
    rows: Iterable[Mapping[str, str]],
    stream: BinaryIO,
    *,
    extra_columns: Iterable[str] = (),
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
) -> int:
    """Write rows (as `row_of` gives them) to a byte stream, after a header; return the count.

    The header holds the kind's canonical columns, then ``extra_columns``
    (``custom.<name>`` and, for leads, ``answers.<question>``). Rows may leave
    columns out (written blank) but may not name other columns. ``bom`` writes
    a UTF-8 byte order mark, which some spreadsheet programs need. Cells are
    written as they are: a cell starting with ``=``, ``+``, ``-`` or ``@`` is
    not defused against spreadsheet formulas, so that exports read back exactly.
    """
    header = [*columns(kind), *_extras(kind, extra_columns)]
    if not isinstance(delimiter, str) or delimiter not in DELIMITERS:
        raise ValidationError("delimiter", "must be one of ',', ';', tab or '|'", delimiter)
    codec = encoding_name(encoding)
    target = _Encoded(stream, codec)
    if bom:
        stream.write(codecs.BOM_UTF8)
    writer = csv.writer(target, delimiter=delimiter, lineterminator="\r\n")
    known = set(header)
    writer.writerow(header)
    count = 0
    for row in rows:
        target.field = f"rows[{count}]"
        if not isinstance(row, Mapping):
            raise ValidationError(target.field, "must be a mapping of column to text", row)
        for key, value in row.items():
            if key not in known:
                rule = "is not a column of this file (name custom columns in extra_columns)"
                raise ValidationError(f"{target.field}.{key}", rule)
            if not isinstance(value, str):
                raise ValidationError(f"{target.field}.{key}", "must be text", type(value).__name__)
        writer.writerow([row.get(column, "") for column in header])
        count += 1
    return count


def row_of(kind: str, record: object, *, custom: Mapping[str, str] | None = None) -> dict[str, str]:
    """A record (`Contact`, `Account`, `Lead`, `Opportunity`, `Activity`) as a canonical row.

    Every canonical column is present (blank when unset). A contact or account
    gives its first email, phone and address and, for a contact, its primary
    account; a lead gives its input fields (not its status or score) and an
    ``answers.<question>`` column per answer; ``custom`` adds ``custom.<name>``
    columns.
    """
    cls = _RECORDS[check_kind(kind)]
    if not isinstance(record, cls):
        raise ValidationError("record", f"must be a {cls.__name__}", type(record).__name__)
    cells = CELLS[kind](record)
    row = {column: cells.get(column, "") for column in columns(kind)}
    if isinstance(record, Lead):
        row.update({ANSWERS + name: text for name, text in record.answers.items()})
    for name, text in (custom or {}).items():
        if not isinstance(name, str) or not isinstance(text, str) or not name:
            raise ValidationError("custom", "must map field names to text", name)
        row[CUSTOM + name] = text
    return row


# --- reading -----------------------------------------------------------------------------


class _Reader(Protocol):
    """What `_rows` uses of a `csv.reader`."""

    @property
    def line_num(self) -> int: ...

    def __next__(self) -> list[str]: ...


def _rows(
    kind: str, reader: _Reader, cols: tuple[str | None, ...], unknown: tuple[str, ...]
) -> Iterator[Row | RowError]:
    for name in unknown:
        yield RowError(1, name, name, f"matches no {kind} column: ignored")
    width = len(cols)
    while True:
        number = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            yield RowError(number, None, None, f"is not valid CSV: {exc}")
            continue
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if any(cell.strip() for cell in cells[width:]):
            yield RowError(number, None, None, f"has {len(cells)} cells but the header has {width}")
            continue
        values: dict[str, str] = {}
        custom: dict[str, str] = {}
        for column, cell in itertools.zip_longest(cols, cells[:width], fillvalue=""):
            if not column:
                continue
            if column.startswith(CUSTOM):
                custom[column.removeprefix(CUSTOM)] = cell
            else:
                values[column] = cell
        yield Row(number, values, custom)


# --- writing -----------------------------------------------------------------------------


class _Encoded:
    """A text sink for `csv.writer` that encodes into a byte stream."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self.stream = stream
        self.encoding = encoding
        self.field = "header"

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text.encode(self.encoding))
        except UnicodeEncodeError:
            raise ValidationError(self.field, f"cannot be encoded in {self.encoding}") from None


def _extras(kind: str, extra: Iterable[str]) -> list[str]:
    if isinstance(extra, str) or not isinstance(extra, Iterable):
        raise ValidationError("extra_columns", "must be a list of column names", extra)
    names = list(dict.fromkeys(extra))
    for name in names:
        if not isinstance(name, str) or not name.startswith((CUSTOM, ANSWERS)):
            raise ValidationError("extra_columns", "must be custom.* or answers.* columns", name)
        if not is_column(kind, name):
            raise ValidationError("extra_columns", f"is not a {kind} column", name)
    return names
