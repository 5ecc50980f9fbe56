"""The unit of work on the in-memory store: atomic commits, rollback, conflicts, the timeline."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, strategies as st

import crmkit
from crmkit import (
    ConcurrencyConflict,
    ConsentStatus,
    Crm,
    CrmError,
    Email,
    Eq,
    FakeClock,
    InvalidTransition,
    NotFound,
    Principal,
    RecordRef,
    SequentialIds,
)
from crmkit.parties.party import PartyStatus
from crmkit.ports.query import Query

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = Principal("u-anna", roles={"sales_rep"})
KINDS = ("account", "contact", "activity", "timeline")


class Boom(Exception):
    """A failure in the host's own code, in the middle of a unit of work."""


def open_crm(tick: timedelta = timedelta(minutes=1)) -> Crm:
    return crmkit.open("memory://", clock=FakeClock(T0, tick=tick), ids=SequentialIds("r"))


def snapshot(crm: Crm) -> dict[str, Any]:
    """Everything the store holds for the tenant: documents of every kind and the event log."""
    state: dict[str, Any] = {
        kind: crm.store.query(crm.tenant, Query(kind, limit=10_000)) for kind in KINDS
    }
    state["events"] = crm.store.read_events(crm.tenant, limit=100_000)
    return state


def timeline(crm: Crm, record_id: str) -> list[str]:
    return [entry.summary for entry in crm.timeline(record_id, ANNA, limit=1000)]


@pytest.fixture
def crm() -> Crm:
    return open_crm()


