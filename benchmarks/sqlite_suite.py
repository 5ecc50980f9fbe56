"""The ``sqlite`` suite: crmkit's `SqliteStore` through a unit of work against raw ``sqlite3``.

Run as a script (``python sqlite_suite.py --peak crmkit|raw COUNT``) it does one
bulk save in a fresh process and prints that process's peak memory as JSON.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import raw_sqlite
from measure import Row, Side, compare, peak_mb
from samples import STAMP, new_contact

from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.app.records import CONTACTS
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import make_converter
from crmkit.parties.contact import Contact
from crmkit.parties.events import ContactCreated

PRINCIPAL = Principal(STAMP.actor)
Pairs = list[tuple[Contact, ContactCreated]]


def build_pairs(count: int) -> Pairs:
    """``count`` new contacts and their creation events, built before any timing."""
    return [new_contact(i) for i in range(count)]


def open_crm(path: Path) -> Crm:
    """crmkit on a SQLite file, with ids from the same generator the raw side uses."""
    return Crm(SqliteStore(path), clock=FixedClock(STAMP.at), ids=SequentialIds("e"))


def warm(crm: Crm, pairs: Pairs) -> None:
    """Build the converter's hooks now (a long-running process has them already)."""
    contact, event = pairs[0]
    crm.converter.unstructure(contact)
    crm.converter.unstructure(event)


def crmkit_save(crm: Crm, pairs: Pairs) -> None:
    """The crmkit side of the bulk save: stage every pair, commit once."""
    with crm.unit_of_work(PRINCIPAL) as uow:
        for contact, event in pairs:
            uow.save(CONTACTS, contact, event)


@dataclass
class Files:
    """Fresh database files in one folder; each side keeps only its latest."""

    folder: Path
    template: Path
    latest: dict[str, Path] = field(default_factory=dict)
    made: int = 0

    def fresh(self, side: str) -> Path:
        """A new file for ``side``; its previous one (and WAL files) are deleted."""
        old = self.latest.pop(side, None)
        if old is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)
        self.made += 1
        path = self.folder / f"{side}-{self.made}.db"
        self.latest[side] = path
        return path


@contextmanager
def files() -> Iterator[Files]:
    """A temporary folder with a template file whose schema crmkit created."""
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder:
        template = Path(folder) / "template.db"
        open_crm(template).close()
        yield Files(Path(folder), template)


def bulk_row(pairs: Pairs, where: Files, repeat: int) -> Row:
    """Bulk save: one unit of work against one raw transaction, per contact."""
    conv = make_converter()
    conv.unstructure(pairs[0][0])
    conv.unstructure(pairs[0][1])
    opened: list[Any] = []

    def prepare_crmkit() -> Crm:
        for old in opened:
            old.close()
        opened.clear()
        crm = open_crm(where.fresh("crmkit"))
        warm(crm, pairs)
        opened.append(crm)
        return crm

    def prepare_raw() -> Any:
        for old in opened:
            old.close()
        opened.clear()
        conn = raw_sqlite.copy_schema(str(where.template), str(where.fresh("raw")))
        opened.append(conn)
        return conn

    def raw(conn: Any) -> None:
        raw_sqlite.save(conn, conv, SequentialIds("e"), "default", pairs)

    count = len(pairs)
    crmkit = Side("crmkit", lambda crm: crmkit_save(crm, pairs), count, prepare_crmkit)
    peer = Side("raw sqlite3 executemany", raw, count, prepare_raw)
    name = f"sqlite: bulk save {count:,} contacts, one unit of work"
    (row,) = compare(name, crmkit, [peer], repeat=repeat, warmup=0, targets={peer.label: 2.0})
    for conn in opened:
        conn.close()
    check_same_rows(where.latest["crmkit"], where.latest["raw"], count)
    return row


