"""``uow.work_queue`` on the store: hand-computed scores, only the rep's items, marks that last."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.activity import Activity, RecordRef
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.queue_records import QUEUE_MARKS, QueueMarkRecord, mark_id
from crmkit.app.records import ACTIVITIES, CASES, CONTRACTS, LEADS
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.interactions.work_queue import Factor, MarkState, QueueWeights, WorkItem, item_key
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import make_converter, structure
from crmkit.sales.capture import LeadInput
from crmkit.sales.contract import Contract
from crmkit.sales.lead import Lead
from crmkit.sales.terms import Term
from crmkit.service.calendar import Shift, WeeklyHours
from crmkit.service.case import ServiceCase
from crmkit.service.sla import SlaClock, SlaMetric, SlaRun

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday: 11:00 in Berlin
ANNA, BOB = Principal("u-anna"), Principal("u-bob")
STAMP = Stamp(NOW - timedelta(days=30), "u-admin")


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "q.db")
    crm = Crm(store, clock=FakeClock(NOW), ids=SequentialIds("r"))
    _seed(crm)
    yield crm
    _IDS.pop(id(crm), None)
    crm.close()


@pytest.fixture
def memory_crm() -> Iterator[Crm]:
    crm = Crm(MemoryStore(), clock=FakeClock(NOW), ids=SequentialIds("r"))
    _seed(crm)
    yield crm
    _IDS.pop(id(crm), None)


def _case(
    id: str, contact: str, deadline: datetime
) -> tuple[ServiceCase, DomainEvent, DomainEvent]:
    case, opened = ServiceCase.open(
        id,
        f"CS-{id}",
        STAMP,
        subject="Printer",
        description="Error 42",
        type="incident",
        priority="normal",
        severity="moderate",
        contact_id=contact,
    )
    run = SlaRun(
        SlaMetric.RESOLUTION,
        3600,
        deadline - timedelta(hours=1),
        deadline,
        deadline - timedelta(minutes=30),
    )
    tracked, event = case.track_sla(SlaClock("standard", "always", "0.5", (run,)), STAMP)
    return tracked, opened, event


def _seed(crm: Crm) -> None:
    with crm.unit_of_work(ANNA) as uow:
        c1 = uow.contacts.create("One", owner_id="u-anna", time_zone="Europe/Berlin").id
        c2 = uow.contacts.create("Two", owner_id="u-anna").id
        c3 = uow.contacts.create("Three", owner_id="u-bob").id
        uow.contacts.create("Four", owner_id="u-anna")  # nothing to do: not in the queue
        account = uow.accounts.create("ACME").id
        contact = RecordRef("contact", c1)
        uow.activities.plan(
            "call", "Follow up", [contact], NOW - timedelta(hours=1), owner_id="u-anna"
        )
        uow.activities.plan(
            "task", "Tomorrow", [contact], NOW + timedelta(days=1), owner_id="u-anna"
        )
        uow.activities.plan(
            "task", "Bob's", [RecordRef("contact", c3)], NOW - timedelta(hours=2), owner_id="u-bob"
        )
        for week in range(1, 4):  # three connected calls, Tuesdays 11:00 in Berlin
            uow.activities.log(
                "call",
                "Chat",
                [contact],
                occurred_at=NOW - timedelta(weeks=week),
                outcome="connected",
                owner_id="u-anna",
            )
        uow.save(CASES, *_case("k-1", c1, NOW - timedelta(minutes=5)))  # breached
        contract, drafted = Contract.draft(
            "ct-1",
            "CT-1",
            STAMP,
            account_id=account,
            contact_id=c2,
            start_date=date(2025, 4, 1),
            term=Term(years=1),
            billing_period="monthly",
            amount=Money.of("100", "EUR"),
            notice_period=Term(months=1),
        )
        sent, e1 = contract.send(STAMP)
        signed, e2 = sent.sign(STAMP)
        uow.save(CONTRACTS, signed, drafted, e1, e2)  # notice from 2026-03-01: in the window
        lead, captured = Lead.capture(
            "l-1", LeadInput(last_name="Lee", company="Lee Ltd", owner_id="u-anna"), STAMP
        )
        scored, event = lead.rescore(60, STAMP)
        uow.save(LEADS, scored, captured, event)
    _IDS[id(crm)] = {"c1": c1, "c2": c2, "c3": c3}


_IDS: dict[int, dict[str, str]] = {}


def _ids(crm: Crm) -> dict[str, str]:
    return _IDS[id(crm)]


def _today(crm: Crm, rep: Principal = ANNA, **options: Any) -> list[WorkItem]:
    with crm.unit_of_work(rep) as uow:
        return list(uow.work_queue.today(rep.id, **options))


def test_scores_are_hand_computed_and_ordered(crm: Crm) -> None:
    ids = _ids(crm)
    items = _today(crm, windows=True)
    # c1: sla breached 30×1 = 30; one overdue call 20×1/4 = 5; timing: three connected
    #     calls in this very slot, no account, nobody else called: overall g = (3+1)/(3+2)
    #     = 0.8, population (without c1) = g, contact (3 + 5×0.8)/(3+5) = 0.875 → 8.75.
    #     Total 30 + 5 + 8.75 = 43.75.
    # c2: contract in its notice period 15×1 = 15; timing g = 0.8 → 8; total 23.
    # l-1: lead score 60 → 25×0.6 = 15; timing 8; total 23: ties with c2, no due times,
    #     so the key decides: "u-anna:contact:…" before "u-anna:lead:…".
    assert [(i.subject_id, i.score) for i in items] == [
        (ids["c1"], Decimal("43.7500")),
        (ids["c2"], Decimal("23.0000")),
        ("l-1", Decimal("23.0000")),
    ]
    first = items[0]
    lines = {line.factor: line.points for line in first.breakdown}
    assert lines == {
        Factor.LEAD: Decimal("0.0000"),
        Factor.SLA: Decimal("30.0000"),
        Factor.OVERDUE: Decimal("5.0000"),
        Factor.RENEWAL: Decimal("0.0000"),
        Factor.TIMING: Decimal("8.7500"),
    }
    assert {r.kind.value for r in first.reasons} == {"call_overdue", "sla_breached"}
    assert first.due == NOW - timedelta(hours=1)
    assert first.next_window is not None
    assert first.next_window.tzinfo is not None
    assert all(item.next_window is None for item in _today(crm))  # windows are opt-in


def test_only_the_reps_own_items(crm: Crm) -> None:
    ids = _ids(crm)
    assert ids["c3"] not in [i.subject_id for i in _today(crm)]
    bobs = _today(crm, BOB)
    assert [i.subject_id for i in bobs] == [ids["c3"]]


def test_contact_hours_zero_the_timing_factor(crm: Crm) -> None:
    ids = _ids(crm)
    with crm.unit_of_work(ANNA) as uow:
        later = WeeklyHours.weekdays(Shift("14:00", "17:00"))
        uow.contacts.set_preferences(ids["c2"], ChannelPreferences(contact_hours=later))
    items = _today(crm)
    # c2 now 15 + 0 (outside its hours) = 15, below l-1's 23.
    assert [i.subject_id for i in items] == [ids["c1"], "l-1", ids["c2"]]
    timing = items[2].breakdown[-1]
    assert (timing.points, timing.why) == (Decimal("0.0000"), "outside contact hours")


def test_weights_change_the_order(crm: Crm) -> None:
    weights = QueueWeights(lead=100, sla=0, overdue=0, renewal=0, timing=0)
    items = _today(crm, weights=weights)
    assert items[0].subject_id == "l-1"
    assert items[0].score == Decimal("60.0000")


def test_snooze_hides_until_the_time_across_units_of_work(crm: Crm) -> None:
    ids = _ids(crm)
    key = item_key("u-anna", "contact", ids["c1"])
    with crm.unit_of_work(ANNA) as uow:
        mark = uow.work_queue.snooze(key, NOW + timedelta(hours=2))
    assert mark.state is MarkState.SNOOZED
    assert ids["c1"] not in [i.subject_id for i in _today(crm)]
    later = [i.subject_id for i in _today(crm, now=NOW + timedelta(hours=2))]
    assert ids["c1"] in later


def test_done_hides_for_good_until_a_new_reason(crm: Crm) -> None:
    ids = _ids(crm)
    key = item_key("u-anna", "contact", ids["c2"])
    with crm.unit_of_work(ANNA) as uow:
        mark = uow.work_queue.done(key)
    assert mark.reasons == ("renewal_window:ct-1",)
    assert ids["c2"] not in [i.subject_id for i in _today(crm, now=NOW + timedelta(days=3))]
    with crm.unit_of_work(ANNA) as uow:
        uow.activities.plan(
            "call",
            "Renewal call",
            [RecordRef("contact", ids["c2"])],
            NOW + timedelta(hours=3),
            owner_id="u-anna",
        )
    back = [i for i in _today(crm) if i.subject_id == ids["c2"]]
    assert [r.kind.value for r in back[0].reasons] == ["call_due", "renewal_window"]


def test_done_remembers_tasks_due_later(crm: Crm) -> None:
    ids = _ids(crm)
    with crm.unit_of_work(ANNA) as uow:
        mark = uow.work_queue.done(item_key("u-anna", "contact", ids["c1"]))
    # The call due an hour ago, the task due tomorrow and the breached case.
    assert [k.split(":")[0] for k in mark.reasons] == ["call", "sla_breached", "task"]
    tomorrow = NOW + timedelta(days=1, hours=1)  # the task is overdue then: not a new reason
    assert ids["c1"] not in [i.subject_id for i in _today(crm, now=tomorrow)]


def test_marks_are_stored_records_that_round_trip(crm: Crm) -> None:
    key = item_key("u-anna", "lead", "l-1")
    with crm.unit_of_work(ANNA) as uow:
        uow.work_queue.snooze(key, NOW + timedelta(hours=1))
    with crm.unit_of_work(ANNA) as uow:
        uow.work_queue.done(key)
    with crm.unit_of_work(ANNA) as uow:
        record = uow.get(QUEUE_MARKS, mark_id(key))
        assert [m.state for m in uow.work_queue.marks("u-anna")] == [MarkState.DONE]
    assert (record.version, record.state, record.until) == (2, MarkState.DONE, None)
    conv = make_converter()
    assert structure(conv, conv.unstructure(record), QueueMarkRecord) == record


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda q: q.today("bad id"), "rep_id"),
        (lambda q: q.today("u-anna", now=datetime(2026, 3, 3)), "now"),
        (lambda q: q.today("u-anna", limit=0), "limit"),
        (lambda q: q.today("u-anna", weights={"lead": 1}), "weights"),
        (lambda q: q.today("u-anna", zone="Mars/Base"), "zone"),
        (lambda q: q.today("u-anna", windows="yes"), "windows"),
        (lambda q: q.snooze("nonsense", NOW + timedelta(hours=1)), "item_key"),
        (lambda q: q.snooze("u-anna:contact:c-1", NOW - timedelta(hours=1)), "until"),
        (lambda q: q.snooze("u-anna:contact:c-1", datetime(2026, 3, 4)), "until"),
        (lambda q: q.done("u-anna:robot:c-1"), "item_key"),
    ],
)
def test_bad_input_names_the_field(memory_crm: Crm, call: object, field: str) -> None:
    with memory_crm.unit_of_work(ANNA) as uow, pytest.raises(ValidationError) as caught:
        call(uow.work_queue)  # type: ignore[operator]
    assert caught.value.field == field


def test_planned_activities_of_other_kinds_are_not_reasons(crm: Crm) -> None:
    ids = _ids(crm)
    with crm.unit_of_work(ANNA) as uow:
        meeting, event = Activity.plan(
            "a-m",
            "meeting",
            "Demo",
            (RecordRef("contact", ids["c2"]),),
            NOW,
            Stamp(NOW, "u-anna"),
            owner_id="u-anna",
        )
        uow.save(ACTIVITIES, meeting, event)
    c2 = next(i for i in _today(crm) if i.subject_id == ids["c2"])
    assert [r.kind.value for r in c2.reasons] == ["renewal_window"]