def test_a_commit_writes_state_events_and_timeline_together(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME GmbH")
        bob = uow.contacts.create("Berg", first_name="Bob", account_id=acme.id, role="buyer")
        uow.contacts.record_consent(bob.id, "email", "marketing", granted=True, source="web")
        assert crm.store.get(crm.tenant, "contact", bob.id) is None  # nothing before commit
        assert crm.events() == []
    doc = crm.store.get(crm.tenant, "contact", bob.id)
    assert doc is not None
    assert doc.version == 3
    events = [(event.aggregate_id, event.version, event.event_type) for _, event in crm.events()]
    assert events == [
        (acme.id, 1, "account_created"),
        (bob.id, 1, "contact_created"),
        (bob.id, 2, "contact_linked"),
        (bob.id, 3, "consent_recorded"),
    ]
    assert all(event.actor == "u-anna" for _, event in crm.events())
    entries = snapshot(crm)["timeline"]
    assert len(entries) == len(events)
    with crm.unit_of_work(ANNA) as uow:
        loaded = uow.contacts.get(bob.id)
    assert loaded.version == 3
    assert loaded.account_ids == (acme.id,)


def test_an_exception_inside_the_block_leaves_the_store_exactly_as_before(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
        bob = uow.contacts.create("Berg", account_id=acme.id)
    before = snapshot(crm)

    def failing_unit() -> None:
        with crm.unit_of_work(ANNA) as uow:
            uow.accounts.update(acme.id, name="ACME AG")
            uow.contacts.tag(bob.id, "vip")
            uow.contacts.create("Prince")
            uow.activities.log("call", "Intro", [RecordRef("contact", bob.id)])
            raise Boom

    with pytest.raises(Boom):
        failing_unit()
    assert snapshot(crm) == before


def test_a_refused_command_midway_rolls_back_the_whole_unit(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
    before = snapshot(crm)

    def failing_unit() -> None:
        with crm.unit_of_work(ANNA) as uow:
            uow.accounts.archive(acme.id)
            uow.accounts.create("Globex")
            uow.accounts.archive(acme.id)  # already archived in this unit

    with pytest.raises(InvalidTransition):
        failing_unit()
    assert snapshot(crm) == before


def test_a_unit_of_work_commits_once(crm: Crm) -> None:
    uow = crm.unit_of_work(ANNA)
    uow.accounts.create("ACME")
    uow.commit()
    with pytest.raises(CrmError, match="already been committed"):
        uow.accounts.create("Globex")
    with pytest.raises(CrmError, match="already been committed"):
        uow.commit()
    assert len(crm.events()) == 1


def test_a_stale_concurrent_update_raises_concurrency_conflict(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        bob = uow.contacts.create("Berg")
    first, second = crm.unit_of_work(ANNA), crm.unit_of_work(Principal("u-carl"))
    first.contacts.get(bob.id)
    second.contacts.get(bob.id)
    with first:
        first.contacts.update(bob.id, title="CFO")
    before = snapshot(crm)
    with pytest.raises(ConcurrencyConflict) as info, second:
        second.contacts.update(bob.id, title="CEO")
    assert (info.value.kind, info.value.id, info.value.expected) == ("contact", bob.id, 1)
    assert snapshot(crm) == before
    with crm.unit_of_work(ANNA) as uow:
        assert uow.contacts.get(bob.id).title == "CFO"


def test_two_units_cannot_both_create_events_for_one_version(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
    first, second = crm.unit_of_work(ANNA), crm.unit_of_work(ANNA)
    second.accounts.get(acme.id)  # read before the first unit commits
    with first:
        first.accounts.tag(acme.id, "vip")
    with pytest.raises(ConcurrencyConflict), second:
        second.accounts.tag(acme.id, "key")
    assert [event.version for _, event in crm.events(stream_id=acme.id)] == [1, 2]


def test_not_found(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        bob = uow.contacts.create("Berg")
    cases = [
        (lambda uow: uow.contacts.get("nobody"), "contact", "nobody"),
        (lambda uow: uow.accounts.get(bob.id), "account", bob.id),  # right id, wrong kind
        (lambda uow: uow.contacts.link(bob.id, "a-404", "buyer"), "account", "a-404"),
        (lambda uow: uow.contacts.create("Prince", account_id="a-404"), "account", "a-404"),
        (lambda uow: uow.accounts.create("Sub", parent_id="a-404"), "account", "a-404"),
        (lambda uow: uow.activities.log("call", "x", [RecordRef("contact", "c-404")]),
         "contact", "c-404"),
        (lambda uow: uow.activities.complete("x-404"), "activity", "x-404"),
    ]  # fmt: skip
    before = snapshot(crm)
    for call, kind, id in cases:
        with pytest.raises(NotFound) as info, crm.unit_of_work(ANNA) as uow:
            call(uow)
        assert (info.value.kind, info.value.id) == (kind, id)
    assert snapshot(crm) == before


def test_archived_parties_leave_default_find_results(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
        uow.accounts.create("Globex")
        anna = uow.contacts.create("Berg", first_name="Anna", account_id=acme.id)
        uow.contacts.create("Prince", account_id=acme.id)
    with crm.unit_of_work(ANNA) as uow:
        uow.accounts.archive(acme.id)
        uow.contacts.archive(anna.id)
    with crm.unit_of_work(ANNA) as uow:
        assert [a.name for a in uow.accounts.find()] == ["Globex"]
        assert [a.name for a in uow.accounts.find(include_archived=True)] == ["ACME", "Globex"]
        assert [c.last_name for c in uow.contacts.find(Eq("account_ids", acme.id))] == ["Prince"]
        everyone = uow.contacts.find(Eq("account_ids", acme.id), include_archived=True)
        assert [c.last_name for c in everyone] == ["Berg", "Prince"]
        archived = uow.contacts.find(Eq("status", "archived"), include_archived=True)
        assert [c.id for c in archived] == [anna.id]
    with crm.unit_of_work(ANNA) as uow:
        uow.accounts.restore(acme.id)
    with crm.unit_of_work(ANNA) as uow:
        assert [a.name for a in uow.accounts.find()] == ["ACME", "Globex"]
        assert uow.accounts.get(acme.id).status is PartyStatus.ACTIVE


def test_consent_history_keeps_opt_in_then_opt_out(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        bob = uow.contacts.create("Berg", emails=[Email("bob@example.com")])
        uow.contacts.record_consent(bob.id, "email", "marketing", granted=True, source="web form")
    with crm.unit_of_work(ANNA) as uow:
        assert uow.contacts.get(bob.id).consent_for("email", "marketing") is ConsentStatus.GRANTED
        uow.contacts.archive(bob.id)
        uow.contacts.record_consent(bob.id, "email", "marketing", granted=False, source="link")
    with crm.unit_of_work(ANNA) as uow:
        stored = uow.contacts.get(bob.id)
    assert [(r.granted, r.source) for r in stored.consent] == [(True, "web form"), (False, "link")]
    assert stored.consent_for("email", "marketing") is ConsentStatus.WITHDRAWN
    assert timeline(crm, bob.id)[:2] == [
        "opted out of marketing by email (link)",
        "contact archived",
    ]


def test_an_accounts_timeline_includes_its_contacts_events_and_activities(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
        bob = uow.contacts.create("Berg", first_name="Bob", account_id=acme.id, role="buyer")
        eve = uow.contacts.create("Stranger", first_name="Eve")
    with crm.unit_of_work(ANNA) as uow:
        uow.contacts.record_consent(bob.id, "email", "sales", granted=True, source="call")
        uow.activities.log("call", "Intro call", [RecordRef("contact", bob.id)])
        uow.activities.log("note", "Unrelated", [RecordRef("contact", eve.id)])
    with crm.unit_of_work(ANNA) as uow:
        uow.contacts.unlink(bob.id, acme.id)
    with crm.unit_of_work(ANNA) as uow:
        uow.contacts.tag(bob.id, "gone")
        uow.activities.log("note", "After leaving", [RecordRef("contact", bob.id)])
    assert timeline(crm, acme.id) == [
        f"unlinked from account {acme.id}",
        "call: Intro call",
        "opted in to sales by email (call)",
        f"linked to account {acme.id} as buyer",
        "contact Bob Berg created",
        "account ACME created",
    ]
    assert timeline(crm, bob.id)[:2] == ["note: After leaving", "changed tags"]
    assert timeline(crm, eve.id) == ["note: Unrelated", "contact Eve Stranger created"]


@given(
    events=st.integers(1, 25),
    limit=st.integers(1, 7),
    tick=st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(minutes=5)]),
)
def test_timeline_pages_visit_every_entry_once_newest_first(
    events: int, limit: int, tick: timedelta
) -> None:
    crm = open_crm(tick)
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
    for i in range(events - 1):
        with crm.unit_of_work(ANNA) as uow:
            uow.accounts.tag(acme.id, f"t{i}")
    seen: list[Any] = []
    cursor = None
    pages = 0
    while True:
        page = crm.timeline(acme.id, ANNA, limit=limit, cursor=cursor)
        assert len(page) <= limit
        seen.extend(page)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == events
    assert len({entry.id for entry in seen}) == events
    assert pages == max(1, -(-events // limit))
    keys = [(entry.occurred_at, entry.id) for entry in seen]
    assert keys == sorted(keys, reverse=True)
    assert seen[-1].event_type == "account_created"
    assert seen[0].summary == ("changed tags" if events > 1 else "account ACME created")


def test_an_unknown_record_has_an_empty_timeline(crm: Crm) -> None:
    page = crm.timeline("nobody", ANNA)
    assert (page.items, page.next_cursor) == ((), None)


def test_stored_events_decode_to_the_events_that_were_raised(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME")
        uow.activities.plan("meeting", "Demo", [RecordRef("account", acme.id)], T0 + timedelta(1))
    positions = [position for position, _ in crm.events()]
    assert positions == [1, 2]
    assert [type(e).__name__ for _, e in crm.events(after=1)] == ["ActivityLogged"]
    assert crm.events(stream_id=acme.id)[0][1].name == "ACME"  # type: ignore[attr-defined]


def test_a_retried_create_with_the_same_idempotency_key_returns_the_first(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        first = uow.accounts.create("ACME", idempotency_key=" req-1 ")
    with crm.unit_of_work(ANNA) as uow:
        again = uow.accounts.create("ACME", idempotency_key=" req-1 ")
        same_unit = uow.accounts.create("ACME", idempotency_key="req-1")
    assert first.id == again.id == same_unit.id
    assert len(crm.events()) == 1
