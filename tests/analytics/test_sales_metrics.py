"""Sales metrics: hand-computed fixtures, multi-currency, empty input, bad input, JSON.

The fixture (DEFAULT_PIPELINE, opened at T0 = 2026-01-05 09:00 UTC; reported in
EUR on 2026-02-01 with USD->EUR 0.90, GBP->EUR 1.20):

    id  amount        owner  close       history (hours after T0)                 status
    o1  1000.00 EUR   u-1    2026-02-20  prospecting                              open
    o2  2000.00 USD   u-1    2026-03-10  prospecting, proposal@24                 open
    o3   500.00 GBP   u-2    2026-04-15  prospecting, negotiation@48              open
    o4  3000.00 EUR   u-2    2026-01-31  prosp., qualif.@24, proposal@72, won@120 won
    o5  1000.00 USD   -      2026-02-28  prospecting, qualification@24, lost@54   lost
    o6   100.01 USD   u-1    2026-02-20  qualification (opened there)             open
    o7  1000.00 USD   u-1    2026-02-10  prospecting, won@240                     won

Converted to EUR: o1 1000.00; o2 2000 x 0.90 = 1800.00; o3 500 x 1.20 = 600.00;
o4 3000.00; o5 900.00; o6 100.01 x 0.90 = 90.009 -> 90.01; o7 900.00.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crmkit.adapters.fixed_rates import FixedRates
from crmkit.analytics._shared import ratio
from crmkit.analytics.report import to_json, to_rows
from crmkit.analytics.sales import (
    DealSizeRow,
    Dimension,
    ForecastRow,
    FunnelRow,
    FunnelStep,
    Period,
    PipelineRow,
    SalesCycleRow,
    SourceRow,
    StageRow,
    WinRateRow,
    deal_size,
    forecast,
    funnel,
    lead_source_effectiveness,
    period_label,
    period_start,
    pipeline,
    sales_cycle,
    stage_conversion,
    win_rate,
)
from crmkit.analytics.sales_common import days, mean_median
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import loads, make_converter, structure
from crmkit.marketing.member import CampaignMember, ResponseChannel
from crmkit.ports.rates import RateMissing
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead, LeadSource
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import (
    DEFAULT_PIPELINE as P,
    ForecastCategory,
    Pipeline,
    Stage,
    StageKind,
)
from crmkit.sales.qualification import QualificationCriteria

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ON = date(2026, 2, 1)
RATES = FixedRates.of({("USD", "EUR"): "0.90", ("GBP", "EUR"): "1.20"})
FX: dict[str, Any] = {"currency": "EUR", "rates": RATES, "on": ON}


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def at(hours: float) -> Stamp:
    return Stamp(T0 + timedelta(hours=hours), "u-admin")


def make(
    id: str,
    amount: str,
    currency: str,
    close: date,
    *steps: tuple[str, float],
    owner: str | None = None,
    stage: str | None = None,
    lead_id: str | None = None,
    pipe: Pipeline = P,
) -> Opportunity:
    """Opened at T0, then moved ("<stage>", hours), won ("won", hours) or lost ("lost", hours)."""
    opp, _ = Opportunity.open(
        id,
        f"Deal {id}",
        pipe,
        at(0),
        amount=Money.of(amount, currency),
        close_date=close,
        owner_id=owner,
        stage=stage,
        lead_id=lead_id,
    )
    for what, hours in steps:
        if what == "won":
            opp, _ = opp.win(pipe, at(hours))
        elif what == "lost":
            opp, _ = opp.lose("no budget", pipe, at(hours))
        else:
            opp, _ = opp.move(what, pipe, at(hours))
    return opp


O1 = make("o1", "1000.00", "EUR", date(2026, 2, 20), owner="u-1")
O2 = make("o2", "2000.00", "USD", date(2026, 3, 10), ("proposal", 24), owner="u-1", lead_id="l4")
O3 = make("o3", "500.00", "GBP", date(2026, 4, 15), ("negotiation", 48), owner="u-2")
O4 = make(
    "o4",
    "3000.00",
    "EUR",
    date(2026, 1, 31),
    ("qualification", 24),
    ("proposal", 72),
    ("won", 120),
    owner="u-2",
    lead_id="l1",
)
O5 = make(
    "o5", "1000.00", "USD", date(2026, 2, 28), ("qualification", 24), ("lost", 54), lead_id="l5"
)
O6 = make("o6", "100.01", "USD", date(2026, 2, 20), owner="u-1", stage="qualification")
O7 = make("o7", "1000.00", "USD", date(2026, 2, 10), ("won", 240), owner="u-1")
OPPS = (O1, O2, O3, O4, O5, O6, O7)

conv = make_converter()


def round_trip(report: object) -> None:
    """to_json, then back through the strict converter, gives the same report."""
    assert structure(conv, loads(to_json(report)), type(report)) == report
    assert isinstance(to_rows(report), list)


def stream(items: tuple[Any, ...]) -> Iterator[Any]:
    """A one-shot iterator: the metrics must read their input once."""
    return iter(items)


# --- shared rules ------------------------------------------------------------------


def test_periods_ratios_and_days() -> None:
    assert period_label(date(2026, 2, 14), Period.MONTH) == "2026-02"
    assert period_label(date(2026, 12, 31), Period.QUARTER) == "2026-Q4"
    # 2026-01-01 is a Thursday: ISO week 1 of 2026; 2027-01-01 (Friday) is in 2026-W53.
    assert period_label(date(2026, 1, 1), Period.WEEK) == "2026-W01"
    assert period_label(date(2027, 1, 1), Period.WEEK) == "2026-W53"
    late = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 1 April 00:30 in Berlin (CEST, +2)
    assert period_start(late, Period.QUARTER) == date(2026, 1, 1)
    assert period_start(late, Period.QUARTER, ZoneInfo("Europe/Berlin")) == date(2026, 4, 1)
    assert period_start(late, "quarter", "Europe/Berlin") == date(2026, 4, 1)  # by name
    assert period_label(date(2026, 4, 1), Period.YEAR) == "2026"
    assert ratio(1, 3) == Decimal("0.3333")
    assert ratio(1, 8) == Decimal("0.1250")  # 0.125 exactly
    assert ratio(1, 0) is None
    assert days(timedelta(hours=30)) == Decimal("1.25")
    assert mean_median([]) == (None, None)
    # mean (1 + 2 + 2.005) / 3 = 1.668333 -> 1.67; median 2.
    assert mean_median([Decimal(1), Decimal(2), Decimal("2.005")]) == (
        Decimal("1.67"),
        Decimal("2.00"),
    )


# --- pipeline --------------------------------------------------------------------------


def test_pipeline_by_stage() -> None:
    report = pipeline(stream(OPPS), **FX)
    # Open only (o1, o2, o3, o6); weighted = converted x stage probability:
    # negotiation o3 600.00 x 0.80 = 480.00; proposal o2 1800.00 x 0.60 = 1080.00;
    # prospecting o1 1000.00 x 0.10 = 100.00; qualification o6 90.01 x 0.20 = 18.002 -> 18.00.
    assert report.rows == (
        PipelineRow("negotiation", None, None, None, 1, eur("600.00"), eur("480.00")),
        PipelineRow("proposal", None, None, None, 1, eur("1800.00"), eur("1080.00")),
        PipelineRow("prospecting", None, None, None, 1, eur("1000.00"), eur("100.00")),
        PipelineRow("qualification", None, None, None, 1, eur("90.01"), eur("18.00")),
    )
    # 600 + 1800 + 1000 + 90.01 = 3490.01; 480 + 1080 + 100 + 18 = 1678.00.
    assert (report.count, report.amount, report.weighted) == (4, eur("3490.01"), eur("1678.00"))
    assert (report.by, report.currency, report.on) == ((Dimension.STAGE,), "EUR", ON)
    round_trip(report)


def test_pipeline_by_owner_and_close_period() -> None:
    report = pipeline(OPPS, by=("owner", "period"), **FX)
    # u-1 in Feb: o1 + o6 = 1000.00 + 90.01 = 1090.01, weighted 100.00 + 18.00 = 118.00.
    assert report.rows == (
        PipelineRow(None, "u-1", "2026-02", None, 2, eur("1090.01"), eur("118.00")),
        PipelineRow(None, "u-1", "2026-03", None, 1, eur("1800.00"), eur("1080.00")),
        PipelineRow(None, "u-2", "2026-04", None, 1, eur("600.00"), eur("480.00")),
    )
    quarters = pipeline(OPPS, by="period", period="quarter", **FX)
    # Q1: o1 + o2 + o6 = 2890.01 (weighted 1198.00); Q2: o3.
    assert [(r.period, r.count, r.amount, r.weighted) for r in quarters.rows] == [
        ("2026-Q1", 3, eur("2890.01"), eur("1198.00")),
        ("2026-Q2", 1, eur("600.00"), eur("480.00")),
    ]
    # Unowned open deals are grouped under owner None, sorted last.
    unowned = make("o9", "10.00", "EUR", date(2026, 2, 1))
    assert [r.owner for r in pipeline([unowned, O1], by="owner", **FX).rows] == ["u-1", None]


def test_pipeline_created_period_uses_the_zone() -> None:
    opp, _ = Opportunity.open(
        "o-late",
        "Late",
        P,
        Stamp(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "u-1"),
        amount=eur("10.00"),
        close_date=date(2026, 5, 1),
    )
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin (CET, +1).
    assert pipeline([opp], by="created", **FX).rows[0].created == "2026-01"
    berlin = pipeline([opp], by="created", zone=ZoneInfo("Europe/Berlin"), **FX)
    assert berlin.rows[0].created == "2026-02"


def test_pipeline_in_another_reporting_currency_and_day() -> None:
    dated = FixedRates.of({("EUR", "USD"): "1.25", ("GBP", "USD"): "1.5"})
    report = pipeline([O1, O3, O6], by=(), currency="USD", rates=dated, on=ON)
    # o1 1000 EUR x 1.25 = 1250.00 (w 125.00); o3 500 GBP x 1.5 = 750.00 (w 600.00);
    # o6 100.01 USD (w 20.002 -> 20.00). Total 2100.01, weighted 745.00.
    assert report.rows == (
        PipelineRow(
            None, None, None, None, 3, Money.of("2100.01", "USD"), Money.of("745.00", "USD")
        ),
    )


def test_pipeline_of_nothing() -> None:
    report = pipeline([], **FX)
    assert (report.rows, report.count, report.amount, report.weighted) == (
        (),
        0,
        eur("0"),
        eur("0"),
    )
    round_trip(report)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"by": "colour"}, "by"),
        ({"by": ("stage", "stage")}, "by"),
        ({"by": 3}, "by"),
        ({"period": "decade"}, "period"),
        ({"zone": "Mars/Olympus"}, "zone"),
        ({"zone": 2}, "zone"),
        ({"currency": "euro"}, "currency"),
        ({"on": "2026-02-01"}, "on"),
        ({"rates": {"USD": "0.9"}}, "rates"),
    ],
)
def test_pipeline_refuses_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        pipeline(OPPS, **{**FX, **kwargs})
    assert caught.value.field == field


def test_bad_items_and_missing_rates() -> None:
    with pytest.raises(ValidationError) as caught:
        pipeline([O1, "o2"], **FX)  # type: ignore[list-item]
    assert caught.value.field == "opportunities[1]"
    with pytest.raises(ValidationError) as caught:
        pipeline(O1, **FX)  # type: ignore[arg-type]
    assert caught.value.field == "opportunities"
    with pytest.raises(RateMissing, match="GBP->EUR on 2026-02-01"):
        pipeline([O3], **{**FX, "rates": FixedRates.of({("USD", "EUR"): "0.9"})})


# --- forecast --------------------------------------------------------------------------


def test_forecast_by_quarter_and_category() -> None:
    report = forecast(stream(OPPS), **FX)
    # Q1 closed: o4 3000.00 + o7 900.00 = 3900.00 (probability 1); best case: o2;
    # pipeline: o1 + o6 = 1090.01 (w 118.00). Q2 commit: o3. o5 is lost: left out.
    assert report.rows == (
        ForecastRow("2026-Q1", ForecastCategory.CLOSED, 2, eur("3900.00"), eur("3900.00")),
        ForecastRow("2026-Q1", ForecastCategory.BEST_CASE, 1, eur("1800.00"), eur("1080.00")),
        ForecastRow("2026-Q1", ForecastCategory.PIPELINE, 2, eur("1090.01"), eur("118.00")),
        ForecastRow("2026-Q2", ForecastCategory.COMMIT, 1, eur("600.00"), eur("480.00")),
    )
    assert (report.closed, report.commit, report.best_case, report.pipeline) == (
        eur("3900.00"),
        eur("600.00"),
        eur("1800.00"),
        eur("1090.01"),
    )
    assert report.period is Period.QUARTER
    round_trip(report)


def test_forecast_by_month_empty_and_bad() -> None:
    months = forecast(OPPS, period=Period.MONTH, **FX)
    # January: o4 won (closes 31 Jan); February: o7 closed, o1 + o6 pipeline.
    assert [(r.period, r.category.value, r.count) for r in months.rows[:3]] == [
        ("2026-01", "closed", 1),
        ("2026-02", "closed", 1),
        ("2026-02", "pipeline", 2),
    ]
    empty = forecast([], **FX)
    assert (empty.rows, empty.closed, empty.pipeline) == ((), eur("0"), eur("0"))
    with pytest.raises(ValidationError) as caught:
        forecast(OPPS, period="fortnight", **FX)
    assert caught.value.field == "period"


# --- win rate, deal size, sales cycle -------------------------------------------------


def test_win_rate() -> None:
    report = win_rate(stream(OPPS))
    # Won o4, o7; lost o5: 2 / 3 = 0.6667.
    assert report.rows == (WinRateRow(None, 2, 1, Decimal("0.6667")),)
    assert (report.won, report.lost, report.win_rate) == (2, 1, Decimal("0.6667"))
    owners = win_rate(OPPS, by_owner=True)
    # u-1: o7 won (1/1); u-2: o4 won (1/1); unowned: o5 lost (0/1), sorted last.
    assert owners.rows == (
        WinRateRow("u-1", 1, 0, Decimal("1.0000")),
        WinRateRow("u-2", 1, 0, Decimal("1.0000")),
        WinRateRow(None, 0, 1, Decimal("0.0000")),
    )
    round_trip(owners)
    empty = win_rate([O1, O2])
    assert (empty.rows, empty.won, empty.lost, empty.win_rate) == ((), 0, 0, None)
    with pytest.raises(ValidationError) as caught:
        win_rate(OPPS, by_owner="yes")  # type: ignore[arg-type]
    assert caught.value.field == "by_owner"


def test_deal_size() -> None:
    report = deal_size(stream(OPPS), **FX)
    # Won: o4 3000.00 + o7 900.00 = 3900.00 over 2 deals = 1950.00.
    assert report.rows == (DealSizeRow(None, 2, eur("3900.00"), eur("1950.00")),)
    assert (report.won, report.amount, report.average) == (2, eur("3900.00"), eur("1950.00"))
    owners = deal_size(OPPS, by_owner=True, **FX)
    assert owners.rows == (
        DealSizeRow("u-1", 1, eur("900.00"), eur("900.00")),
        DealSizeRow("u-2", 1, eur("3000.00"), eur("3000.00")),
    )
    round_trip(report)
    # Averages round half to even: (0.01 + 0.02) / 2 = 0.015 -> 0.02; 0.01 + 0.04 -> 0.025 -> 0.02.
    a = make("a", "0.01", "EUR", ON, ("won", 1))
    b = make("b", "0.02", "EUR", ON, ("won", 1))
    c = make("c", "0.04", "EUR", ON, ("won", 1))
    assert deal_size([a, b], **FX).average == eur("0.02")
    assert deal_size([a, c], **FX).average == eur("0.02")
    empty = deal_size([O1], **FX)
    assert (empty.rows, empty.won, empty.amount, empty.average) == ((), 0, eur("0"), None)


def test_sales_cycle() -> None:
    report = sales_cycle(stream(OPPS))
    # o4 won at 120 h = 5 days; o5 lost at 54 h = 2.25 days; o7 won at 240 h = 10 days.
    # Mean (5 + 2.25 + 10) / 3 = 17.25 / 3 = 5.75; median 5.
    assert report.rows == (SalesCycleRow(None, 3, Decimal("5.75"), Decimal("5.00")),)
    assert (report.count, report.mean_days, report.median_days) == (
        3,
        Decimal("5.75"),
        Decimal("5.00"),
    )
    won = sales_cycle(OPPS, won_only=True)
    # Won only: (5 + 10) / 2 = 7.5; median of two values is their mean, 7.5.
    assert (won.count, won.mean_days, won.median_days) == (2, Decimal("7.50"), Decimal("7.50"))
    owners = sales_cycle(OPPS, by_owner=True)
    assert [(r.owner, r.count, r.mean_days) for r in owners.rows] == [
        ("u-1", 1, Decimal("10.00")),
        ("u-2", 1, Decimal("5.00")),
        (None, 1, Decimal("2.25")),
    ]
    round_trip(owners)
    empty = sales_cycle([O1])
    assert (empty.rows, empty.count, empty.mean_days, empty.median_days) == ((), 0, None, None)
    with pytest.raises(ValidationError) as caught:
        sales_cycle(OPPS, won_only=1)  # type: ignore[arg-type]
    assert caught.value.field == "won_only"


def test_a_reopened_deal_counts_up_to_its_last_close() -> None:
    opp = make("r", "1.00", "EUR", ON, ("lost", 24))
    opp, _ = opp.reopen(P, at(48))
    opp, _ = opp.win(P, at(72))
    # Opened T0, last closed at 72 h = 3 days.
    assert sales_cycle([opp]).mean_days == Decimal("3.00")


# --- stage conversion ------------------------------------------------------------------

OTHER = Pipeline(
    "other",
    "Other",
    (
        Stage("open", "Open", Decimal("0.5"), ForecastCategory.PIPELINE),
        Stage("won", "Won", 1, ForecastCategory.CLOSED, StageKind.WON),
        Stage("lost", "Lost", 0, ForecastCategory.OMITTED, StageKind.LOST),
    ),
)


def test_stage_conversion() -> None:
    foreign = make("x", "1.00", "EUR", ON, pipe=OTHER)
    report = stage_conversion(stream((*OPPS, foreign)), P)
    d = Decimal
    # prospecting: entered by o1 o2 o3 o4 o5 o7 = 6; went further: o2 o3 o4 o5 o7 = 5 (5/6);
    #   completed visits o2 1 d, o3 2 d, o4 1 d, o5 1 d, o7 10 d: mean 15/5 = 3, median 1.
    # qualification: o4 o5 o6 = 3; only o4 went further (o5 was lost): 1/3;
    #   visits o4 48 h = 2 d, o5 30 h = 1.25 d: mean 1.625 -> 1.62 (half even), median 1.62.
    # proposal: o2 o4 = 2; o4 won: 1/2; visit o4 48 h = 2 d.
    # negotiation: o3 still there: 0/1, no completed visit.
    assert report.rows == (
        StageRow("prospecting", StageKind.OPEN, 6, 5, d("0.8333"), 5, d("3.00"), d("1.00")),
        StageRow("qualification", StageKind.OPEN, 3, 1, d("0.3333"), 2, d("1.62"), d("1.62")),
        StageRow("needs_analysis", StageKind.OPEN, 0, 0, None, 0, None, None),
        StageRow("proposal", StageKind.OPEN, 2, 1, d("0.5000"), 1, d("2.00"), d("2.00")),
        StageRow("negotiation", StageKind.OPEN, 1, 0, d("0.0000"), 0, None, None),
        StageRow("closed_won", StageKind.WON, 2, 0, None, 0, None, None),
        StageRow("closed_lost", StageKind.LOST, 1, 0, None, 0, None, None),
    )
    assert (report.pipeline_id, report.skipped) == ("default", 1)
    round_trip(report)


def test_stage_conversion_counts_an_opportunity_once_per_stage() -> None:
    # prospecting -> proposal -> prospecting (back) -> won: entered prospecting once, and
    # went further from it; two completed prospecting visits (24 h and 24 h).
    opp = make("b", "1.00", "EUR", ON, ("proposal", 24), ("prospecting", 48), ("won", 72))
    row = stage_conversion([opp], P).rows[0]
    assert (row.entered, row.advanced, row.visits, row.mean_days) == (1, 1, 2, Decimal("1.00"))


def test_stage_conversion_empty_and_bad() -> None:
    empty = stage_conversion([], P)
    assert [r.entered for r in empty.rows] == [0] * 7
    assert empty.skipped == 0
    with pytest.raises(ValidationError) as caught:
        stage_conversion(OPPS, "default")  # type: ignore[arg-type]
    assert caught.value.field == "pipeline"


# --- lead sources and funnel ------------------------------------------------------------


def lead(id: str, channel: str, campaign: str | None, opportunity: str | None = None) -> Lead:
    """A captured lead; converted (to ``opportunity``, if given) when ``opportunity`` is set."""
    source = LeadSource(channel, campaign_id=campaign)
    new, _ = Lead.capture(id, LeadInput(company=f"Company {id}", source=source), at(0))
    if opportunity is None:
        return new
    qualified, _ = new.qualify(QualificationCriteria(), at(1))
    converted, _ = qualified.convert(
        at(2), account_id=f"a-{id}", contact_id=f"c-{id}", opportunity_id=opportunity or None
    )
    return converted


def merged(id: str) -> Lead:
    duplicate = lead(id, "web", None)
    return duplicate.merge_into("l1", at(3))[0]


# l1 web, converted (o4 names it as its lead); l2 web, new; l3 email/cmp-1, converted to
# o7 (found through the lead's opportunity_id); l4 email/cmp-1, new (o2 names it);
# l5 email/cmp-2, converted (o5 names it, lost); l6 a duplicate merged into l1: not counted.
LEADS = (
    lead("l1", "web", None, ""),
    lead("l2", "web", None),
    lead("l3", "email", "cmp-1", "o7"),
    lead("l4", "email", "cmp-1"),
    lead("l5", "email", "cmp-2", ""),
    merged("l6"),
)
O8 = make("o8", "50.00", "EUR", ON, ("won", 1))  # won, no lead: unattributed


def test_lead_source_effectiveness() -> None:
    report = lead_source_effectiveness(stream(LEADS), stream((*OPPS, O8)), **FX)
    assert report.rows == (
        # l3 + l4: 1 of 2 converted; o7 won: 1000 USD x 0.90 = 900.00.
        SourceRow("email", "cmp-1", 2, 1, Decimal("0.5000"), 1, eur("900.00")),
        # l5 converted, but o5 was lost.
        SourceRow("email", "cmp-2", 1, 1, Decimal("1.0000"), 0, eur("0")),
        # l1 + l2 (l6 merged away): o4 won, 3000.00.
        SourceRow("web", None, 2, 1, Decimal("0.5000"), 1, eur("3000.00")),
    )
    assert (report.leads, report.converted, report.won) == (5, 3, 2)
    assert (report.won_amount, report.unattributed) == (eur("3900.00"), 1)
    round_trip(report)
    channels = lead_source_effectiveness(LEADS, OPPS, by_campaign=False, **FX)
    # email: 3 leads, 2 converted = 0.6667.
    assert channels.rows[0] == SourceRow("email", None, 3, 2, Decimal("0.6667"), 1, eur("900.00"))
    empty = lead_source_effectiveness([], [], **FX)
    assert (empty.rows, empty.leads, empty.won_amount, empty.unattributed) == ((), 0, eur("0"), 0)


def test_lead_source_effectiveness_refuses_bad_input() -> None:
    with pytest.raises(ValidationError) as caught:
        lead_source_effectiveness([O1], OPPS, **FX)  # type: ignore[list-item]
    assert caught.value.field == "leads[0]"
    with pytest.raises(ValidationError) as caught:
        lead_source_effectiveness(LEADS, OPPS, by_campaign=None, **FX)  # type: ignore[arg-type]
    assert caught.value.field == "by_campaign"


def member(id: str, campaign: str, responded: bool) -> CampaignMember:
    m, _ = CampaignMember.target(id, campaign, at(0), contact_id=f"c-{id}")
    m, _ = m.send(at(1))
    if responded:
        m, _ = m.respond(ResponseChannel.WEB, at(2))
    return m


MEMBERS = (
    member("m1", "cmp-1", True),
    member("m2", "cmp-1", True),
    member("m3", "cmp-1", False),
    member("m4", "cmp-2", True),
)


def test_funnel_of_one_campaign() -> None:
    report = funnel(stream(MEMBERS), stream(LEADS), stream(OPPS), campaign_id="cmp-1")
    # cmp-1: responses m1, m2 = 2; leads l3, l4 = 2; opportunities o7 (l3's) and o2 (names l4)
    # = 2; won o7 = 1. Conversions: 2/2, 2/2, 1/2; overall (of 2 responses): 1, 1, 0.5.
    one, half = Decimal("1.0000"), Decimal("0.5000")
    assert report.rows == (
        FunnelRow(FunnelStep.RESPONSES, 2, None, one),
        FunnelRow(FunnelStep.LEADS, 2, one, one),
        FunnelRow(FunnelStep.OPPORTUNITIES, 2, one, one),
        FunnelRow(FunnelStep.WON, 1, half, half),
    )
    assert report.campaign_id == "cmp-1"
    round_trip(report)


def test_funnel_of_every_campaign_empty_and_bad() -> None:
    report = funnel(MEMBERS, LEADS, OPPS)
    # Responses m1, m2, m4 = 3; leads l3, l4, l5 = 3; opportunities o7, o2, o5 = 3; won o7:
    # 1/3 = 0.3333 of opportunities and of responses.
    assert [(r.count, r.conversion, r.overall) for r in report.rows] == [
        (3, None, Decimal("1.0000")),
        (3, Decimal("1.0000"), Decimal("1.0000")),
        (3, Decimal("1.0000"), Decimal("1.0000")),
        (1, Decimal("0.3333"), Decimal("0.3333")),
    ]
    empty = funnel([], [], [])
    assert [(r.count, r.conversion, r.overall) for r in empty.rows] == [(0, None, None)] * 4
    with pytest.raises(ValidationError) as caught:
        funnel(MEMBERS, LEADS, OPPS, campaign_id="")
    assert caught.value.field == "campaign_id"
    with pytest.raises(ValidationError) as caught:
        funnel(LEADS, LEADS, OPPS)  # type: ignore[arg-type]
    assert caught.value.field == "members[0]"


def test_report_json_shape() -> None:
    # Each report type is round-tripped above; this pins the JSON shape of one.
    report = win_rate([O4, O5])
    assert json.loads(to_json(report)) == {
        "rows": [{"owner": None, "won": 1, "lost": 1, "win_rate": "0.5000"}],
        "by_owner": False,
        "won": 1,
        "lost": 1,
        "win_rate": "0.5000",
    }
