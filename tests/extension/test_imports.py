"""CSV imports on the store: batches, dry run, duplicates, and resuming after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.app.records import ACCOUNTS, CONTACTS, LEADS
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.ports.storage import DocumentStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"admin"})
HEADER = "first_name,last_name,email,city,street,country,tags\n"


def _contacts(n: int, bad: frozenset[int] = frozenset()) -> bytes:
    lines = [HEADER]
    for i in range(n):
        email = "not-an-email" if i in bad else f"p{i}@example.com"
        lines.append(f"Kim,Person{i},{email},Berlin,Main {i},DE,a;b\n")
    return "".join(lines).encode()


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    clock = FakeClock(T0, tick=timedelta(milliseconds=1))
    return Crm(any_store, clock=clock, ids=SequentialIds("r"))


def _count(crm: Crm, rtype: object) -> int:
    with crm.unit_of_work(ANNA) as uow:
        return sum(1 for _ in uow.find_ids(rtype))  # type: ignore[arg-type]


def test_an_import_writes_good_rows_in_batches_and_reports_bad_ones(crm: Crm) -> None:
    seen: list[int] = []
    report = crm.imports.run(
        ANNA, "contact", _contacts(25, bad=frozenset({3, 17})), batch=10, progress=seen.append
    )
    assert (report.rows, report.created, report.rejected) == (25, 23, 2)
    assert [(e.row, e.column) for e in report.errors] == [(5, "email"), (19, "email")]
    assert seen == [10, 20, 25]
    assert _count(crm, CONTACTS) == 23


def test_a_dry_run_writes_nothing(crm: Crm) -> None:
    report = crm.imports.run(ANNA, "contact", _contacts(5, bad=frozenset({1})), dry_run=True)
    assert (report.dry_run, report.rows, report.rejected, report.created) == (True, 5, 1, 0)
    assert [e.row for e in report.errors] == [3]
    assert _count(crm, CONTACTS) == 0


def test_an_import_resumes_after_a_crash_with_every_row_written_once(crm: Crm) -> None:
    class Crash(Exception):
        pass

    def crash_at(rows: int) -> None:
        if rows == 20:
            raise Crash

    data = _contacts(35)
    with pytest.raises(Crash):
        crm.imports.run(ANNA, "contact", data, import_id="imp-1", batch=10, progress=crash_at)
    assert _count(crm, CONTACTS) == 20  # two batches committed before the crash
    report = crm.imports.run(ANNA, "contact", data, import_id="imp-1", batch=10)
    assert (report.resumed_after, report.rows, report.created) == (21, 15, 35)
    with crm.unit_of_work(ANNA) as uow:
        names = sorted(c.last_name for c in uow.find_all(CONTACTS))
    assert names == sorted(f"Person{i}" for i in range(35))  # each once


def test_duplicates_are_skipped_updated_or_created(crm: Crm) -> None:
    crm.imports.run(ANNA, "account", b"name,industry\nACME,\nOther,Retail\n")
    again = b"name,industry,website\nacme,Manufacturing,https://acme.example\n"
    assert crm.imports.run(ANNA, "account", again).skipped == 1
    assert crm.imports.run(ANNA, "account", again, on_duplicate="update").updated == 1
    with crm.unit_of_work(ANNA) as uow:
        acme = [a for a in uow.find_all(ACCOUNTS) if a.name == "ACME"]
    assert [(a.industry, a.website) for a in acme] == [("Manufacturing", "https://acme.example")]
    assert crm.imports.run(ANNA, "account", again, on_duplicate="create").created == 1
    assert _count(crm, ACCOUNTS) == 3


def test_leads_and_bad_arguments(crm: Crm) -> None:
    report = crm.imports.run(ANNA, "lead", b"last_name,email,company\nLee,lee@x.com,ACME\n")
    assert report.created == 1
    assert _count(crm, LEADS) == 1
    with pytest.raises(ValidationError, match="kind"):
        crm.imports.run(ANNA, "case", b"a\n1\n")
    with pytest.raises(ValidationError, match="on_duplicate"):
        crm.imports.run(ANNA, "lead", b"last_name\nLee\n", on_duplicate="update")
    with pytest.raises(ValidationError, match="import_id"):
        crm.imports.run(ANNA, "account", b"name\nX\n", import_id=report.import_id)
