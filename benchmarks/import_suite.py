"""The ``import`` suite: a CSV file of contacts into SQLite, `crm.imports` against a raw baseline.

Both sides read the same generated file (``last_name, first_name, title,
email, phone, tags, owner_id, time_zone``) into a fresh file with crmkit's
schema and pragmas, in batches of 500 rows, one transaction each:

* **crmkit**: ``crm.imports.run(..., on_duplicate="create")``: the streaming
  reader, header matching, cell validation (`validate_row`), one unit of work
  per batch through ``uow.contacts.create``, and the import's progress record.
* **baseline**: ``csv.reader`` and the same domain constructors (`Email`,
  `Phone`, ``Contact.create``: the document JSON must be the same), then the
  raw ``sqlite3`` writer of the ``sqlite`` suite (`raw_sqlite.save`): the same
  ``doc_contact`` rows with their index columns, ``crm_multi`` rows, events,
  timeline entries, segment profiles and full-text search entries, with
  ``executemany``.

What the baseline leaves out, and crmkit does: checking each cell with its
rule, and one ``import_run`` record per batch (which makes a killed import
resumable). `check_rows` asserts that both files hold the same number of rows
in every other table.

Each side runs once, in a fresh subprocess that reports its time and its peak
memory (`measure.peak_mb`), so neither side inherits the other's heap.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import raw_sqlite
from measure import Row, peak_mb
from samples import STAMP

from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import make_converter
from crmkit.parties.contact import Contact
from crmkit.parties.events import ContactCreated
from crmkit.parties.values import Email, Phone

BATCH = 500
# The table only crmkit writes (see the module docs), and the FTS5 index's own tables,
# whose row counts follow how FTS5 merged its segments, not what was written.
_EXTRA = ("doc_import_run", "srch_fts_")
PRINCIPAL = Principal(STAMP.actor, roles={"admin"})
HEADER = ("last_name", "first_name", "title", "email", "phone", "tags", "owner_id", "time_zone")
_FIRST = ("Anna", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro")
_LAST = ("Berg", "Novák", "Okafor", "Schmidt", "Tanaka", "Müller", "Silva", "Ivanova")
_TAGS = ("vip", "newsletter", "partner", "trade-fair", "churn-risk", "lead")


def write_csv(path: Path, count: int) -> None:
    """``count`` contacts as a CSV file, as a spreadsheet export would hold them."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(count):
            first, last = _FIRST[i % 8], _LAST[(i // 8) % 8]
            tags = f"{_TAGS[i % 6]};{_TAGS[(i + 2) % 6]}"
            title = "Head of Purchasing" if i % 3 == 0 else ""
            email = f"{first.lower()}.{i}@example.com"
            phone = f"+49 30 {1_000_000 + i}"
            writer.writerow(
                (last, first, title, email, phone, tags, f"u-{i % 20}", "Europe/Berlin")
            )


def crmkit_import(path: Path, source: Path) -> int:
    """Import ``source`` with ``crm.imports``; return the contacts created."""
    crm = Crm(SqliteStore(path), clock=FixedClock(STAMP.at), ids=SequentialIds("e"))
    try:
        with source.open("rb") as stream:
            report = crm.imports.run(
                PRINCIPAL, "contact", stream, on_duplicate="create", batch=BATCH
            )
    finally:
        crm.close()
    if report.rejected:
        raise AssertionError(f"crmkit rejected rows: {report.errors[:3]}")
    return report.created


def _pairs(rows: Iterator[list[str]]) -> Iterator[tuple[Contact, ContactCreated]]:
    ids = SequentialIds("c")
    for last, first, title, email, phone, tags, owner, zone in rows:
        yield Contact.create(
            ids(),
            STAMP,
            last_name=last,
            first_name=first,
            title=title or None,
            emails=(Email(email),) if email else (),
            phones=(Phone(phone),) if phone else (),
            owner_id=owner or None,
            tags=tuple(tags.split(";")) if tags else (),
            time_zone=zone or None,
        )


def baseline_import(path: Path, source: Path) -> int:
    """Import ``source`` by hand: ``csv.reader``, the constructors, raw ``executemany``."""
    # crmkit makes the schema (tables, indexes, FTS tables, pragmas), as for its own side.
    Crm(SqliteStore(path)).close()
    conn = raw_sqlite.connect(str(path))
    conv = make_converter()
    new_id = SequentialIds("e")
    count = 0
    try:
        with source.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            pairs = _pairs(reader)
            while True:
                batch = [pair for _, pair in zip(range(BATCH), pairs, strict=False)]
                if not batch:
                    break
                raw_sqlite.save(conn, conv, new_id, "default", batch)
                count += len(batch)
    finally:
        conn.close()
    return count


def check_rows(ours: Path, theirs: Path, count: int) -> None:
    """Both files hold as many rows in each table but crmkit's import records (and the
    FTS5 index's segment tables; the search keys in ``srch_map_contact`` are counted)."""
    a, b = raw_sqlite.table_digests(str(ours)), raw_sqlite.table_digests(str(theirs))
    counts = {t: n for t, (n, _) in a.items() if not t.startswith(_EXTRA)}
    if counts != {t: n for t, (n, _) in b.items() if not t.startswith(_EXTRA)}:
        raise AssertionError(f"row counts differ: crmkit {a} baseline {b}")
    if counts["doc_contact"] != count or counts["crm_events"] != count:
        raise AssertionError(f"expected {count} contacts and events, found {counts}")


def _child(side: str, folder: Path, count: int) -> None:
    source = folder / "contacts.csv"
    target = folder / f"{side}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    run = crmkit_import if side == "crmkit" else baseline_import
    done = run(target, source)
    elapsed = time.perf_counter() - start
    if done != count:
        raise AssertionError(f"{side} imported {done} of {count} rows")
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb()}))


def _run_child(side: str, folder: Path, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", side, str(folder), str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def import_row(count: int) -> Row:
    """One row: crmkit's seconds per contact against the baseline's, and both peaks."""
    with tempfile.TemporaryDirectory(prefix="crmkit-import-") as name:
        folder = Path(name)
        write_csv(folder / "contacts.csv", count)
        ours = _run_child("crmkit", folder, count)
        theirs = _run_child("baseline", folder, count)
        if count <= 200_000:  # digesting a million rows twice takes longer than the import
            check_rows(folder / "crmkit.db", folder / "baseline.db", count)
    return Row(
        f"import: {count:,} contacts from CSV into SQLite (per row)",
        ours["seconds"] / count,
        "csv.reader + raw sqlite3 executemany",
        theirs["seconds"] / count,
        target=4.0,
        peak_mb=ours["peak_mb"],
        peer_peak_mb=theirs["peak_mb"],
    )


def run(quick: bool) -> list[Row]:
    """Every row of the suite (rows per second = 1 / seconds per row)."""
    sizes = (2_000,) if quick else (100_000, 1_000_000)
    rows = [import_row(count) for count in sizes]
    for row in rows:
        assert row.peer_s is not None
        print(
            f"{row.name}: crmkit {1 / row.crmkit_s:,.0f} rows/s, baseline"
            f" {1 / row.peer_s:,.0f} rows/s, ratio {row.ratio:.2f};"
            f" peak {row.peak_mb:.0f} MB / {row.peer_peak_mb:.0f} MB",
            file=sys.stderr,
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child" and sys.argv[2] in ("crmkit", "baseline"):
        _child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: import_suite.py --child crmkit|baseline FOLDER COUNT (use run.py)")
