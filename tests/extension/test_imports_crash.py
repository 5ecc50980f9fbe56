"""An import killed with SIGKILL in another process resumes with every row written once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crmkit import Crm, Principal
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.records import CONTACTS

ADMIN = Principal("u-admin", roles={"admin"})
ROWS = 2_000

# The child imports in batches of 100; once three batches are in it leaves a marker and
# slows down, so that the test's SIGKILL lands in the middle of the file.
CHILD = """
import sys, time
from pathlib import Path
from crmkit import Crm, Principal
from crmkit.adapters.sqlite import SqliteStore

db, csv, marker = sys.argv[1:]

def progress(rows: int) -> None:
    if rows >= 300:
        Path(marker).write_text(str(rows))
        time.sleep(0.5)

crm = Crm(SqliteStore(db))
with open(csv, "rb") as stream:
    crm.imports.run(Principal("u-admin", roles={"admin"}), "contact", stream,
                    import_id="imp-killed", batch=100, progress=progress)
Path(marker + ".done").touch()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_import_resumes_with_every_row_written_exactly_once(tmp_path: Path) -> None:
    db, csv, marker = tmp_path / "crm.db", tmp_path / "contacts.csv", tmp_path / "marker"
    lines = (f"Person{i},p{i}@example.com,Main {i},Berlin,DE\n" for i in range(ROWS))
    csv.write_text("last_name,email,street,city,country\n" + "".join(lines))
    Crm(SqliteStore(db)).close()  # the schema exists before the child starts
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(csv), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not Path(f"{marker}.done").exists()

    crm = Crm(SqliteStore(db))
    try:
        with crm.unit_of_work(ADMIN) as uow:
            written = sum(1 for _ in uow.find_ids(CONTACTS))
        assert 300 <= written < ROWS  # killed part-way, after whole batches only
        report = crm.imports.run(ADMIN, "contact", csv.read_bytes(), import_id="imp-killed")
        assert report.resumed_after == written + 1  # the file line of the last row committed
        assert (report.rows, report.created, report.rejected) == (ROWS - written, ROWS, 0)
        with crm.unit_of_work(ADMIN) as uow:
            names = [c.last_name for c in uow.find_all(CONTACTS, keep=False)]
        assert sorted(names) == sorted(f"Person{i}" for i in range(ROWS))  # each exactly once
    finally:
        crm.close()
