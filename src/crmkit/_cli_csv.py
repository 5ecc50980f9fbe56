"""``crmkit import`` and ``crmkit export``: CSV files in and out of a store, with a progress bar.

Private to `crmkit.cli`. Exit codes: 0 when every row went in (or out), 1 when
rows were refused (they are listed in a table), 2 for a usage problem: a bad
option, a missing file, a header that does not fit, an encoding error.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO, cast

from crmkit.app.crm import open as open_crm
from crmkit.app.imports import IMPORT_KINDS, ImportReport
from crmkit.extension.csv_format import RowError
from crmkit.kernel.errors import CrmError, ValidationError
from crmkit.kernel.principal import Principal

CLI_PRINCIPAL = Principal("cli", roles={"admin"})
"""The principal ``crmkit import`` and ``crmkit export`` act as."""


def add_parsers(commands: Any) -> None:
    """Add the ``import`` and ``export`` commands to the ``crmkit`` parser."""
    imp = commands.add_parser("import", help="import a CSV file of records into a store")
    imp.add_argument("file", type=Path, help="the CSV file")
    imp.add_argument("--kind", required=True, choices=IMPORT_KINDS)
    _db(imp)
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument("--on-duplicate", choices=("skip", "update", "create"), default="skip")
    imp.add_argument("--import-id", metavar="ID", help="resume the import with this id")
    imp.add_argument("--batch", type=int, default=500, metavar="N", help="rows per commit")
    imp.add_argument("--encoding", help="the file's encoding (default UTF-8)")
    exp = commands.add_parser("export", help="export the records of a kind as CSV")
    exp.add_argument("--kind", required=True, choices=IMPORT_KINDS)
    _db(exp)
    exp.add_argument("--out", type=Path, metavar="FILE", help="write here (default stdout)")


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", help="the store, e.g. sqlite:///crm.db (default $CRMKIT_STORAGE_URL)"
    )


def run_import(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    """Run ``crmkit import``: the report goes to ``out``, the progress bar to ``err``."""
    err = err or sys.stderr
    try:
        with args.file.open("rb") as stream, open_crm(args.db) as crm:
            bar = ProgressBar(err, os.fstat(stream.fileno()).st_size, stream.tell)
            report = crm.imports.run(
                CLI_PRINCIPAL,
                args.kind,
                stream,
                import_id=args.import_id,
                encoding=args.encoding,
                on_duplicate=args.on_duplicate,
                dry_run=args.dry_run,
                batch=args.batch,
                progress=bar,
            )
            bar.finish()
    except (ValidationError, OSError) as exc:
        print(f"crmkit import: {' '.join(str(exc).split())}", file=err)
        return 2
    except (CrmError, sqlite3.Error) as exc:
        print(f"crmkit import: {' '.join(str(exc).split())}", file=err)
        return 1
    print_report(report, out)
    return 1 if report.rejected else 0


def run_export(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    """Run ``crmkit export``: the file goes to ``--out`` or to ``out``."""
    err = err or sys.stderr
    url = args.db
    try:
        sqlite = url is not None and url.startswith("sqlite:///")
        if sqlite and not Path(url.removeprefix("sqlite:///")).is_file():  # opening creates it
            raise ValidationError("--db", "no such SQLite file", url)
        with open_crm(url) as crm:
            if args.out is not None:
                with args.out.open("wb") as target:
                    count = crm.exports.run(CLI_PRINCIPAL, args.kind, target)
                print(f"{count} {args.kind} rows written to {args.out}", file=err)
            else:
                count = crm.exports.run(CLI_PRINCIPAL, args.kind, cast(BinaryIO, _Bytes(out)))
    except (ValidationError, OSError) as exc:
        print(f"crmkit export: {' '.join(str(exc).split())}", file=err)
        return 2
    except (CrmError, sqlite3.Error) as exc:
        print(f"crmkit export: {' '.join(str(exc).split())}", file=err)
        return 1
    return 0


class _Bytes:
    """A byte sink over a text stream: its binary buffer when it has one (stdout does)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._buffer: BinaryIO | None = getattr(out, "buffer", None)
        out.flush()

    def write(self, data: bytes) -> int:
        if self._buffer is not None:
            return self._buffer.write(data)
        self._out.write(data.decode())  # the CSV writer hands over whole rows
        return len(data)


class ProgressBar:
    """The progress of an import on a terminal, as a callback for ``progress``.

    On a terminal it redraws one line with ``\\r``: a bar of the bytes read,
    the rows done and the rate. Elsewhere (a log, a pipe) it prints a line at
    most every ``every`` seconds, and a last one when the import ends.
    """

    def __init__(
        self,
        stream: TextIO,
        size: int,
        position: Callable[[], int],
        *,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._size = size
        self._position = position
        self._every = every
        self._clock = clock
        self._start = self._printed = clock()
        self._rows = 0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, rows: int) -> None:
        """Note ``rows`` rows done; redraw or print when it is time."""
        self._rows = rows
        now = self._clock()
        if self._tty:
            self._stream.write("\r" + self.line(now))
            self._stream.flush()
        elif now - self._printed >= self._every:
            self._printed = now
            print(self.line(now), file=self._stream)

    def finish(self) -> None:
        """The last line: ends the redrawn one, or prints the final figures."""
        line = self.line(self._clock(), done=True)
        self._stream.write(("\r" if self._tty else "") + line + "\n")
        self._stream.flush()

    def line(self, now: float, *, done: bool = False) -> str:
        """``[#####.....]  45%  12,000 rows  3,400 rows/s``."""
        try:
            read = self._position()
        except (OSError, ValueError):  # the file is closed: it was read to the end
            read = self._size
        share = 1.0 if done or not self._size else min(1.0, read / self._size)
        filled = int(share * 30)
        rate = self._rows / max(now - self._start, 1e-9)
        bar = "#" * filled + "." * (30 - filled)
        return f"[{bar}] {share:4.0%}  {self._rows:,} rows  {rate:,.0f} rows/s"


def print_report(report: ImportReport, out: TextIO) -> None:
    """What an import did, and its bad rows as a table (values of personal columns hidden)."""
    if report.errors:
        print(error_table(report.errors), file=out)
        shown = len(report.errors)
        if shown < report.rejected:
            print(f"(the first {shown} of the problems are shown)", file=out)
    if report.dry_run:
        print(
            f"dry run: {report.rows} rows read, {report.rejected} bad; nothing was written",
            file=out,
        )
        return
    print(
        f"import {report.import_id}: {report.rows} rows read in this run;"
        f" {report.created} created, {report.updated} updated, {report.skipped} skipped,"
        f" {report.rejected} rejected in all",
        file=out,
    )


def error_table(errors: tuple[RowError, ...]) -> str:
    """Row errors as a table: row, column, value (``-`` when personal or blank) and rule."""
    rows = [("row", "column", "value", "rule")]
    rows.extend(
        (str(e.row), e.column or "-", "-" if e.value is None else repr(e.value), e.rule)
        for e in errors
    )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[3]]) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in (*widths, len("rule"))))
    return "\n".join(line.rstrip() for line in lines)
