"""Privacy: the consent ledger, subject-access export, erasure across every store, retention."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmkit import Crm, Email, FakeClock, Principal, RecordRef
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.marketing_records import PROFILES
from crmkit.app.records import CONTACTS, LEADS
from crmkit.audit.entry import AuditKey
from crmkit.kernel.errors import PermissionDenied
from crmkit.kernel.ids import SequentialIds
from crmkit.ports.query import Eq
from crmkit.ports.storage import DocumentStore
from crmkit.security.defaults import default_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = AuditKey("k1", b"0123456789abcdef-secret")
DPO = Principal("dpo", roles={"admin"})
# Values that must leave every store: each appears only in the subject's data.
SECRETS = ("Quixotica", "Zebulonsky", "quixotica.z@example.com", "Meet at the Zebra Cafe")


def _crm(store: DocumentStore, clock: FakeClock | None = None) -> Crm:
    return Crm(
        store,
        clock=clock or FakeClock(T0, tick=timedelta(seconds=1)),
        ids=SequentialIds("r"),
        audit_key=KEY,
        access=default_policy(),
    )


def _subject(crm: Crm) -> str:
    with crm.unit_of_work(DPO) as uow:
        account = uow.accounts.create("ACME GmbH")
        other = uow.contacts.create("Other", emails=[Email("other@example.com")])
        contact = uow.contacts.create(
            "Zebulonsky", first_name="Quixotica", emails=[Email("quixotica.z@example.com")],
            account_id=account.id,
        )  # fmt: skip
        uow.contacts.record_consent(contact.id, "email", "marketing", granted=True, source="form")
        uow.activities.log("note", SECRETS[3], [RecordRef("contact", contact.id)])
        uow.notifications.send(
            channel="email", purpose="service", key="k-1", party_id=contact.id,
            subject="Hello", text=f"Dear {SECRETS[0]}",
        )  # fmt: skip
        uow.activities.log("note", "About someone else", [RecordRef("contact", other.id)])
    with crm.unit_of_work(DPO) as uow:
        uow.contacts.update(contact.id, title="Buyer")
    crm.audit.seal()
    return contact.id


def test_the_export_holds_everything_about_the_contact(any_store: DocumentStore) -> None:
    crm = _crm(any_store)
    contact_id = _subject(crm)
    export = crm.privacy.export(DPO, contact_id)
    text = json.dumps(export)
    assert all(secret in text for secret in SECRETS)
    assert "About someone else" not in text
    assert export["records"]["contact"][0]["last_name"] == "Zebulonsky"
    assert len(export["messages"]) == 1
    assert {e["entry"]["record_id"] for e in export["audit"]} >= {contact_id}
    ids = [e["entry"]["id"] for e in export["audit"]]
    assert len(ids) == len(set(ids))
    ledger = crm.privacy.consent_ledger(DPO, contact_id)
    assert [(c.channel.value, c.purpose.value, c.granted) for c in ledger] == [
        ("email", "marketing", True)
    ]
    with pytest.raises(PermissionDenied):
        crm.privacy.export(Principal("bo", roles={"sales_rep"}), contact_id)


def test_erasure_leaves_no_personal_value_and_the_chain_verifies(any_store: DocumentStore) -> None:
    crm = _crm(any_store)
    contact_id = _subject(crm)
    erasure = crm.privacy.erase(DPO, contact_id)
    assert ("contact", contact_id) in erasure.records
    assert erasure.events >= 1
    assert erasure.audit_payloads >= 2
    text = json.dumps(crm.privacy.export(DPO, contact_id))
    assert not any(secret in text for secret in SECRETS)
    events = json.dumps([crm.converter.unstructure(e) for _, e in crm.events(limit=10_000)])
    assert not any(secret in events for secret in SECRETS)
    crm.audit.seal()
    report = crm.audit.verify(DPO)
    assert report.ok, report.reason
    assert report.redacted
    with crm.unit_of_work(DPO) as uow:
        contact = uow.get(CONTACTS, contact_id)
        assert contact.emails == ()
        assert uow.get_or_none(PROFILES, contact_id) is None
        (other,) = uow.contacts.find(Eq("name", "other"))
        assert "About someone else" in json.dumps([e.summary for e in crm.timeline(other.id, DPO)])


def test_the_sqlite_file_holds_no_byte_of_an_erased_contact(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    crm = _crm(SqliteStore(str(path)))
    contact_id = _subject(crm)
    crm.privacy.erase(DPO, contact_id)
    crm.audit.seal()
    assert crm.audit.verify(DPO).ok
    crm.store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("crm.db"))
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
        assert secret.lower().encode() not in raw, secret
    assert b"About someone else" in raw  # the others' data is still there


def test_retention_erases_stale_leads_only(any_store: DocumentStore) -> None:
    clock = FakeClock(T0)
    crm = _crm(any_store, clock)
    with crm.unit_of_work(DPO) as uow:
        old = uow.leads.capture(last_name="Oldlead", email="old@example.com")
    clock.advance(timedelta(days=400))
    with crm.unit_of_work(DPO) as uow:
        fresh = uow.leads.capture(last_name="Freshlead", email="fresh@example.com")
    erasure = crm.privacy.retain(DPO, inactive_for=timedelta(days=365))
    assert erasure.records == (("lead", old.id),)
    with crm.unit_of_work(DPO) as uow:
        erased = uow.get(LEADS, old.id)
        assert (erased.last_name, erased.email, erased.version) == (None, None, 2)
        assert uow.get(LEADS, fresh.id).last_name == "Freshlead"
    assert crm.privacy.retain(DPO, inactive_for=timedelta(days=365)).records == ()


def test_a_postgresql_dump_holds_no_value_of_an_erased_contact(
    postgres_url: str, postgres_schemas: Callable[[], str]
) -> None:
    from crmkit.adapters.postgres import PostgresStore

    conninfo = postgres_schemas()
    schema = conninfo.split("search_path=")[1].split()[0].strip("'\"")
    crm = _crm(PostgresStore(conninfo))
    contact_id = _subject(crm)
    crm.privacy.erase(DPO, contact_id)
    crm.audit.seal()
    assert crm.audit.verify(DPO).ok
    crm.store.close()
    dump = _pg_dump(postgres_url, schema)
    assert "About someone else" in dump  # the dump holds the schema's data
    for secret in SECRETS:
        assert secret not in dump, secret


def _pg_dump(url: str, schema: str) -> str:
    candidates = [shutil.which("pg_dump"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))]
    binary = next((c for c in reversed(candidates) if c), None)
    if binary is None:
        pytest.skip("pg_dump is not installed")
    done = subprocess.run(
        [binary, "--data-only", "--schema", schema, url],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return done.stdout


def test_reprs_leave_personal_values_out(any_store: DocumentStore) -> None:
    """A host that logs a record or an event logs no personal value."""
    crm = _crm(any_store)
    contact_id = _subject(crm)
    with crm.unit_of_work(DPO) as uow:
        lead = uow.leads.capture(first_name=SECRETS[0], last_name=SECRETS[1], email=SECRETS[2])
        shown = [repr(uow.contacts.get(contact_id)), repr(lead)]
    shown += [repr(event) for _, event in crm.events(limit=10_000)]
    shown += [repr(entry) for entry in crm.timeline(contact_id, DPO, limit=50)]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text, text
