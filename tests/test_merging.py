"""Merging duplicate contacts and accounts through the unit of work, and undoing merges."""

from datetime import UTC, datetime, timedelta

import pytest

import crmkit
from crmkit import Crm, Email, FakeClock, InvalidTransition, Phone, Principal, RecordRef
from crmkit.app.records import ACTIVITIES
from crmkit.kernel.ids import SequentialIds
from crmkit.parties.merge_record import MergeStatus
from crmkit.parties.party import PartyStatus
from crmkit.ports.storage import DocumentStore
from crmkit.testing.faults import every_step_is_atomic, snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"sales_manager"})


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0, tick=timedelta(minutes=1)), ids=SequentialIds("r"))


def _two_annas(crm: Crm) -> tuple[str, str, str]:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
        first = uow.contacts.create(
            "Berg",
            first_name="Anna",
            emails=[Email("anna.berg@acme.example")],
            account_id=acme.id,
        )
        second = uow.contacts.create(
            "berg ",
            first_name="anna",
            title="CFO",
            emails=[Email("Anna.Berg@ACME.example")],
            phones=[Phone("+4930123456")],
        )
        uow.activities.log("call", "Pricing call", [RecordRef("contact", second.id)])
        uow.contacts.record_consent(
            second.id, "email", "marketing", granted=False, source="unsubscribe link"
        )
    return acme.id, first.id, second.id


def test_duplicates_are_found_through_the_index_and_by_a_scan(crm: Crm) -> None:
    _, first, second = _two_annas(crm)
    with crm.unit_of_work(ANNA) as uow:
        found = uow.duplicates.scan("contact")
        candidate = uow.duplicates._candidate("contact", uow.contacts.get(first))
        matches = uow.duplicates.matches("contact", candidate)
    assert {frozenset(c) for c in found.clusters} == {frozenset({first, second})}
    assert [m for m in matches if {m.a_id, m.b_id} == {first, second}]


def test_a_merge_keeps_one_survivor_moves_history_and_records_who_and_when(crm: Crm) -> None:
    acme, first, second = _two_annas(crm)
    with crm.unit_of_work(ANNA) as uow:
        record = uow.duplicates.merge("contact", [first, second], survivor_id=first)
    with crm.unit_of_work(ANNA) as uow:
        survivor = uow.contacts.get(first)
        duplicate = uow.contacts.get(second)
        moved = uow.find(ACTIVITIES, (crmkit.Eq("links", first),)).items
    assert (record.merged_by, record.merged_at.tzinfo is not None) == ("u-anna", True)
    assert record.duplicate_ids == (second,)
    assert survivor.title == "CFO"
    assert survivor.phones == (Phone("+4930123456"),)
    assert survivor.consent_for("email", "marketing").value == "withdrawn"
    assert (duplicate.status, duplicate.merged_into) == (PartyStatus.ARCHIVED, first)
    assert [a.subject for a in moved] == ["Pricing call"]
    assert {r.kind for r in record.relinks} == {"activity"}
    history = [e.summary for e in crm.timeline(first, ANNA, limit=100)]
    assert any("Pricing call" in line for line in history)
    assert any("opted out" in line for line in history)  # the duplicate's own history
    assert any("merged 1 duplicate" in line for line in history)
    assert acme in survivor.account_ids


def test_undo_restores_every_record_as_it_was(crm: Crm) -> None:
    _, first, second = _two_annas(crm)
    with crm.unit_of_work(ANNA) as uow:
        before = {id: uow.contacts.get(id) for id in (first, second)}
        links = {a.id: a.links for a in uow.find(ACTIVITIES).items}
    with crm.unit_of_work(ANNA) as uow:
        record = uow.duplicates.merge("contact", [first, second], survivor_id=first)
    with crm.unit_of_work(ANNA) as uow:
        undone = uow.duplicates.undo(record.id)
    assert (undone.status, undone.undone_by) == (MergeStatus.UNDONE, "u-anna")
    with crm.unit_of_work(ANNA) as uow:
        for id, was in before.items():
            now = uow.contacts.get(id)
            fields = ("title", "phones", "emails", "consent", "accounts", "status", "merged_into")
            assert [getattr(now, f) for f in fields] == [getattr(was, f) for f in fields]
        assert {a.id: a.links for a in uow.find(ACTIVITIES).items} == links
    with crm.unit_of_work(ANNA) as uow, pytest.raises(InvalidTransition, match="undo"):
        uow.duplicates.undo(record.id)


def test_undo_is_refused_once_the_survivor_changed_again(crm: Crm) -> None:
    _, first, second = _two_annas(crm)
    with crm.unit_of_work(ANNA) as uow:
        record = uow.duplicates.merge("contact", [first, second], survivor_id=first)
    with crm.unit_of_work(ANNA) as uow:
        uow.contacts.tag(first, "vip")
    with crm.unit_of_work(ANNA) as uow, pytest.raises(InvalidTransition, match="changed since"):
        uow.duplicates.undo(record.id)


def test_merging_accounts_moves_their_contacts_roles_and_undo_moves_them_back(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH", website="https://acme.example")
        acme2 = uow.accounts.create("Acme", industry="Machinery")
        bob = uow.contacts.create("Bauer", account_id=acme2.id, role="buyer")
    with crm.unit_of_work(ANNA) as uow:
        record = uow.duplicates.merge("account", [acme.id, acme2.id])
    assert record.survivor_id == acme.id  # most filled fields first, then the oldest
    with crm.unit_of_work(ANNA) as uow:
        assert uow.contacts.get(bob.id).account_ids == (acme.id,)
        assert uow.accounts.get(acme.id).industry == "Machinery"
        uow.duplicates.undo(record.id)
    with crm.unit_of_work(ANNA) as uow:
        assert uow.contacts.get(bob.id).account_ids == (acme2.id,)
        assert uow.accounts.get(acme.id).industry is None


def test_a_merge_and_its_undo_are_atomic_at_every_step(crm: Crm) -> None:
    _, first, second = _two_annas(crm)
    steps = every_step_is_atomic(
        crm, lambda uow: uow.duplicates.merge("contact", [first, second], survivor_id=first)
    )
    assert steps >= 4  # the survivor, the duplicate, the activity, the record
    with crm.unit_of_work(ANNA) as uow:
        record_id = uow.find(crmkit.app.records.MERGES).items[0].id
    assert every_step_is_atomic(crm, lambda uow: uow.duplicates.undo(record_id)) >= 4
    assert snapshot(crm)["merge"][0].version == 2


def test_bad_merges_are_refused_with_crmkit_errors(crm: Crm) -> None:
    _, first, second = _two_annas(crm)
    with crm.unit_of_work(ANNA) as uow:
        with pytest.raises(crmkit.ValidationError, match="ids"):
            uow.duplicates.merge("contact", [first, first])
        with pytest.raises(crmkit.ValidationError, match="survivor_id"):
            uow.duplicates.merge("contact", [first, second], survivor_id="r-999")
        with pytest.raises(crmkit.ValidationError, match="kind"):
            uow.duplicates.merge("widget", [first, second])
        with pytest.raises(crmkit.NotFound):
            uow.duplicates.merge("contact", [first, "r-999"])
