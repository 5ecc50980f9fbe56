"""``uow.best_times`` on the store: a planted pattern comes back, hours and zones are kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.activities.activity import RecordRef
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.interactions.best_time import EvidenceLevel, Model
from crmkit.interactions.preferences import ChannelPreferences
from crmkit.kernel.errors import NotFound, ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.service.calendar import Shift, WeeklyHours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin, 02:00 in New York
REP = Principal("u-anna")
WEEKS = 4


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "b.db")
    crm = Crm(store, clock=FakeClock(NOW), ids=SequentialIds("b"))
    yield crm
    crm.close()


def _local(week: int, weekday: int, hour: int, zone: ZoneInfo = BERLIN) -> datetime:
    """Weeks before NOW's week: Monday 2026-02-02 is week 0's Monday."""
    return datetime(2026, 2, 2, hour, 10, tzinfo=zone) + timedelta(days=7 * week + weekday)


def _plant(crm: Crm) -> dict[str, Any]:
    """Three ACME contacts in Berlin who answer on Tuesdays at 10:00 and not otherwise."""
    with crm.unit_of_work(REP) as uow:
        acme = uow.accounts.create("ACME")
        people = [
            uow.contacts.create(name, time_zone="Europe/Berlin", account_id=acme.id)
            for name in ("Berg", "Chen", "Diaz")
        ]
        loner = uow.contacts.create("Eke", time_zone="America/New_York")
        lead = uow.leads.capture(last_name="Lee", company="Lee Ltd")
    with crm.unit_of_work(REP) as uow:
        for person in people:
            about = [RecordRef("contact", person.id)]
            for week in range(WEEKS):
                for weekday, hour, outcome in (
                    (1, 10, "connected"),  # Tuesday 10:00: answers
                    (0, 14, "no_answer"),  # Monday 14:00: never
                    (2, 9, "voicemail"),  # Wednesday 09:00: never
                    (3, 16, "wrong_number"),  # not evidence: ignored
                ):
                    uow.activities.log(
                        "call",
                        "Call",
                        about,
                        occurred_at=_local(week, weekday, hour),
                        outcome=outcome,
                        owner_id=REP.id,
                    )
        # A call about a lead only: no contact, so not counted.
        uow.activities.log(
            "call",
            "Lead call",
            [RecordRef("lead", lead.id)],
            occurred_at=_local(0, 4, 11),
            outcome="connected",
        )
    return {"acme": acme.id, "people": [p.id for p in people], "loner": loner.id}


def test_learn_reads_every_call_with_an_outcome(crm: Crm) -> None:
    planted = _plant(crm)
    with crm.unit_of_work(REP) as uow:
        model = uow.best_times.learn(batch=7)  # several batches, contacts across them
    # 3 contacts × 4 weeks × 3 evidence calls; wrong numbers and the lead's call left out.
    assert sum(t.attempts for t in model.population) == 36
    assert sum(t.successes for t in model.population) == 12
    first = model.contacts[planted["people"][0]]
    assert first.time_zone.key == "Europe/Berlin"
    assert first.account_id == planted["acme"]
    # Slot 34 is Tuesday 10:00 (1 × 24 + 10) in the contact's own zone.
    assert [(t.slot, t.successes, t.attempts) for t in first.slots] == [
        (14, 0, 4),
        (34, 4, 4),
        (57, 0, 4),
    ]
    assert set(model.accounts) == {planted["acme"]}
    assert planted["loner"] not in model.contacts


def test_learn_since_leaves_out_older_calls(crm: Crm) -> None:
    _plant(crm)
    with crm.unit_of_work(REP) as uow:
        recent = uow.best_times.learn(since=_local(WEEKS - 1, 0, 0))
        none = uow.best_times.learn(since=NOW)
    assert sum(t.attempts for t in recent.population) == 9  # the last week only
    assert none.population == ()
    assert none.contacts == {}


def test_the_planted_window_comes_first_with_its_evidence(crm: Crm) -> None:
    planted = _plant(crm)
    with crm.unit_of_work(REP) as uow:
        model = uow.best_times.learn()
        found = uow.best_times.windows(planted["people"][0], model=model)
        learned = uow.best_times.windows(planted["people"][0])  # learns its own model
    assert found == learned
    assert len(found) == 3
    top = found[0]
    assert top.start == datetime(2026, 3, 3, 10, tzinfo=BERLIN)
    assert top.slot == 34
    assert top.evidence.level is EvidenceLevel.CONTACT
    assert top.evidence.text == "connected 4 of 4 times on Tuesdays 10:00–11:00"
    assert top.rate > found[1].rate
    assert all(w.start.tzinfo == BERLIN for w in found)


def test_a_contact_without_calls_gets_the_population_pattern(crm: Crm) -> None:
    planted = _plant(crm)
    with crm.unit_of_work(REP) as uow:
        [top] = uow.best_times.windows(planted["loner"], limit=1)
    # Tuesday 10:00 in the contact's own zone, New York.
    assert top.start == datetime(2026, 3, 3, 10, tzinfo=NEW_YORK)
    assert top.evidence.level is EvidenceLevel.POPULATION
    assert top.evidence.text.startswith("all contacts connected 12 of 12 times")


def test_stored_contact_hours_are_respected(crm: Crm) -> None:
    planted = _plant(crm)
    afternoons = WeeklyHours.weekdays(Shift("14:00", "17:00"))
    person = planted["people"][1]
    with crm.unit_of_work(REP) as uow:
        uow.contacts.set_preferences(person, ChannelPreferences(contact_hours=afternoons))
    with crm.unit_of_work(REP) as uow:
        model = uow.best_times.learn()
        found = uow.best_times.windows(person, model=model, limit=5)
        # From Saturday: the weekend has no hours; Monday 14:00 never answered, so
        # the earliest hour at the overall rate, Monday 15:00, comes first.
        weekend = uow.best_times.windows(person, model=model, now=NOW + timedelta(days=5))
    assert len(found) == 5
    for window in found:
        local = window.start.astimezone(BERLIN)
        assert local.weekday() < 5
        assert local.hour >= 14
        assert window.end.hour <= 17
    assert weekend[0].start == datetime(2026, 3, 9, 15, tzinfo=BERLIN)
    assert weekend[0].evidence.text.startswith("no calls on Mondays 15:00–16:00 yet")


def test_do_not_call_gives_no_sales_windows(crm: Crm) -> None:
    planted = _plant(crm)
    person = planted["people"][2]
    with crm.unit_of_work(REP) as uow:
        uow.contacts.set_preferences(person, ChannelPreferences(do_not_call=True))
    with crm.unit_of_work(REP) as uow:
        model = uow.best_times.learn()
        assert uow.best_times.windows(person, model=model, purpose="sales") == ()
        assert uow.best_times.windows(person, model=model, purpose="service")
        assert uow.best_times.windows(person, model=model)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda bt: bt.learn(batch=0), "batch"),
        (lambda bt: bt.learn(batch=True), "batch"),
        (lambda bt: bt.learn(since=datetime(2026, 1, 1)), "since"),
        (lambda bt: bt.learn(strength=0), "strength"),
        (lambda bt: bt.windows(""), "contact_id"),
        (lambda bt: bt.windows(42), "contact_id"),
        (lambda bt: bt.windows("b-1", model="m"), "model"),
        (lambda bt: bt.windows("b-1", model=Model(5, (), {}, {}), limit=0), "limit"),
        (lambda bt: bt.windows("b-1", model=Model(5, (), {}, {}), now=datetime(2026, 3, 2)), "now"),
        (lambda bt: bt.windows("b-1", model=Model(5, (), {}, {}), purpose="spam"), "purpose"),
    ],
)
def test_bad_input_names_the_field(crm: Crm, call: Any, field: str) -> None:
    with crm.unit_of_work(REP) as uow, pytest.raises(ValidationError) as info:
        call(uow.best_times)
    assert info.value.field == field


def test_an_unknown_contact_is_not_found(crm: Crm) -> None:
    with crm.unit_of_work(REP) as uow, pytest.raises(NotFound):
        uow.best_times.windows("b-nobody", model=Model(5, (), {}, {}))
