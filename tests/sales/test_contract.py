"""Contracts: drafting, renewal, the notice window, termination, amendments, serialisation."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.contract import CONTRACT_LIFECYCLE, Contract, ContractStatus
from crmkit.sales.contract_events import (
    EVENTS,
    ContractAmended,
    ContractCreatedByRenewal,
    ContractDrafted,
    ContractRenewed,
    ContractTerminated,
)
from crmkit.sales.terms import Amendment, RenewalMode, Term
from crmkit.testing._strategies_contracts import amendments, contracts, drafted_contracts

DRAFTED = Stamp(datetime(2026, 1, 5, 10, 0, tzinfo=UTC), "u-1")


def at(day: date, hour: int = 12, zone: str = "UTC") -> Stamp:
    return Stamp(datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone)), "u-2")


def draft(**overrides: Any) -> tuple[Contract, ContractDrafted]:
    fields: dict[str, Any] = {
        "account_id": "a-1",
        "contact_id": "c-1",
        "opportunity_id": "o-1",
        "quote_id": "q-1",
        "start_date": date(2026, 1, 31),
        "term": Term(years=1),
        "billing_period": "monthly",
        "amount": Money.of("100", "EUR"),
        "notice_period": Term(months=3),
        "renewal": "manual",
        "uplift": "3",
    }
    fields.update(overrides)
    return Contract.draft("k-1", "C-2026-001", DRAFTED, **fields)


def active(**overrides: Any) -> tuple[Contract, list[DomainEvent]]:
    contract, drafted = draft(**overrides)
    contract, sent = contract.send(DRAFTED)
    contract, signed = contract.sign(at(date(2026, 1, 20)))
    return contract, [drafted, sent, signed]


def test_a_drafted_contract_holds_its_terms() -> None:
    contract, event = draft()
    assert contract.status is ContractStatus.DRAFT
    assert (contract.version, contract.currency) == (1, "EUR")
    assert contract.end_date == date(2027, 1, 31)
    assert contract.notice_from == date(2026, 10, 31)
    assert contract.time_zone == ZoneInfo("UTC")
    assert contract.uplift == Decimal(3)
    assert contract.renewal is RenewalMode.MANUAL
    assert Contract.created(event) == contract
    assert event.subjects() == ("k-1", "a-1", "c-1")
    assert event.summary() == "contract C-2026-001 drafted: 100.00 EUR monthly for 1 year"
    assert len(contract.bills()) == 12
    assert contract.bills()[1].date == date(2026, 2, 28)


def test_signing_makes_it_active() -> None:
    contract, events = active()
    assert contract.status is ContractStatus.ACTIVE
    assert contract.signed_at == events[-1].occurred_at
    assert Contract.replay(events) == contract


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"term": Term(months=4), "billing_period": "quarterly"}, "term"),
        ({"term": 12}, "term"),
        ({"start_date": datetime(2026, 1, 1, tzinfo=UTC)}, "start_date"),
        ({"amount": 100.0}, "amount"),
        ({"amount": Money.of("-1", "EUR")}, "amount"),
        ({"billing_period": "weekly"}, "billing_period"),
        ({"renewal": "sometimes"}, "renewal"),
        ({"uplift": "-1"}, "uplift"),
        ({"uplift": 2.5}, "uplift"),
        ({"notice_period": Term(years=2)}, "notice_period"),
        ({"notice_period": 3}, "notice_period"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"account_id": ""}, "account_id"),
        ({"contact_id": "has space"}, "contact_id"),
        ({"quote_id": 7}, "quote_id"),
    ],
)
def test_draft_refuses_bad_input(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        draft(**overrides)
    assert info.value.field == field


def test_the_notice_window_opens_on_its_first_day() -> None:
    contract, _ = active()
    eve = at(date(2026, 10, 30), 23)
    with pytest.raises(InvalidTransition) as info:
        contract.flag_for_renewal(eve)
    assert (info.value.state, info.value.command) == ("active", "flag_for_renewal")
    assert info.value.reason == "the notice period starts on 2026-10-31"
    assert contract.due(eve.at) == ()
    first = at(date(2026, 10, 31), 0)
    assert contract.due(first.at) == ("flag_for_renewal",)
    flagged, event = contract.flag_for_renewal(first)
    assert flagged.status is ContractStatus.UP_FOR_RENEWAL
    assert event.summary() == "contract up for renewal (ends 2027-01-31)"


def test_dates_follow_the_contracts_time_zone() -> None:
    tokyo, _ = active(time_zone="Asia/Tokyo")
    utc, _ = active()
    instant = datetime(2026, 10, 30, 15, 30, tzinfo=UTC)  # already Oct 31 in Tokyo
    assert tokyo.today(instant) == date(2026, 10, 31)
    assert tokyo.due(instant) == ("flag_for_renewal",)
    assert utc.due(instant) == ()
    assert tokyo.flag_for_renewal(Stamp(instant, "job"))[0].status is ContractStatus.UP_FOR_RENEWAL
    with pytest.raises(InvalidTransition):
        utc.flag_for_renewal(Stamp(instant, "job"))
    with pytest.raises(ValidationError) as info:
        utc.due(datetime(2026, 10, 30, 15, 30))
    assert info.value.field == "at"


def test_automatic_renewal_at_the_end_date() -> None:
    contract, events = active(renewal="automatic", uplift="2.5")
    end = at(date(2027, 1, 31), 0)
    assert contract.due(end.at) == ("flag_for_renewal", "renew")
    contract, flagged = contract.flag_for_renewal(end)
    assert contract.due(end.at) == ("renew",)
    assert contract.due(at(date(2027, 1, 30)).at) == ()
    renewal = contract.renew("k-2", end)
    old, successor = renewal.contract, renewal.successor
    assert old.status is ContractStatus.RENEWED
    assert old.renewed_by == "k-2"
    assert successor.status is ContractStatus.ACTIVE
    assert (successor.id, successor.version, successor.renews) == ("k-2", 1, "k-1")
    assert successor.start_date == date(2027, 1, 31)
    assert successor.end_date == date(2028, 1, 31)
    assert successor.amount == Money.of("102.50", "EUR")
    assert successor.signed_at is None
    assert successor.quote_id is None
    assert (successor.number, successor.opportunity_id) == ("C-2026-001", "o-1")
    assert renewal.event == ContractRenewed(
        aggregate_id="k-1",
        version=5,
        occurred_at=end.at,
        actor="u-2",
        account_id="a-1",
        contact_id="c-1",
        successor_id="k-2",
        successor_start=date(2027, 1, 31),
        successor_amount=Money.of("102.50", "EUR"),
    )
    assert renewal.event.subjects() == ("k-1", "a-1", "c-1", "k-2")
    assert renewal.successor_event.subjects() == ("k-2", "a-1", "c-1", "k-1")
    assert Contract.replay([*events, flagged, renewal.event]) == old
    assert Contract.replay([renewal.successor_event]) == successor
    # The successor comes up for renewal in its turn; uplifts compound.
    later = successor.flag_for_renewal(at(date(2027, 11, 1)))[0].renew("k-3", end, number="C-9")
    assert later.successor.amount == Money.of("105.06", "EUR")  # 105.0625
    assert later.successor.number == "C-9"


@pytest.mark.parametrize(
    ("amount", "uplift", "renewed"),
    [
        ("1000", "3.5", "1035 JPY"),
        ("1050", "5", "1102 JPY"),
        ("10.10", "5", "10.60 EUR"),
        ("1.235", "10", "1.358 KWD"),
        ("0.999", "0.1", "1.000 KWD"),
    ],
)
def test_renewal_uplift_rounds_half_even(amount: str, uplift: str, renewed: str) -> None:
    currency = renewed.split()[1]
    contract, _ = active(amount=Money.of(amount, currency), uplift=uplift)
    flagged, _ = contract.flag_for_renewal(at(date(2026, 12, 1)))
    assert str(flagged.renew("k-2", DRAFTED).successor.amount) == renewed


def test_manual_contracts_expire_unless_renewed() -> None:
    contract, _ = active()
    end = at(date(2027, 1, 31), 0)
    assert contract.due(end.at) == ("expire",)
    with pytest.raises(InvalidTransition) as info:
        contract.expire(at(date(2027, 1, 30), 23))
    assert info.value.reason == "it ends on 2027-01-31"
    expired, event = contract.expire(end)
    assert expired.status is ContractStatus.EXPIRED
    assert event.summary() == "contract expired on 2027-01-31"
    flagged, _ = contract.flag_for_renewal(at(date(2026, 11, 2)))
    assert flagged.due(at(date(2026, 12, 2)).at) == ()
    assert flagged.due(end.at) == ("expire",)
    # A manual renewal may happen any time while it is up for renewal.
    renewal = flagged.renew("k-2", at(date(2026, 11, 3)))
    assert renewal.successor.start_date == date(2027, 1, 31)
    assert renewal.contract.due(end.at) == ()


def test_renewal_refusals() -> None:
    contract, _ = active()
    with pytest.raises(InvalidTransition) as info:
        contract.renew("k-2", DRAFTED)
    assert (info.value.state, info.value.command) == ("active", "renew")
    flagged, _ = contract.flag_for_renewal(at(date(2026, 12, 1)))
    with pytest.raises(ValidationError) as error:
        flagged.renew("k-1", DRAFTED)
    assert error.value.field == "successor_id"
    with pytest.raises(ValidationError) as error:
        flagged.renew("", DRAFTED)
    assert error.value.field == "successor_id"


def test_termination() -> None:
    contract, events = active()
    done, event = contract.terminate(" customer insolvent ", date(2026, 6, 15), DRAFTED)
    assert done.status is ContractStatus.TERMINATED
    assert (done.terminated_on, done.termination_reason) == (
        date(2026, 6, 15),
        "customer insolvent",
    )
    assert event.summary() == "contract terminated from 2026-06-15"
    assert "insolvent" not in event.summary()
    assert [bill.date.month for bill in done.bills()] == [
        1,
        2,
        3,
        4,
        5,
    ]  # the June bill is due on the 30th
    assert done.due(at(date(2030, 1, 1)).at) == ()
    assert Contract.replay([*events, event]) == done
    for command in ("sign", "send", "flag_for_renewal", "expire"):
        with pytest.raises(InvalidTransition) as info:
            getattr(done, command)(at(date(2030, 1, 1)))
        assert (info.value.state, info.value.command) == ("terminated", command)
    with pytest.raises(InvalidTransition):
        done.terminate("again", date(2026, 7, 1), DRAFTED)


def test_termination_refusals() -> None:
    contract, _ = draft()
    with pytest.raises(ValidationError) as info:
        contract.terminate("too late", date(2027, 2, 1), DRAFTED)
    assert info.value.field == "effective_on"
    with pytest.raises(ValidationError) as info:
        contract.terminate("", date(2026, 2, 1), DRAFTED)
    assert info.value.field == "reason"
    with pytest.raises(ValidationError) as info:
        contract.terminate("why", datetime(2026, 2, 1, tzinfo=UTC), DRAFTED)
    assert info.value.field == "effective_on"
    # A draft can be cancelled before it starts; effective on the end date means "no renewal".
    cancelled, _ = contract.terminate("lost interest", date(2026, 1, 6), DRAFTED)
    assert cancelled.bills() == ()
    assert contract.terminate("non-renewal", date(2027, 1, 31), DRAFTED)[0].bills() == (
        contract.bills()
    )


def test_amendments_record_only_what_changes() -> None:
    contract, events = active()
    stamp = at(date(2026, 4, 1))
    amended, event = contract.amend(
        "price review",
        stamp,
        amount=Money.of("120", "EUR"),
        notice_period=Term(months=3),  # unchanged: not recorded
        renewal="automatic",
        uplift="3.0",  # equal to 3: not recorded
    )
    assert isinstance(event, ContractAmended)
    assert amended.amendments == (
        Amendment(
            stamp.at, "price review", amount=Money.of("120", "EUR"), renewal=RenewalMode.AUTOMATIC
        ),
    )
    assert event.summary() == "contract amended: amount, renewal"
    assert amended.amount == Money.of("120", "EUR")
    assert amended.renewal is RenewalMode.AUTOMATIC
    assert amended.bills()[0].amount == Money.of("120", "EUR")
    assert Contract.replay([*events, event]) == amended
    second, again = amended.amend("shorter notice", stamp, notice_period=Term(months=1))
    assert second.notice_from == date(2026, 12, 31)
    assert [a.changes for a in second.amendments] == [("amount", "renewal"), ("notice_period",)]
    assert Contract.replay([*events, event, again]) == second


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "changes"),
        ({"amount": Money.of("100", "EUR")}, "changes"),
        ({"amount": Money.of("100", "USD")}, "amount"),
        ({"notice_period": Term(months=13)}, "notice_period"),
        ({"uplift": "-3"}, "uplift"),
        ({"renewal": "never"}, "renewal"),
    ],
)
def test_amendment_refusals(changes: dict[str, Any], field: str) -> None:
    contract, _ = active()
    with pytest.raises(ValidationError) as info:
        contract.amend("change", DRAFTED, **changes)
    assert info.value.field == field


def test_amendments_only_in_draft_or_active() -> None:
    contract, _ = draft()
    assert contract.amend("typo fix", DRAFTED, uplift="4")[0].uplift == Decimal(4)
    sent, _ = contract.send(DRAFTED)
    with pytest.raises(InvalidTransition) as info:
        sent.amend("late change", DRAFTED, uplift="4")
    assert (info.value.state, info.value.command) == ("awaiting_signature", "amend")


def test_the_lifecycle_table() -> None:
    assert CONTRACT_LIFECYCLE.final == {"renewed", "expired", "terminated"}
    assert CONTRACT_LIFECYCLE.next_states(ContractStatus.ACTIVE) == {
        "flag_for_renewal": "up_for_renewal",
        "expire": "expired",
        "terminate": "terminated",
        "amend": "active",
    }
    diagram = CONTRACT_LIFECYCLE.to_mermaid()
    assert "active --> up_for_renewal: flag_for_renewal [inside the notice period]" in diagram


def test_events_are_registered_once_and_belong_to_contracts() -> None:
    names = [cls.event_type for cls in EVENTS]
    assert len(set(names)) == len(names) == 9
    assert all(cls.aggregate_kind == "contract" for cls in EVENTS)
    assert all(name.startswith("contract_") for name in names)


def test_replay_refuses_foreign_events() -> None:
    contract, events = active()
    with pytest.raises(ValidationError):
        Contract.replay(events[1:])
    with pytest.raises(ValidationError):
        contract.apply(
            DomainEvent(aggregate_id="k-1", version=4, occurred_at=DRAFTED.at, actor="u")
        )


def _round_trip(obj: Any) -> None:
    conv = make_converter()
    data = conv.unstructure(obj)
    assert structure(conv, data, type(obj)) == obj
    assert Loaders().load(type(obj), json.loads(dumps(data))) == obj


def _every_event() -> list[DomainEvent]:
    contract, events = active(renewal="automatic", time_zone="Europe/Berlin")
    amended, amend = contract.amend("review", DRAFTED, amount=Money.of("5", "EUR"), uplift="1")
    flagged, flag = amended.flag_for_renewal(at(date(2026, 12, 1)))
    renewal = flagged.renew("k-2", DRAFTED)
    expired = flagged.expire(at(date(2027, 2, 1)))[1]
    terminated = flagged.terminate("breach", date(2026, 12, 2), DRAFTED)[1]
    return [*events, amend, flag, renewal.event, renewal.successor_event, expired, terminated]


def test_every_event_and_state_round_trips() -> None:
    events = _every_event()
    assert {type(event) for event in events} == set(EVENTS)
    for event in events:
        _round_trip(event)
        assert event.summary()
    contract, _ = active(time_zone="Asia/Tokyo")
    for state in (contract, contract.amend("x", DRAFTED, uplift="9")[0]):
        _round_trip(state)
    renewal_event = next(e for e in events if isinstance(e, ContractCreatedByRenewal))
    _round_trip(Contract.created(renewal_event))
    terminated = next(e for e in events if isinstance(e, ContractTerminated))
    assert terminated.reason == "breach"


@settings(max_examples=60, deadline=None)
@given(drafted=drafted_contracts())
def test_drafted_contracts_round_trip_and_replay(drafted: tuple[Contract, DomainEvent]) -> None:
    contract, event = drafted
    _round_trip(contract)
    _round_trip(event)
    assert Contract.replay([event]) == contract
    assert len(contract.bills()) == contract.term.total_months // contract.billing_period.months


@settings(max_examples=60, deadline=None)
@given(contract=contracts())
def test_contracts_round_trip(contract: Contract) -> None:
    _round_trip(contract)
    assert contract.status in {"draft", "awaiting_signature", "active"}
    assert contract.start_date <= contract.notice_from < contract.end_date


@settings(max_examples=60, deadline=None)
@given(amendment=amendments())
def test_amendments_round_trip(amendment: Amendment) -> None:
    _round_trip(amendment)
    assert amendment.changes


def test_structuring_refuses_an_inconsistent_contract() -> None:
    conv = make_converter()
    contract, _ = active()
    data = conv.unstructure(contract)
    data["end_date"] = "2027-02-01"
    with pytest.raises(ValidationError) as info:
        structure(conv, data, Contract)
    assert "end_date" in info.value.field
    data = conv.unstructure(contract)
    data["currency"] = "USD"
    with pytest.raises(ValidationError) as info:
        structure(conv, data, Contract)
    assert "amount" in info.value.field
    data = conv.unstructure(contract)
    data["notice_period"] = {"years": 0, "months": 0}
    with pytest.raises(ValidationError) as info:
        structure(conv, data, Contract)
    assert info.value.field.startswith("notice_period")


def test_stamps_must_be_stamps() -> None:
    contract, _ = draft()
    with pytest.raises(ValidationError) as info:
        contract.send(DRAFTED.at)  # type: ignore[arg-type]
    assert info.value.field == "stamp"
    naive = Stamp(datetime(2026, 1, 1), "u-1")
    with pytest.raises(ValidationError):
        contract.send(naive)
    assert contract.version == 1
    assert contract.updated_at - contract.created_at == timedelta(0)


def test_the_notice_window_never_opens_before_the_start() -> None:
    # One month from 2028-01-30 ends on 2028-02-29; a month before that is 2028-01-29.
    contract, _ = active(
        start_date=date(2028, 1, 30), term=Term(months=1), notice_period=Term(months=1)
    )
    assert contract.end_date == date(2028, 2, 29)
    assert contract.notice_from == date(2028, 1, 30)
    assert contract.due(at(date(2028, 1, 30), 0).at) == ("flag_for_renewal",)


def test_priced_lines_travel_with_the_contract() -> None:
    from crmkit.sales.pricing import Line, TaxRate

    vat = TaxRate("vat19", Decimal("0.19"))
    line = Line("p-1", "Platform seat", Decimal(10), Money.of("10", "EUR"), Decimal(0), vat)
    contract, event = draft(lines=[line])
    assert contract.lines == event.lines == (line,)
    _round_trip(contract)
    _round_trip(event)
    flagged = contract.send(DRAFTED)[0].sign(DRAFTED)[0].flag_for_renewal(at(date(2026, 12, 1)))
    assert flagged[0].renew("k-2", DRAFTED).successor.lines == (line,)
    dollars = Line(None, "Setup", Decimal(1), Money.of("10", "USD"))
    with pytest.raises(ValidationError) as info:
        draft(lines=[line, dollars])
    assert info.value.field == "lines[1].unit_price"
    with pytest.raises(ValidationError) as info:
        draft(lines=["seat"])
    assert info.value.field == "lines[0]"


@pytest.mark.parametrize("command", ["send", "flag_for_renewal", "expire"])
def test_commands_refuse_a_missing_stamp(command: str) -> None:
    contract, _ = active() if command != "send" else draft()
    with pytest.raises(ValidationError) as info:
        getattr(contract, command)(None)
    assert info.value.field == "stamp"
