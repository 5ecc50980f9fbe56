"""The audit trail on real stores: written with every change, sealed, verified, and any edit
by hand in the database found and named."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmkit import Crm, Email, FakeClock, Principal
from crmkit.adapters.sqlite import SqliteStore
from crmkit.audit.entry import AuditKey
from crmkit.kernel.errors import PermissionDenied
from crmkit.kernel.ids import SequentialIds
from crmkit.ports.storage import DocumentStore
from crmkit.security.defaults import default_policy
from crmkit.testing.faults import every_step_is_atomic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = AuditKey("k1", b"0123456789abcdef-secret")
ANNA = Principal("anna", roles={"admin"})


def _crm(store: DocumentStore) -> Crm:
    return Crm(
        store,
        clock=FakeClock(T0, tick=timedelta(seconds=1)),
        ids=SequentialIds("r"),
        audit_key=KEY,
        access=default_policy(),
    )


def _story(crm: Crm) -> str:
    with crm.unit_of_work(ANNA) as uow:
        contact = uow.contacts.create("Berg", first_name="Bob", emails=[Email("bob@example.com")])
    with crm.unit_of_work(Principal("max", roles={"admin"})) as uow:
        uow.contacts.update(contact.id, title="Buyer")
        uow.leads.capture(last_name="Lee", email="lee@example.com")
    return contact.id


def test_changes_are_recorded_sealed_and_verified(any_store: DocumentStore) -> None:
    crm = _crm(any_store)
    contact_id = _story(crm)
    assert crm.audit.seal() == 3
    assert crm.audit.seal() == 0
    report = crm.audit.verify(ANNA)
    assert (report.ok, report.checked) == (True, 3)
    trail = crm.audit.trail(ANNA, record_id=contact_id)
    assert [(s.entry.command, s.entry.principal_id) for s in trail] == [
        ("contact_changed", "max"),
        ("contact_created", "anna"),
    ]
    assert trail.items[0].entry.fields == ("title",)
    changes = crm.audit.changes(ANNA, trail.items[0].entry.id)
    assert changes is not None
    assert [(c.field, c.before, c.after) for c in changes] == [("title", None, "Buyer")]
    by_max = crm.audit.trail(ANNA, principal_id="max")
    assert {s.entry.record_kind for s in by_max} == {"contact", "lead"}
    later = crm.audit.trail(ANNA, since=T0 + timedelta(seconds=5))
    assert len(later) < 3


def test_reading_the_trail_needs_a_grant(any_store: DocumentStore) -> None:
    crm = _crm(any_store)
    _story(crm)
    crm.audit.seal()
    with pytest.raises(PermissionDenied, match="audit"):
        crm.audit.verify(Principal("bo", roles={"sales_rep"}))
    with pytest.raises(PermissionDenied):
        crm.audit.trail(Principal("ro", roles={"read_only"}))


def test_a_failed_unit_of_work_leaves_no_audit_entry(any_store: DocumentStore) -> None:
    crm = _crm(any_store)
    contact_id = _story(crm)
    steps = every_step_is_atomic(crm, lambda uow: uow.contacts.update(contact_id, title="CEO"))
    assert steps >= 1
    crm.audit.seal()
    assert crm.audit.verify(ANNA).checked == 4


SECOND = "WHERE sequence = 2"


def _edit(path: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(path) as conn:
        assert conn.execute(sql, args).rowcount >= 1


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (f"UPDATE doc_audit SET body = replace(body, '\"max\"', '\"eve\"') {SECOND}", "hash"),
        (f"UPDATE doc_audit SET body = replace(body, '\"title\"', '\"name\"') {SECOND}", "hash"),
        ("UPDATE doc_audit SET body = replace(body, 'contact_changed', 'contact_created')"
         " WHERE sequence = 2", "hash"),
        ("DELETE FROM doc_audit WHERE sequence = 2", "sequence"),
        ("UPDATE doc_audit_payload SET body = replace(body, 'Buyer', 'Owner')", "payload"),
        ("DELETE FROM doc_audit_payload WHERE id IN"
         " (SELECT json_extract(body, '$.entry.id') FROM doc_audit WHERE sequence = 2)", "payload"),
    ],
)  # fmt: skip
def test_an_edit_by_hand_is_found_and_named(tmp_path: Path, sql: str, reason: str) -> None:
    path = tmp_path / "crm.db"
    crm = _crm(SqliteStore(str(path)))
    _story(crm)
    crm.audit.seal()
    crm.store.close()
    _edit(path, sql)
    report = _crm(SqliteStore(str(path))).audit.verify(ANNA)
    assert not report.ok
    assert report.first_bad == 2
    assert report.reason is not None
    assert reason in report.reason
