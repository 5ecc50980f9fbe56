"""Imports of real-world files: planted errors in a dry run, activities, encodings, delimiters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.activity import ActivityStatus, RecordRef
from crmkit.adapters.memory import MemoryStore
from crmkit.app.import_records import IMPORT_RUNS
from crmkit.app.imports import RECORD_TYPES
from crmkit.app.records import ACTIVITIES, CONTACTS
from crmkit.extension.csv_format import EncodingError
from crmkit.kernel.ids import SequentialIds

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal("u-admin", roles={"admin"})


@pytest.fixture
def crm() -> Crm:
    return Crm(
        MemoryStore(), clock=FakeClock(T0, tick=timedelta(seconds=1)), ids=SequentialIds("r")
    )


def _documents(crm: Crm) -> int:
    with crm.unit_of_work(ADMIN) as uow:
        kinds = [*RECORD_TYPES.values(), IMPORT_RUNS]
        return sum(1 for rtype in kinds for _ in uow.find_ids(rtype))


def _seed(crm: Crm) -> None:
    with crm.unit_of_work(ADMIN) as uow:
        uow.contacts.create("Berg")  # r-000001
        uow.accounts.create("ACME")  # r-000002


# --- dry runs of files with planted errors -----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        (
            "contact",
            "planted_contacts.csv",
            [
                (3, "email", None, "must have a valid domain with a dot"),  # bad email
                (4, "last_name", None, "is required"),  # missing required
                (5, "time_zone", "Mars/Base", "must be a known IANA time zone name"),
                (6, "country", "Norway", "must be an ISO 3166-1 alpha-2 code"),
            ],
        ),
        (
            "activity",
            "planted_activities.csv",
            [
                (3, "kind", "fax", "must be one of 'task', 'call', 'meeting', 'note', 'email',"
                 " 'chat', 'social'"),  # unknown choice
                (4, "occurred_at", "2026-02-30T10:00:00+00:00",
                 "must be an ISO date and time with offset"),  # bad date
                (5, "subject", None, "is required"),  # missing required (personal: no value)
                (6, "outcome", "held", "must be one of connected, no_answer, voicemail, busy,"
                 " rejected, wrong_number, failed for a call"),
                (7, "status", "maybe", "must be one of 'planned', 'done', 'cancelled'"),
                (8, "occurred_at", "2026-03-09T10:00:00",
                 "must have a UTC offset, for example +00:00 or Z"),
            ],
        ),
    ],
)  # fmt: skip
def test_a_dry_run_reports_every_planted_error_and_writes_nothing(
    crm: Crm, kind: str, name: str, expected: list[tuple[int, str, str | None, str]]
) -> None:
    _seed(crm)
    before = _documents(crm)
    report = crm.imports.run(ADMIN, kind, (DATA / name).read_bytes(), dry_run=True)
    assert [(e.row, e.column, e.value, e.rule) for e in report.errors] == expected
    rows = (DATA / name).read_bytes().count(b"\n") - 1
    assert (report.rows, report.rejected, report.created) == (rows, len(expected), 0)
    assert _documents(crm) == before == 2


# --- activities ----------------------------------------------------------------------------


def test_activities_import_done_planned_and_cancelled_with_their_links(crm: Crm) -> None:
    _seed(crm)
    data = (
        b"id,kind,subject,status,occurred_at,links,direction,duration_minutes,outcome,body\n"
        b"t-1,call,Kick-off,done,2026-03-02T09:00:00+00:00,contact:r-000001,outbound,25,connected,"
        b'"two\nlines"\n'
        b"t-2,Meeting,Visit,planned,2026-03-09T10:00:00+01:00,account:r-000002;lead:l-9,,,,\n"
        b"t-3,task,Send offer,cancelled,2026-03-10T10:00:00Z,contact:r-000001,,,,\n"
        b"t-4,note,Lost,done,2026-03-02T09:00:00+00:00,contact:nobody,,,,\n"
        b",email,No id,done,2026-03-02T09:00:00+00:00,account:r-000002,inbound,,replied,\n"
    )
    report = crm.imports.run(ADMIN, "activity", data)
    assert (report.created, report.rejected) == (4, 1)
    assert [str(e) for e in report.errors] == ["row 6: no contact with id 'nobody'"]
    with crm.unit_of_work(ADMIN) as uow:
        call, visit, task = (uow.get(ACTIVITIES, i) for i in ("t-1", "t-2", "t-3"))
        (mail,) = [a for a in uow.find_all(ACTIVITIES) if a.id.startswith("r-")]
    assert (call.status, call.outcome, call.duration_minutes, call.body) == (
        ActivityStatus.DONE, "connected", 25, "two\nlines",
    )  # fmt: skip
    assert call.links == (RecordRef("contact", "r-000001"),)
    assert (visit.status, visit.occurred_at) == (
        ActivityStatus.PLANNED,
        datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
    )
    assert visit.links == (RecordRef("account", "r-000002"), RecordRef("lead", "l-9"))
    assert task.status is ActivityStatus.CANCELLED
    assert (mail.kind, mail.outcome) == ("email", "replied")
    again = crm.imports.run(ADMIN, "activity", data)  # every id exists now: skipped
    assert (again.created, again.skipped, again.rejected) == (1, 3, 1)


def test_a_planned_activity_refuses_what_only_done_ones_have(crm: Crm) -> None:
    data = (
        b"kind,subject,status,occurred_at,links,outcome\n"
        b"call,X,planned,2026-03-02T09:00Z,lead:l-1,busy\n"
    )
    (error,) = crm.imports.run(ADMIN, "activity", data, dry_run=True).errors
    assert (error.column, error.rule) == ("outcome", "is only for done activities, not planned")


# --- real-world files ----------------------------------------------------------------------


def _names(crm: Crm) -> list[str]:
    with crm.unit_of_work(ADMIN) as uow:
        return sorted(c.last_name for c in uow.find_all(CONTACTS))


def test_an_excel_file_with_a_bom_semicolons_and_a_quoted_newline(crm: Crm) -> None:
    data = (
        "\ufeffNachname;Vorname;E-Mail;Straße;Stadt;Land\r\n"
        'Müller;Jörg;jm@example.com;"Hauptstr. 1\r\nHinterhaus";Köln;DE\r\n'
        "Østergård;Åse;ase@example.com;;;\r\n"
    ).encode()
    mapping = {"Nachname": "last_name", "Vorname": "first_name", "Straße": "street"}
    report = crm.imports.run(
        ADMIN, "contact", data, mapping={**mapping, "Stadt": "city", "Land": "country"}
    )
    assert (report.created, report.errors) == (2, ())
    with crm.unit_of_work(ADMIN) as uow:
        (joerg,) = [c for c in uow.find_all(CONTACTS) if c.first_name == "Jörg"]
    assert joerg.addresses[0].lines == ("Hauptstr. 1", "Hinterhaus")


def test_a_tab_separated_file(crm: Crm) -> None:
    data = b"last_name\temail\ttags\nBerg\tb@example.com\tvip, north\nLund\t\t\n"
    assert crm.imports.run(ADMIN, "contact", data).created == 2
    assert _names(crm) == ["Berg", "Lund"]


def test_a_cp1252_file_is_refused_naming_the_byte_then_resumed_with_its_encoding(
    crm: Crm,
) -> None:
    lines = [f"Person{i},p{i}@example.com\r\n" for i in range(3_000)]
    lines[2_900] = "Dupré,dupre@example.com\r\n"  # é is byte 0xe9 in cp1252
    data = ("last_name,email\r\n" + "".join(lines)).encode("cp1252")
    assert data.index(b"\xe9") > 65_536  # in the second 64 KiB chunk the reader decodes
    with pytest.raises(EncodingError) as caught:
        crm.imports.run(ADMIN, "contact", data, import_id="imp-1", batch=500)
    error = caught.value
    assert (error.line, error.encoding) == (2_902, "utf-8")
    assert error.offset == data.index(b"\xe9")
    assert "byte 0xe9" in str(error)
    assert "encoding=" in str(error)
    # The first chunk holds about 2,180 rows: the four batches it completes are in.
    assert len(_names(crm)) == 2_000
    report = crm.imports.run(ADMIN, "contact", data, import_id="imp-1", encoding="cp1252")
    assert (report.resumed_after, report.created) == (2_001, 3_000)
    assert "Dupré" in _names(crm)
    assert len(set(_names(crm))) == 3_000