def check_same_rows(crmkit_file: Path, raw_file: Path, count: int) -> None:
    """Both files hold the same rows, table by table; crmkit wrote what it was given."""
    ours, theirs = (
        raw_sqlite.table_digests(str(crmkit_file)),
        raw_sqlite.table_digests(str(raw_file)),
    )
    counts = {table: n for table, (n, _) in ours.items()}
    if counts != {table: n for table, (n, _) in theirs.items()}:
        raise AssertionError(f"row counts differ: crmkit {ours} raw {theirs}")
    if counts["doc_contact"] != count or counts["crm_events"] != count:
        raise AssertionError(f"expected {count} contacts and events, found {counts}")
    differ = sorted(table for table in ours if ours[table] != theirs[table])
    if differ:
        raise AssertionError(f"tables hold different rows: {', '.join(differ)}")


def get_row(pairs: Pairs, path: Path, gets: int, repeat: int) -> Row:
    """Get by id: distinct random ids; crmkit returns the domain object, raw a dict."""
    crm = open_crm(path)
    conn = raw_sqlite.connect(str(path))
    try:
        return compare_gets("sqlite", crm, conn.execute, raw_sqlite.GET_BODY, pairs, gets, repeat)
    finally:
        crm.close()
        conn.close()


def compare_gets(
    name: str, crm: Crm, execute: Any, get_body: str, pairs: Pairs, gets: int, repeat: int
) -> Row:
    """crmkit's ``uow.contacts.get`` against ``execute(get_body, (tenant, id))`` + ``json.loads``.

    Both read ``gets`` distinct random ids of ``pairs``; the row's target comes from
    `GET_TARGETS`.
    """
    ids = random.Random(7).sample([contact.id for contact, _ in pairs], gets)
    expected = {contact.id: contact for contact, _ in pairs}
    with crm.unit_of_work(PRINCIPAL) as uow:
        if uow.contacts.get(ids[0]) != expected[ids[0]]:
            raise AssertionError("crmkit did not read back the contact it wrote")

    def crmkit(_: object) -> None:
        with crm.unit_of_work(PRINCIPAL) as uow:
            get = uow.contacts.get
            for id in ids:
                get(id)

    def raw(_: object) -> None:
        loads = json.loads
        for id in ids:
            loads(execute(get_body, ("default", id)).fetchone()[0])

    driver = {"sqlite": "sqlite3", "postgres": "psycopg"}[name]
    peer = Side(f"raw {driver} select + json.loads", raw, gets)
    (row,) = compare(
        f"{name}: get by id, {gets:,} random",
        Side("crmkit", crmkit, gets),
        [peer],
        repeat=repeat,
        targets={peer.label: GET_TARGETS[name]},
    )
    return row


GET_TARGETS = {"sqlite": 2.5, "postgres": 1.5}
"""The ratio each store's get must stay at or under."""


def child_peak_mb(side: str, count: int) -> float:
    """Peak resident memory of a fresh process that builds ``count`` pairs and saves them."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak", side, str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["peak_mb"])


def _peak_child(side: str, count: int) -> None:
    pairs = build_pairs(count)
    with files() as where:
        path = where.fresh(side)
        if side == "crmkit":
            crm = open_crm(path)
            crmkit_save(crm, pairs)
            crm.close()
        else:
            conn = raw_sqlite.copy_schema(str(where.template), str(path))
            raw_sqlite.save(conn, make_converter(), SequentialIds("e"), "default", pairs)
            conn.close()
    print(json.dumps({"peak_mb": peak_mb()}))


def run(quick: bool) -> list[Row]:
    """Every row of the suite."""
    count, gets, repeat = (2_000, 500, 2) if quick else (100_000, 10_000, 3)
    pairs = build_pairs(count)
    with files() as where:
        bulk = bulk_row(pairs, where, repeat)
        get = get_row(pairs, where.latest["crmkit"], gets, repeat * 2 + 1)
    bulk.peak_mb = child_peak_mb("crmkit", count)
    bulk.peer_peak_mb = child_peak_mb("raw", count)
    return [bulk, get]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peak" and sys.argv[2] in ("crmkit", "raw"):
        _peak_child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: sqlite_suite.py --peak crmkit|raw COUNT (run benchmarks/run.py instead)")
