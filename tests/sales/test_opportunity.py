"""Opportunities: commands, validation, stage history, amounts, events and serialisation."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.parties.events import AccountCreated
from crmkit.sales.opportunity import (
    OPPORTUNITY_LIFECYCLE,
    Opportunity,
    OpportunityStatus,
    StageVisit,
)
from crmkit.sales.opportunity_events import (
    EVENTS,
    OpportunityLost,
    OpportunityOpened,
    OpportunityRelinked,
)
from crmkit.sales.pipeline import DEFAULT_PIPELINE as P, ForecastCategory, Pipeline
from crmkit.sales.pricing import Line, TaxRate
from crmkit.testing._strategies_opportunities import opportunity_histories, pipelines

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EUR = Money.of("10000.00", "EUR")
conv = make_converter()


def at(hours: float) -> Stamp:
    return Stamp(T0 + timedelta(hours=hours), "u-1")


def opened(**kwargs: Any) -> Opportunity:
    fields: dict[str, Any] = {
        "amount": EUR,
        "close_date": date(2026, 3, 31),
        "account_id": "a-1",
        "contact_ids": ["c-1", "c-2"],
        "lead_id": "l-1",
        **kwargs,
    }
    return Opportunity.open("o-1", "ACME licences", P, at(0), **fields)[0]


def test_open_starts_in_the_first_open_stage_with_its_probability() -> None:
    opp, event = Opportunity.open(
        "o-1", " ACME licences ", P, at(0), amount=EUR, close_date=date(2026, 3, 31)
    )
    assert (opp.version, opp.status, opp.stage) == (1, OpportunityStatus.OPEN, "prospecting")
    assert (opp.probability, opp.forecast_category) == (Decimal("0.10"), ForecastCategory.PIPELINE)
    assert opp.name == "ACME licences"
    assert opp.stage_history == (StageVisit("prospecting", T0),)
    assert opp.created_at == opp.updated_at == T0
    assert (opp.account_id, opp.contact_ids, opp.lines) == (None, (), ())
    assert isinstance(event, OpportunityOpened)
    assert Opportunity.created(event) == opp
    assert event.subjects() == ("o-1",)


def test_open_in_a_chosen_stage_with_an_overridden_probability() -> None:
    opp = opened(stage="proposal", probability=Decimal("0.75"))
    assert (opp.stage, opp.probability) == ("proposal", Decimal("0.75"))
    assert opp.forecast_category is ForecastCategory.BEST_CASE
    assert opp.contact_ids == ("c-1", "c-2")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stage": "closed_won"}, "stage"),
        ({"stage": "nope"}, "stage"),
        ({"amount": Money.of("-1", "EUR")}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"close_date": datetime(2026, 3, 31, tzinfo=UTC)}, "close_date"),
        ({"close_date": "2026-03-31"}, "close_date"),
        ({"probability": 0.5}, "probability"),
        ({"probability": Decimal("1.5")}, "probability"),
        ({"account_id": "a 1"}, "account_id"),
        ({"contact_ids": ["c-1", "c-1"]}, "contact_ids"),
        ({"contact_ids": "c-1"}, "contact_ids"),
        ({"lead_id": 7}, "lead_id"),
        ({"owner_id": ""}, "owner_id"),
    ],
)
def test_open_validates_its_fields(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        opened(**kwargs)
    assert info.value.field == field


def test_open_refuses_a_non_pipeline_and_a_naive_time() -> None:
    with pytest.raises(ValidationError, match="pipeline"):
        Opportunity.open("o-1", "X", "default", at(0), amount=EUR, close_date=date(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^at:"):
        Opportunity.open(
            "o-1", "X", P, Stamp(datetime(2026, 1, 1), "u"), amount=EUR, close_date=date(2026, 1, 1)
        )


def test_a_whole_sale_with_time_in_stage() -> None:
    opp = opened()
    log: list[DomainEvent] = []
    for step in (
        lambda o: o.move("qualification", P, at(24)),
        lambda o: o.move("proposal", P, at(72)),
        lambda o: o.move("qualification", P, at(80)),
        lambda o: o.move("proposal", P, at(90)),
        lambda o: o.lose("chose a competitor", P, at(100)),
        lambda o: o.reopen(P, at(120)),
        lambda o: o.win(P, at(130)),
    ):
        opp, event = step(opp)
        log.append(event)
    assert opp.status is OpportunityStatus.WON
    assert [v.stage for v in opp.stage_history] == [
        "prospecting",
        "qualification",
        "proposal",
        "qualification",
        "proposal",
        "closed_lost",
        "proposal",
        "closed_won",
    ]
    spent = opp.time_in_stage(T0 + timedelta(hours=140))
    assert spent == {
        "prospecting": timedelta(hours=24),
        "qualification": timedelta(hours=48 + 10),
        "proposal": timedelta(hours=8 + 10 + 10),
        "closed_lost": timedelta(hours=20),
        "closed_won": timedelta(hours=10),
    }
    assert isinstance(log[4], OpportunityLost)
    assert log[4].summary() == "opportunity lost: chose a competitor"
    assert [e.summary() for e in log[:1]] == ["moved from prospecting to qualification"]


def test_time_in_stage_refuses_a_bad_now() -> None:
    opp = opened().move("proposal", P, at(5))[0]
    with pytest.raises(ValidationError, match="now"):
        opp.time_in_stage(T0 + timedelta(hours=4))
    with pytest.raises(ValidationError, match="now"):
        opp.time_in_stage(datetime(2026, 2, 1))
    # Offsets do not matter: the same instant in another zone gives the same answer.
    later = (T0 + timedelta(hours=6)).astimezone(timezone(timedelta(hours=-5)))
    assert opp.time_in_stage(later)["proposal"] == timedelta(hours=1)


def test_lose_needs_a_reason_and_a_lost_stage() -> None:
    opp = opened()
    with pytest.raises(ValidationError, match="lost_reason"):
        opp.lose("  ", P, at(1))
    with pytest.raises(ValidationError, match="stage"):
        opp.lose("price", P, at(1), stage="closed_won")
    lost = opp.lose(" price ", P, at(1), stage="closed_lost")[0]
    assert (lost.lost_reason, lost.probability) == ("price", Decimal(0))
    assert lost.forecast_category is ForecastCategory.OMITTED
    with pytest.raises(InvalidTransition) as info:
        lost.lose("price", P, at(2))
    assert (info.value.aggregate, info.value.state, info.value.command) == (
        "opportunity",
        "lost",
        "lose",
    )


def test_commands_check_the_pipeline_and_the_time() -> None:
    opp = opened().move("proposal", P, at(5))[0]
    other = Pipeline("other", "Other", P.stages)
    with pytest.raises(ValidationError, match="pipeline"):
        opp.move("negotiation", other, at(6))
    with pytest.raises(ValidationError, match=r"^at:"):
        opp.win(P, at(4))
    with pytest.raises(ValidationError, match="stage"):
        opp.move("proposal", P, at(6))
    with pytest.raises(ValidationError, match="stamp"):
        opp.assign("u-2", "now")  # type: ignore[arg-type]
    for call in (
        lambda: opp.win("default", at(6)),  # type: ignore[arg-type]
        lambda: opp.lose("price", None, at(6)),  # type: ignore[arg-type]
        lambda: opp.win(P, None),  # type: ignore[arg-type]
        lambda: opp.move(7, P, at(6)),  # type: ignore[arg-type]
        lambda: opp.win(P, Stamp(datetime(2026, 2, 1), "u")),
    ):
        with pytest.raises(ValidationError):
            call()
    lost = opp.lose("price", P, at(6))[0]
    with pytest.raises(ValidationError, match="pipeline"):
        lost.reopen({}, at(7))  # type: ignore[arg-type]


def test_reopen_goes_back_to_the_last_open_stage_or_the_given_one() -> None:
    won = opened().move("negotiation", P, at(1))[0].win(P, at(2))[0]
    assert won.reopen(P, at(3))[0].stage == "negotiation"
    again = won.reopen(P, at(3), stage="proposal")[0]
    assert (again.stage, again.probability) == ("proposal", Decimal("0.60"))
    with pytest.raises(ValidationError, match="stage"):
        won.reopen(P, at(3), stage="closed_lost")
    with pytest.raises(InvalidTransition):
        again.reopen(P, at(4))


def test_update_keeps_the_currency_and_probability_resets_on_a_stage_change() -> None:
    opp = opened()
    with pytest.raises(ValidationError) as info:
        opp.update(at(1), amount=Money.of("5", "USD"))
    assert (info.value.field, info.value.rule) == ("amount", "must stay in EUR")
    with pytest.raises(ValidationError, match="change nothing"):
        opp.update(at(1), name="ACME licences")
    changed, event = opp.update(at(1), probability=Decimal("0.33"), amount=Money.of("2000", "EUR"))
    assert event.fields == ("amount", "probability")
    assert event.summary() == "changed amount, probability"
    assert changed.weighted_amount == Money.of("660.00", "EUR")
    moved = changed.move("proposal", P, at(2))[0]
    assert moved.probability == Decimal("0.60")
    won = moved.win(P, at(3))[0]
    with pytest.raises(InvalidTransition, match="probability"):
        won.update(at(4), probability=Decimal("0.5"))
    assert won.update(at(4), close_date=date(2026, 1, 6))[0].close_date == date(2026, 1, 6)


def test_weighted_amount_rounds_half_even_to_the_minor_unit() -> None:
    yen = opened(amount=Money.of("1005", "JPY"), probability=Decimal("0.5"))
    assert yen.weighted_amount == Money.of("502", "JPY")
    dinar = opened(amount=Money.of("1.001", "KWD"), probability=Decimal("0.33"))
    assert dinar.weighted_amount == Money.of("0.330", "KWD")


def test_relinking_for_a_merge_and_its_undo() -> None:
    opp = opened()
    merged, event = opp.relink_account("a-9", at(1))
    assert isinstance(event, OpportunityRelinked)
    assert merged.account_id == "a-9"
    assert event.subjects() == ("o-1", "a-9", "c-1", "c-2", "a-1")
    undone = merged.relink_account("a-1", at(2))[0]
    assert undone.account_id == "a-1"
    swapped = undone.relink_contact("c-1", "c-9", at(3))[0]
    assert swapped.contact_ids == ("c-9", "c-2")
    collapsed = swapped.relink_contact("c-9", "c-2", at(4))[0]
    assert collapsed.contact_ids == ("c-2",)
    with pytest.raises(ValidationError, match="contact_ids"):
        collapsed.relink_contact("c-1", "c-3", at(5))
    with pytest.raises(ValidationError, match="account_id"):
        collapsed.relink_account("a-1", at(5))


def test_set_lines_makes_the_amount_their_total_net_of_discounts_without_tax() -> None:
    vat = TaxRate("vat19", Decimal("0.19"))
    vat_in = TaxRate("vat19_in", Decimal("0.19"), inclusive=True)
    lines = (
        Line("prod-1", "Licence", Decimal(10), Money.of("120.00", "EUR"), Decimal(10), vat),
        Line(None, "Training", Decimal(1), Money.of("119.00", "EUR"), Decimal(0), vat_in),
    )
    opp, event = opened().set_lines(lines, at(1))
    assert opp.lines == lines
    assert opp.amount == Money.of("1180.00", "EUR")  # 1080.00 + 100.00 (119.00 less its VAT)
    assert event.summary() == "2 product lines set (1180.00 EUR)"
    usd = Line(None, "X", Decimal(1), Money.of("1", "USD"))
    with pytest.raises(ValidationError, match=r"USD|EUR"):
        opp.set_lines([usd], at(2))
    with pytest.raises(ValidationError, match="lines"):
        opp.set_lines(["x"], at(2))  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="set_lines"):
        opp.update(at(2), amount=Money.of("5", "EUR"))
    cleared = opp.set_lines([], at(2))[0]
    assert cleared.amount == Money.zero("EUR")
    assert cleared.update(at(3), amount=Money.of("5", "EUR"))[0].amount == Money.of("5", "EUR")


def test_replay_refuses_foreign_and_out_of_order_events() -> None:
    opp, first = Opportunity.open("o-1", "X", P, at(0), amount=EUR, close_date=date(2026, 1, 1))
    moved, second = opp.move("proposal", P, at(1))
    with pytest.raises(ValidationError, match="events"):
        Opportunity.replay([second])
    with pytest.raises(ValidationError, match="events"):
        Opportunity.replay([first, second, second])
    foreign = AccountCreated(aggregate_id="o-1", version=2, occurred_at=T0, actor="u", name="A")
    with pytest.raises(ValidationError, match="event"):
        Opportunity.replay([first, foreign])
    assert Opportunity.replay([first, second]) == moved


def test_lifecycle_table() -> None:
    assert OPPORTUNITY_LIFECYCLE.name == "opportunity"
    assert not OPPORTUNITY_LIFECYCLE.final
    assert OPPORTUNITY_LIFECYCLE.next_states(OpportunityStatus.OPEN) == {
        "move": OpportunityStatus.OPEN,
        "win": OpportunityStatus.WON,
        "lose": OpportunityStatus.LOST,
    }
    assert "reopen" in OPPORTUNITY_LIFECYCLE.to_mermaid()


def test_events_are_registered_with_unique_types_and_the_opportunity_kind() -> None:
    assert len({cls.event_type for cls in EVENTS}) == len(EVENTS) == 9
    assert {cls.aggregate_kind for cls in EVENTS} == {"opportunity"}
    assert all(cls.event_type.startswith("opportunity_") for cls in EVENTS)


def _round_trip(value: Any, cls: type[Any]) -> None:
    data = conv.unstructure(value)
    assert structure(conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


@settings(max_examples=60)
@given(opportunity_histories())
def test_opportunities_and_events_round_trip_and_replay(history: Any) -> None:
    opp, events = history
    _round_trip(opp, Opportunity)
    for event in events:
        _round_trip(event, type(event))
    assert Opportunity.replay(events) == opp


@settings(max_examples=30)
@given(pipelines())
def test_opening_in_any_pipeline(pipe: Pipeline) -> None:
    opp, _ = Opportunity.open("o-1", "X", pipe, at(0), amount=EUR, close_date=date(2026, 1, 1))
    assert opp.stage == pipe.open_stages[0].key
    won = opp.win(pipe, at(1))[0]
    assert won.stage == pipe.won_stage.key
    _round_trip(won, Opportunity)


def test_structuring_bad_stored_data_names_the_field() -> None:
    data = conv.unstructure(opened())
    data["close_date"] = "2026-03-31T00:00:00+00:00"
    with pytest.raises(ValidationError, match="close_date"):
        structure(conv, data, Opportunity)
    data = conv.unstructure(opened())
    data["stage_history"][0]["entered_at"] = "2026-01-05T09:00:00"
    with pytest.raises(ValidationError, match=r"stage_history\[0\]"):
        structure(conv, data, Opportunity)
