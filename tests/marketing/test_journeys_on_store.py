"""Journeys through the unit of work: queued in each contact's zone, once, and stopped by an
unsubscribe even after they were queued."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crmkit import Crm, FakeClock, Principal
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.app.dispatcher import Dispatcher
from crmkit.app.notifier import Template
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import SequentialIds
from crmkit.marketing.guards import FrequencyCap, Reason
from crmkit.marketing.journey import Journey
from crmkit.marketing.segment import InCountry, Segment
from crmkit.marketing.triggers import Birthday, WelcomeSeries
from crmkit.parties.values import Address, Email
from crmkit.ports.storage import DocumentStore

T0 = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
MIA = Principal("u-mia", roles={"marketer"})
BERLIN = ZoneInfo("Europe/Berlin")
GREETING = Template("Happy birthday", "Dear $first_name, here is $gift.")
BIRTHDAY = Journey("j-bday", "Birthday", Birthday("09:00"), "greeting", list_id="birthdays")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def crm(any_store: DocumentStore, clock: FakeClock) -> Crm:
    return Crm(any_store, clock=clock, ids=SequentialIds("r"))


def _contact(crm: Crm, last: str, birthday: date, *, consent: bool = True) -> str:
    with crm.unit_of_work(MIA) as uow:
        contact = uow.contacts.create(
            last,
            first_name="Kim",
            emails=[Email(f"{last.lower()}@example.com")],
            addresses=[Address(("Main St 1",), "Berlin", "DE")],
            time_zone="Europe/Berlin",
        )
        if consent:
            uow.contacts.record_consent(
                contact.id, "email", "marketing", granted=True, source="form"
            )
        uow.audiences.update(contact.id, birthday=birthday)
    return contact.id


def test_a_birthday_is_queued_at_nine_in_the_contacts_zone_once(crm: Crm) -> None:
    anna = _contact(crm, "Anna", date(1992, 2, 29))
    _contact(crm, "Bert", date(1985, 2, 25), consent=False)
    with crm.unit_of_work(MIA) as uow:
        run = uow.journeys.run(
            [BIRTHDAY], {"greeting": GREETING}, horizon=timedelta(days=30),
            data=lambda send: {"gift": f"GIFT-{send.contact_id}"},
        )  # fmt: skip
    assert [(s.contact_id, s.at.astimezone(BERLIN)) for s in run.queued] == [
        (anna, datetime(2026, 2, 28, 9, 0, tzinfo=BERLIN))  # Feb 29 in a common year: Feb 28
    ]
    assert [s.reasons for s in run.skipped] == [(Reason.NO_CONSENT,)]
    with crm.unit_of_work(MIA) as uow:
        again = uow.journeys.run([BIRTHDAY], {"greeting": GREETING}, horizon=timedelta(days=30),
                                 data=lambda send: {"gift": "X"})  # fmt: skip
        assert [s.at for s in uow.audiences.get(anna).sends] == [run.queued[0].at]
    assert again.queued == ()
    assert [s.reasons for s in again.skipped if s.contact_id == anna] == [(Reason.ALREADY_SENT,)]


def test_an_unsubscribe_stops_a_message_already_queued(crm: Crm, clock: FakeClock) -> None:
    anna = _contact(crm, "Anna", date(1990, 2, 21))
    with crm.unit_of_work(MIA) as uow:
        run = uow.journeys.run([BIRTHDAY], {"greeting": GREETING}, horizon=timedelta(days=3),
                               data=lambda send: {"gift": "X"})  # fmt: skip
    assert len(run.queued) == 1
    with crm.unit_of_work(MIA) as uow:
        uow.audiences.unsubscribe(anna, "list", ref="birthdays")
    clock.advance(timedelta(days=2))
    channel = MemoryChannel()
    report = Dispatcher(crm, [channel]).run_until_idle()
    assert (report.delivered, report.refused) == (0, 1)
    assert channel.sent == []


def test_a_queued_message_is_sent_when_nothing_changed(crm: Crm, clock: FakeClock) -> None:
    _contact(crm, "Anna", date(1990, 2, 21))
    with crm.unit_of_work(MIA) as uow:
        uow.journeys.run([BIRTHDAY], {"greeting": GREETING}, horizon=timedelta(days=3),
                         segment=Segment("s", "de", InCountry(("DE",))),
                         data=lambda send: {"gift": "a voucher"})  # fmt: skip
    clock.advance(timedelta(days=2))
    channel = MemoryChannel()
    assert Dispatcher(crm, [channel]).run_until_idle().delivered == 1
    assert channel.sent[0].text == "Dear Kim, here is a voucher."
    assert channel.sent[0].metadata["list_id"] == "birthdays"


def test_the_frequency_cap_counts_sends_of_earlier_runs(crm: Crm, clock: FakeClock) -> None:
    anna = _contact(crm, "Anna", date(1990, 2, 21))
    with crm.unit_of_work(MIA) as uow:
        uow.audiences.update(anna, signed_up_at=T0)
    welcome = Journey(
        "j-welcome", "Welcome", WelcomeSeries((timedelta(hours=1), timedelta(hours=30))),
        "greeting", cap=FrequencyCap(1, timedelta(days=2)),
    )  # fmt: skip
    with crm.unit_of_work(MIA) as uow:
        first = uow.journeys.run([welcome], {"greeting": GREETING}, horizon=timedelta(hours=2),
                                 data=lambda send: {"gift": "X"})  # fmt: skip
    clock.advance(timedelta(hours=29))
    with crm.unit_of_work(MIA) as uow:
        second = uow.journeys.run(
            [welcome, BIRTHDAY],
            {"greeting": GREETING},
            horizon=timedelta(days=1),
            data=lambda send: {"gift": "X"},
        )
    assert len(first.queued) == 1
    assert second.queued == ()
    assert {r for s in second.skipped for r in s.reasons} == {Reason.FREQUENCY_CAP}


def test_bad_input_names_the_field(crm: Crm) -> None:
    anna = _contact(crm, "Anna", date(1990, 2, 21))
    with crm.unit_of_work(MIA) as uow:
        with pytest.raises(ValidationError, match="template_key"):
            uow.journeys.run([BIRTHDAY], {})
        with pytest.raises(ValidationError, match="journeys"):
            uow.journeys.run(["birthday"], {})  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="segment"):
            uow.journeys.run([BIRTHDAY], {"greeting": GREETING}, contact_ids=[anna],
                             segment=Segment("s", "x", InCountry(("DE",))))  # fmt: skip
        with pytest.raises(ValidationError, match="birthday"):
            uow.audiences.update(anna, birthday=datetime(1990, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
