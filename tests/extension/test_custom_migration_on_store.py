"""Migrating custom field specs on stores that hold data, and reindexing through the port."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.app.records import CONTACTS, LEADS
from crmkit.extension.custom_fields import CustomFields, FieldSpec
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.custom import CustomValues
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Eq, Keyset, Query
from crmkit.ports.storage import DocumentStore
from crmkit.sales.lead import Lead

REP = Principal("rep")
NOW = datetime(2025, 3, 1, 9, tzinfo=UTC)
CI = os.environ.get("CI") == "true"
RECORDS = 10_000  # SQLite; PostgreSQL takes fewer under CI (round trips make it slower)
PG_RECORDS_IN_CI = 3_000
TIERS = ("gold", "silver", "bronze")

BEFORE = CustomFields(
    [
        FieldSpec("contact", "tier", "choice", choices=TIERS),
        FieldSpec("contact", "legacy_code", "text", indexed=True),
    ]
)
AFTER = CustomFields(
    [
        FieldSpec("contact", "tier", "choice", choices=TIERS, indexed=True),  # newly indexed
        FieldSpec("contact", "legacy_code", "text", indexed=True, retired=True),  # retired
        FieldSpec("contact", "region", "text", indexed=True),  # new
    ]
)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    """One fresh store that the test opens twice (before and after the spec change)."""
    if request.param == "sqlite":
        yield SqliteStore(tmp_path / "crm.db")
    else:
        from crmkit.adapters.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_schemas")())
        yield store
        store.close()


def snapshot(store: DocumentStore, kind: str) -> dict[str, tuple[int, str]]:
    """Every document of ``kind``: id to (version, body)."""
    found: dict[str, tuple[int, str]] = {}
    after: Keyset | None = None
    while docs := store.query("default", Query(kind, limit=5_000, after=after)):
        found.update((doc.id, (doc.version, doc.body)) for doc in docs)
        after = Keyset((), docs[-1].id)
    return found


def event_count(store: DocumentStore) -> int:
    count = position = 0
    while events := store.read_events("default", after=position, limit=5_000):
        count += len(events)
        position = events[-1].position
    return count


def test_a_store_of_10k_records_takes_a_new_indexed_field_and_a_retired_one(
    store_url: DocumentStore,
) -> None:
    store = store_url
    records = PG_RECORDS_IN_CI if CI and type(store).__name__ == "PostgresStore" else RECORDS
    crm = Crm(store, clock=FixedClock(NOW), custom_fields=BEFORE)
    assert crm.migrate_custom_fields().reindex.read == {"contact": 0, "segment_profile": 0}
    for start in range(0, records, 1_000):
        with crm.unit_of_work(REP) as uow:
            for i in range(start, start + 1_000):
                uow.contacts.create(
                    f"Person {i}", custom={"tier": TIERS[i % 3], "legacy_code": f"L{i}"}
                )
    before = snapshot(store, "contact")
    events_before = event_count(store)

    crm = Crm(store, clock=FixedClock(NOW), custom_fields=AFTER)
    report = crm.migrate_custom_fields(batch=1_000)

    assert [spec.name for spec in report.plan.made_indexed] == ["tier"]
    assert [spec.name for spec in report.plan.retired] == ["legacy_code"]
    # Segment profiles carry the contacts' indexed custom fields too.
    assert report.reindex.read == {"contact": records, "segment_profile": records}
    assert report.reindex.rewritten == {"contact": records, "segment_profile": records}
    assert snapshot(store, "contact") == before  # no record lost, bodies and versions kept
    assert event_count(store) == events_before
    with crm.unit_of_work(REP) as uow:
        gold = list(uow.find_ids(CONTACTS, (Eq("cf_tier", "gold"),)))
        assert len(gold) == len(range(0, records, 3))
        with pytest.raises(ValidationError, match="cf_legacy_code"):  # no longer indexed
            list(uow.find_ids(CONTACTS, (Eq("cf_legacy_code", "L3"),)))
        one = uow.contacts.get(gold[0])
        assert one.custom["legacy_code"].startswith("L")  # a retired value stays readable
        with pytest.raises(ValidationError, match="retired"):
            uow.contacts.set_custom(one.id, {"legacy_code": "L-new"})
        changed = uow.contacts.set_custom(one.id, {"region": "north"})
        assert changed.custom["legacy_code"] == one.custom["legacy_code"]
    with crm.unit_of_work(REP) as uow:
        assert list(uow.find_ids(CONTACTS, (Eq("cf_region", "north"),))) == [one.id]
    assert crm.migrate_custom_fields().plan.is_empty  # the store keeps the specs it moved to


def test_a_change_that_would_lose_stored_values_is_refused(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "crm.db")
    Crm(store, custom_fields=BEFORE).migrate_custom_fields()
    narrower = CustomFields(
        [FieldSpec("contact", "tier", "choice", choices=("gold",)), BEFORE.specs[1]]
    )
    with pytest.raises(ValidationError, match=r"custom\.tier"):
        Crm(store, custom_fields=narrower).migrate_custom_fields()


def test_reindex_backfills_built_in_fields_and_changes_nothing_else(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "crm.db")
    crm = Crm(store, clock=FixedClock(NOW))
    with crm.unit_of_work(REP) as uow:
        lead = uow.leads.capture(last_name="Lovelace", company="Analytical", idempotency_key="k1")
    doc = store.get("default", "lead", lead.id)
    # A store made before crmkit indexed leads by status: the column was added empty.
    with sqlite3.connect(tmp_path / "crm.db") as raw:
        raw.execute("UPDATE doc_lead SET status = NULL, _index = json_remove(_index, '$.status')")
    raw.close()
    with crm.unit_of_work(REP) as uow:
        assert list(uow.find_ids(LEADS, (Eq("status", "new"),))) == []
    seen: list[tuple[str, int]] = []
    report = crm.reindex(["lead"], progress=lambda kind, n: seen.append((kind, n)))
    assert report.rewritten == {"lead": 1}
    assert seen == [("lead", 1)]
    assert store.get("default", "lead", lead.id) == doc  # the create key is kept too
    with crm.unit_of_work(REP) as uow:
        assert list(uow.find_ids(LEADS, (Eq("status", "new"),))) == [lead.id]
    assert crm.reindex(["lead"]).rewritten == {"lead": 0}
    with pytest.raises(ValidationError, match="kinds"):
        crm.reindex(["nonsense"])


def test_custom_values_replay_and_are_erased_with_the_person() -> None:
    fields = CustomFields([FieldSpec("lead", "notes", "text"), FieldSpec("contact", "pet", "text")])
    crm = Crm(MemoryStore(), clock=FixedClock(NOW), custom_fields=fields)
    with crm.unit_of_work(REP) as uow:
        lead = uow.leads.capture(last_name="Lovelace", custom={"notes": "met at the fair"})
        lead = uow.leads.set_custom(lead.id, {"notes": "called back"})
        contact = uow.contacts.create("Byron", custom={"pet": "Boatswain"})
    events = [event for _, event in crm.events(stream_id=lead.id)]
    assert Lead.replay(events) == lead
    assert "called back" not in repr(events[-1])  # custom values are personal: not in reprs
    crm.privacy.erase(REP, contact.id)
    with crm.unit_of_work(REP) as uow:
        assert uow.contacts.get(contact.id).custom == CustomValues()
        assert uow.leads.get(lead.id).custom["notes"] == "called back"


def test_records_stored_before_custom_values_existed_load_with_none(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "crm.db")
    crm = Crm(store, clock=FixedClock(NOW))
    with crm.unit_of_work(REP) as uow:
        contact = uow.contacts.create("Lovelace", tags=["vip"])
    with sqlite3.connect(tmp_path / "crm.db") as raw:  # as an older crmkit wrote it
        raw.execute("UPDATE doc_contact SET body = json_remove(body, '$.custom')")
    raw.close()
    with crm.unit_of_work(REP) as uow:
        loaded = uow.contacts.get(contact.id)
    assert loaded.custom == CustomValues()
    assert loaded.tags == ("vip",)
