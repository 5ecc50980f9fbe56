"""Customer metrics: purchases, RFM, lifetime value, churn risk, cohorts, category affinity.

Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crmkit.analytics.cohorts import ChurnRisk, churn_risk, cohort_retention
from crmkit.analytics.customers import Purchase, category_mix, category_pairs, purchases_of
from crmkit.analytics.report import to_json, to_rows
from crmkit.analytics.rfm import RFM_SEGMENTS, RfmSegment, lifetime_value, quintiles, rfm
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE
from crmkit.sales.pricing import Line


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def at(y: int, m: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


AS_OF = at(2026, 7, 1)

# Five customers, chosen so that R, F and M each take all five scores.
#   c1: 3 purchases, last 2026-06-21 (10 days before AS_OF), 600.00
#   c2: 2 purchases, last 2026-06-01 (30 days), 100.00 (+ one after AS_OF, ignored)
#   c3: 1 purchase on 2026-03-03 (28 + 30 + 31 + 30 + 1 = 120 days), 1000.00
#   c4: 4 purchases, last 2025-10-01 (92 + 181 = 273 days), 80.00
#   c5: 5 purchases, last 2026-06-30 (1 day), 50.00
PURCHASES = [
    Purchase("c1", at(2026, 1, 10), eur("300.00")),
    Purchase("c1", at(2026, 4, 1), eur("200.00")),
    Purchase("c1", at(2026, 6, 21), eur("100.00")),
    Purchase("c2", at(2026, 5, 1), eur("50.00")),
    Purchase("c2", at(2026, 6, 1), eur("50.00")),
    Purchase("c2", at(2026, 7, 2), eur("999.00")),
    Purchase("c3", at(2026, 3, 3), eur("1000.00")),
    *(Purchase("c4", at(2025, m, 1), eur("20.00")) for m in (7, 8, 9, 10)),
    *(Purchase("c5", at(2026, m, 1), eur("10.00")) for m in (2, 3, 4, 5)),
    Purchase("c5", at(2026, 6, 30), eur("10.00")),
]


# --- Purchase and purchases_of ------------------------------------------------------


def test_purchase_checks_its_fields() -> None:
    assert Purchase("c1", AS_OF, eur("1"), ["a", " a", "b"]).categories == ("a", "b")
    with pytest.raises(ValidationError, match="customer_id"):
        Purchase("", AS_OF, eur("1"))
    with pytest.raises(ValidationError, match=r"^at"):
        Purchase("c1", datetime(2026, 1, 1), eur("1"))
    with pytest.raises(ValidationError, match="amount: must not be negative"):
        Purchase("c1", AS_OF, eur("-1"))
    with pytest.raises(ValidationError, match="amount: must be Money"):
        Purchase("c1", AS_OF, Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"categories\[0\]"):
        Purchase("c1", AS_OF, eur("1"), ("a\x00",))


def _won(
    opp_id: str, account: str | None, contacts: tuple[str, ...], lines: list[Line]
) -> Opportunity:
    stamp = Stamp(at(2026, 1, 1), "u-1")
    opp, _ = Opportunity.open(
        opp_id,
        "Deal",
        DEFAULT_PIPELINE,
        stamp,
        amount=eur("0"),
        close_date=date(2026, 3, 1),
        account_id=account,
        contact_ids=contacts,
    )
    if lines:
        opp, _ = opp.set_lines(lines, stamp)
    opp, _ = opp.win(DEFAULT_PIPELINE, Stamp(at(2026, 3, 5, 9), "u-1"))
    return opp


def test_purchases_of_won_opportunities() -> None:
    lines = [
        Line("p-1", "Licence", Decimal(2), eur("100.00")),
        Line("p-2", "Course", Decimal(1), eur("50.00")),
        Line(None, "Travel", Decimal(1), eur("10.00")),
        Line("p-9", "Unmapped", Decimal(1), eur("5.00")),
    ]
    won = _won("o-1", "a-1", ("k-1", "k-2"), lines)
    no_account = _won("o-2", None, (), [])
    open_one, _ = Opportunity.open(
        "o-3",
        "Open",
        DEFAULT_PIPELINE,
        Stamp(AS_OF, "u"),
        amount=eur("9"),
        close_date=date(2026, 1, 1),
    )
    categories = {"p-1": "software", "p-2": "training"}
    found = list(purchases_of([won, no_account, open_one], categories))
    # 2 × 100 + 50 + 10 + 5 = 265.00, on the close date at midnight UTC (not the 09:00 win).
    assert found == [Purchase("a-1", at(2026, 3, 1), eur("265.00"), ("software", "training"))]
    by_contact = list(purchases_of([won, no_account], by="contact"))
    assert [(p.customer_id, p.categories) for p in by_contact] == [("k-1", ())]


def test_purchases_of_bad_input() -> None:
    with pytest.raises(ValidationError, match=r"^by"):
        purchases_of([], by="team")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="categories_by_product"):
        purchases_of([], ["p-1"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^opportunities:"):
        purchases_of("o-1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"opportunities\[0\]"):
        list(purchases_of([object()]))  # type: ignore[list-item]


# --- RFM ----------------------------------------------------------------------


def test_quintiles_ties_and_few_values() -> None:
    # n = 5, values 1, 1, 2, 3, 4: p = (below + ties / 2) / n, score = floor(5p) + 1
    #   1: (0 + 1) / 5 = 0.2 -> 2 (a boundary goes up); 2: 2.5 / 5 = 0.5 -> 3;
    #   3: 3.5 / 5 = 0.7 -> 4; 4: 4.5 / 5 = 0.9 -> 5
    assert quintiles({"a": 1, "b": 1, "c": 2, "d": 3, "e": 4}) == {
        "a": 2,
        "b": 2,
        "c": 3,
        "d": 4,
        "e": 5,
    }
    assert quintiles({"a": 7}) == {"a": 3}  # p = 0.5
    assert quintiles({"a": 1, "b": 2}) == {"a": 2, "b": 4}  # p = 0.25, 0.75
    assert quintiles({"a": 5, "b": 5, "c": 5}) == {"a": 3, "b": 3, "c": 3}
    assert quintiles({}) == {}
    with pytest.raises(ValidationError, match=r"values\['a'\]"):
        quintiles({"a": 0.5})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match=r"values\['a'\]"):
        quintiles({"a": Decimal("NaN")})


def test_rfm_hand_computed() -> None:
    report = rfm(PURCHASES, AS_OF, "EUR")
    # Distinct values, so each metric scores 1..5 by rank:
    #   recency 1 (c5) < 10 (c1) < 30 (c2) < 120 (c3) < 273 (c4) -> R 5, 4, 3, 2, 1
    #   frequency 1 (c3) < 2 (c2) < 3 (c1) < 4 (c4) < 5 (c5)      -> F 1, 2, 3, 4, 5
    #   monetary 50 (c5) < 80 (c4) < 100 (c2) < 600 (c1) < 1000 (c3) -> M 1 .. 5
    # FM = (F + M + 1) // 2: c1 (3+4+1)//2 = 4; c2 (2+3+1)//2 = 3; c3 (1+5+1)//2 = 3;
    #   c4 (4+2+1)//2 = 3; c5 (5+1+1)//2 = 3.
    # Segments: c1 R4 FM4 champions; c2 R3 FM3 loyal; c3 R2 FM3 and c4 R1 FM3 at risk;
    #   c5 R5 FM3 loyal.
    got = [
        (r.customer_id, r.recency_days, r.frequency, r.monetary, r.code, r.fm, r.segment)
        for r in report.rows
    ]
    assert got == [
        ("c1", 10, 3, eur("600.00"), "434", 4, "champions"),
        ("c2", 30, 2, eur("100.00"), "323", 3, "loyal"),
        ("c3", 120, 1, eur("1000.00"), "215", 3, "at risk"),
        ("c4", 273, 4, eur("80.00"), "142", 3, "at risk"),
        ("c5", 1, 5, eur("50.00"), "551", 3, "loyal"),
    ]
    assert report.customers == 5
    assert report.total == eur("1830.00")  # 600 + 100 + 1000 + 80 + 50
    assert report.segments == {"at risk": 2, "champions": 1, "loyal": 2}
    assert report.classes()["c1"] == "champions"
    assert report.rows[1].last_purchase_at == at(
        2026, 6, 1
    )  # the 2026-07-02 purchase is after AS_OF


def test_rfm_ties_single_and_empty() -> None:
    tied = rfm(
        [Purchase("a", at(2026, 6, 1), eur("5")), Purchase("b", at(2026, 6, 1), eur("5"))],
        AS_OF,
        "EUR",
    )
    # Both tie on everything: p = (0 + 2/2) / 2 = 0.5 -> 3, so both are "333", loyal.
    assert [(r.code, r.segment) for r in tied.rows] == [("333", "loyal"), ("333", "loyal")]
    single = rfm([Purchase("a", at(2026, 6, 1), eur("5"))], AS_OF, "EUR")
    assert (single.rows[0].code, single.rows[0].recency_days) == ("333", 30)
    empty = rfm([], AS_OF, "EUR")
    assert (empty.rows, empty.customers, empty.total, empty.segments) == ((), 0, eur("0"), {})


def test_every_cell_of_the_default_grid_has_one_first_segment() -> None:
    names = {rule.name for rule in RFM_SEGMENTS}
    assert len(names) == 11
    grid = {
        (r, fm): next(s.name for s in RFM_SEGMENTS if s.holds(r, fm))
        for r in range(1, 6)
        for fm in range(1, 6)
    }
    assert {grid[5, 1], grid[4, 1], grid[3, 1], grid[3, 2]} == {
        "new",
        "promising",
        "about to sleep",
        "needs attention",
    }
    assert (grid[5, 5], grid[1, 5], grid[1, 1], grid[2, 2], grid[4, 2]) == (
        "champions",
        "can't lose",
        "lost",
        "hibernating",
        "potential loyalist",
    )
    assert set(grid.values()) == names


def test_rfm_with_a_host_table() -> None:
    table = (RfmSegment("good", 3, 5, 1, 5), RfmSegment("bad", 1, 2, 1, 5))
    assert rfm(PURCHASES, AS_OF, "EUR", segments=table).segments == {"bad": 2, "good": 3}


def test_rfm_bad_input() -> None:
    with pytest.raises(ValidationError, match=r"purchases\[0\].amount: must be in USD"):
        rfm(PURCHASES, AS_OF, "USD")
    with pytest.raises(ValidationError, match=r"^currency"):
        rfm(PURCHASES, AS_OF, "EURO")
    with pytest.raises(ValidationError, match=r"^as_of"):
        rfm(PURCHASES, datetime(2026, 7, 1), "EUR")
    with pytest.raises(ValidationError, match=r"purchases\[1\]"):
        rfm([PURCHASES[0], "x"], AS_OF, "EUR")  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="segments: must cover R=1, FM=1"):
        rfm(PURCHASES, AS_OF, "EUR", segments=(RfmSegment("x", 2, 5, 1, 5),))
    with pytest.raises(ValidationError, match=r"segments\[0\]"):
        rfm(PURCHASES, AS_OF, "EUR", segments=("champions",))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="r_min"):
        RfmSegment("x", 0, 5, 1, 5)


# --- lifetime value ---------------------------------------------------------------


def test_lifetime_value_defaults() -> None:
    report = lifetime_value(PURCHASES, AS_OF, "EUR")
    # predicted = average order × purchases × 365 / max(tenure, 365) × 3 years × margin 1
    #   c1: tenure 2026-01-10 -> 07-01 = day 182 - day 10 = 172 days; 200.00 × 3 × 3 = 1800.00
    #   c2: 61 days; 50.00 × 2 × 3 = 300.00     c3: 120 days; 1000.00 × 1 × 3 = 3000.00
    #   c4: 2025-07-01 -> 2026-07-01 = 365 days; 20.00 × 4 × 3 = 240.00
    #   c5: 150 days; 10.00 × 5 × 3 = 150.00
    got = [
        (r.customer_id, r.tenure_days, r.average_order, r.purchases_per_year, r.predicted)
        for r in report.rows
    ]
    assert got == [
        ("c1", 172, eur("200.00"), Decimal("3.0000"), eur("1800.00")),
        ("c2", 61, eur("50.00"), Decimal("2.0000"), eur("300.00")),
        ("c3", 120, eur("1000.00"), Decimal("1.0000"), eur("3000.00")),
        ("c4", 365, eur("20.00"), Decimal("4.0000"), eur("240.00")),
        ("c5", 150, eur("10.00"), Decimal("5.0000"), eur("150.00")),
    ]
    assert report.historical == eur("1830.00")
    assert report.predicted == eur("5490.00")  # 1800 + 300 + 3000 + 240 + 150


def test_lifetime_value_rounds_once() -> None:
    buys = [
        Purchase("x", at(2024, 1, 1), eur("10.00")),
        Purchase("x", at(2024, 7, 1), eur("15.00")),
        Purchase("x", at(2025, 1, 1), eur("20.01")),
    ]
    report = lifetime_value(buys, at(2026, 1, 1), "EUR", lifetime_years=2, margin=Decimal("0.35"))
    row = report.rows[0]
    # tenure 2024-01-01 -> 2026-01-01 = 366 + 365 = 731 days (more than 365)
    # average 45.01 / 3 = 15.00333.. -> 15.00; per year 3 × 365 / 731 = 1.49794.. -> 1.4979
    # predicted 45.01 / 3 × 1095 / 731 × 2 × 0.35 = 11500.055 / 731 = 15.7319.. -> 15.73
    assert (row.tenure_days, row.average_order, row.purchases_per_year, row.predicted) == (
        731,
        eur("15.00"),
        Decimal("1.4979"),
        eur("15.73"),
    )
    assert (report.lifetime_years, report.margin) == (Decimal(2), Decimal("0.35"))


def test_lifetime_value_empty_and_bad_input() -> None:
    empty = lifetime_value([], AS_OF, "JPY")
    assert (empty.rows, empty.historical, empty.predicted) == (
        (),
        Money.of(0, "JPY"),
        Money.of(0, "JPY"),
    )
    with pytest.raises(ValidationError, match=r"^margin"):
        lifetime_value(PURCHASES, AS_OF, "EUR", margin=Decimal("1.5"))
    with pytest.raises(ValidationError, match=r"^lifetime_years"):
        lifetime_value(PURCHASES, AS_OF, "EUR", lifetime_years=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^min_tenure_days"):
        lifetime_value(PURCHASES, AS_OF, "EUR", min_tenure_days=0)
    with pytest.raises(ValidationError, match=r"purchases\[0\].amount"):
        lifetime_value(PURCHASES, AS_OF, "GBP")


# --- churn risk -------------------------------------------------------------------


def test_churn_risk_hand_computed() -> None:
    report = churn_risk(PURCHASES, AS_OF, open_complaints={"c3": 2, "c5": 0, "nobody": 5})
    # Periods of 90 days: last (2026-04-02, 07-01], previous (2026-01-02, 04-02].
    # c1: gap (06-21 - 01-10) / 2 = 162 / 2 = 81; 10 / 81 = 0.1235 (not overdue);
    #     recent 1 (06-21), previous 2 (01-10, 04-01): falling -> 1 point, medium
    # c2: gap 31; 30 / 31 = 0.9677; recent 2, previous 0; no complaints -> 0, low
    # c3: one purchase, 120 days > 90 -> 1; recent 0 < previous 1 -> 1; 2 complaints -> 2;
    #     4 points, high
    # c4: gap (2025-10-01 - 07-01) / 3 = 92 / 3 = 30.6667; 273 / 30.6667 = 8.9022 >= 3 -> 3,
    #     high
    # c5: gap (06-30 - 02-01) / 4 = 149 / 4 = 37.25; 1 / 37.25 = 0.0268; recent 2 (05-01, 06-30)
    #     < previous 3 (02-01, 03-01, 04-01) -> 1 point, medium
    got = [
        (
            r.customer_id,
            r.days_since_last,
            r.typical_gap_days,
            r.overdue_ratio,
            r.recent_purchases,
            r.previous_purchases,
            r.open_complaints,
            r.points,
            r.risk,
            r.reasons,
        )
        for r in report.rows
    ]
    assert got == [
        (
            "c1",
            10,
            Decimal("81.0000"),
            Decimal("0.1235"),
            1,
            2,
            0,
            1,
            ChurnRisk.MEDIUM,
            ("falling frequency",),
        ),
        ("c2", 30, Decimal("31.0000"), Decimal("0.9677"), 2, 0, 0, 0, ChurnRisk.LOW, ()),
        (
            "c3",
            120,
            None,
            None,
            0,
            1,
            2,
            4,
            ChurnRisk.HIGH,
            ("overdue", "falling frequency", "open complaints"),
        ),
        (
            "c4",
            273,
            Decimal("30.6667"),
            Decimal("8.9022"),
            0,
            0,
            0,
            3,
            ChurnRisk.HIGH,
            ("overdue",),
        ),
        (
            "c5",
            1,
            Decimal("37.2500"),
            Decimal("0.0268"),
            2,
            3,
            0,
            1,
            ChurnRisk.MEDIUM,
            ("falling frequency",),
        ),
    ]
    assert (report.low, report.medium, report.high) == (1, 2, 2)


def test_churn_risk_edges_and_bad_input() -> None:
    # Two purchases on one day: gap 0 counts as 1 day; 2 days since -> ratio 2 >= 1.5 -> 1 point.
    same_day = [
        Purchase("a", at(2026, 6, 29), eur("1")),
        Purchase("a", at(2026, 6, 29), eur("2")),
    ]
    row = churn_risk(same_day, AS_OF).rows[0]
    assert (row.typical_gap_days, row.overdue_ratio, row.points, row.risk) == (
        Decimal("0.0000"),
        Decimal("2.0000"),
        1,
        ChurnRisk.MEDIUM,
    )
    # A single purchase 181 days back: more than 2 × 90 -> 3 points, high.
    assert (
        churn_risk([Purchase("a", at(2026, 1, 1), eur("1"))], AS_OF).rows[0].risk is ChurnRisk.HIGH
    )
    assert churn_risk([], AS_OF).rows == ()
    with pytest.raises(ValidationError, match="period_days"):
        churn_risk(PURCHASES, AS_OF, period_days=0)
    with pytest.raises(ValidationError, match=r"open_complaints\['c1'\]"):
        churn_risk(PURCHASES, AS_OF, open_complaints={"c1": -1})
    with pytest.raises(ValidationError, match=r"^open_complaints"):
        churn_risk(PURCHASES, AS_OF, open_complaints=[("c1", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^purchases:"):
        churn_risk(None, AS_OF)  # type: ignore[arg-type]


# --- cohorts -----------------------------------------------------------------------


COHORT_BUYS = [
    Purchase("a", at(2026, 1, 15), eur("1")),
    Purchase("a", at(2026, 2, 10), eur("1")),
    Purchase("a", at(2026, 3, 5), eur("1")),
    Purchase("b", at(2026, 1, 31, 23, 30), eur("1")),  # 1 February 00:30 in Berlin
    Purchase("b", at(2026, 3, 20), eur("1")),
    Purchase("c", at(2026, 1, 2), eur("1")),
    Purchase("c", at(2026, 3, 1), eur("1")),
    Purchase("d", at(2026, 2, 14), eur("1")),
]


def _cells(report: object) -> list[tuple[int, int, int, int, Decimal]]:
    return [
        (r["cohort"].month, r["size"], r["offset"], r["retained"], r["rate"])
        for r in to_rows(report)
    ]  # type: ignore[union-attr]


def test_cohorts_in_utc() -> None:
    report = cohort_retention(COHORT_BUYS)
    # January cohort a, b, c (3): February only a -> 1/3 = 0.3333; March a, b, c -> 3/3.
    # February cohort d (1): March none -> 0/1.
    assert _cells(report) == [
        (1, 3, 0, 3, Decimal("1.0000")),
        (1, 3, 1, 1, Decimal("0.3333")),
        (1, 3, 2, 3, Decimal("1.0000")),
        (2, 1, 0, 1, Decimal("1.0000")),
        (2, 1, 1, 0, Decimal("0.0000")),
    ]
    assert (report.customers, report.last_month) == (4, date(2026, 3, 1))
    assert report.rows[1].month == date(2026, 2, 1)


def test_cohorts_in_the_callers_zone() -> None:
    report = cohort_retention(COHORT_BUYS, "Europe/Berlin")
    # In Berlin b starts in February: January cohort a, c (2): February a -> 1/2,
    # March a, c -> 2/2; February cohort b, d (2): March b -> 1/2.
    assert _cells(report) == [
        (1, 2, 0, 2, Decimal("1.0000")),
        (1, 2, 1, 1, Decimal("0.5000")),
        (1, 2, 2, 2, Decimal("1.0000")),
        (2, 2, 0, 2, Decimal("1.0000")),
        (2, 2, 1, 1, Decimal("0.5000")),
    ]
    assert report.zone == ZoneInfo("Europe/Berlin")


def test_cohorts_single_empty_and_bad_input() -> None:
    single = cohort_retention([Purchase("a", at(2025, 12, 31), eur("1"))])
    assert _cells(single) == [(12, 1, 0, 1, Decimal("1.0000"))]
    empty = cohort_retention([])
    assert (empty.rows, empty.customers, empty.last_month) == ((), 0, None)
    with pytest.raises(ValidationError, match=r"^zone"):
        cohort_retention([], "Mars/Olympus")
    with pytest.raises(ValidationError, match=r"^zone"):
        cohort_retention([], UTC)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"purchases\[0\]"):
        cohort_retention([{"customer_id": "a"}])  # type: ignore[list-item]


# --- category affinity ------------------------------------------------------------


AFFINITY = [
    Purchase("a", at(2026, 1, 1), eur("30.00"), ("software", "training")),
    Purchase("a", at(2026, 2, 1), eur("10.00"), ("software",)),
    Purchase("b", at(2026, 1, 1), eur("20.01"), ("software", "support")),
    Purchase("c", at(2026, 1, 1), eur("9.00"), ("training",)),
    Purchase("d", at(2026, 1, 1), eur("5.00")),  # no category: left out
]


def test_category_mix_hand_computed() -> None:
    report = category_mix(AFFINITY, "EUR")
    # a: 30.00 splits 15.00 / 15.00, plus 10.00 software -> software 2 × (25.00), training 15.00
    # b: 20.01 splits 10.01 (first) / 10.00
    assert [(r.customer_id, r.category, r.purchases, r.amount) for r in report.rows] == [
        ("a", "software", 2, eur("25.00")),
        ("a", "training", 1, eur("15.00")),
        ("b", "software", 1, eur("10.01")),
        ("b", "support", 1, eur("10.00")),
        ("c", "training", 1, eur("9.00")),
    ]
    assert (report.customers, report.total) == (3, eur("69.01"))  # 30 + 10 + 20.01 + 9
    with pytest.raises(ValidationError, match=r"purchases\[0\].amount"):
        category_mix(AFFINITY, "USD")
    assert category_mix([], "EUR").total == eur("0")


def test_category_pairs_hand_computed() -> None:
    report = category_pairs(AFFINITY)
    # Baskets: a {software, training}, b {software, support}, c {training}; n = 3.
    # Buyers: software 2, training 2, support 1. Every pair is shared by 1 customer,
    # support 1/3 = 0.3333.
    #   support -> software: confidence 1/1, lift 1 / (2/3) = 1.5
    #   software -> support: 1/2, lift 0.5 / (1/3) = 1.5
    #   software -> training and training -> software: 1/2, lift 0.5 / (2/3) = 0.75
    third = Decimal("0.3333")
    assert [
        (r.antecedent, r.consequent, r.customers, r.support, r.confidence, r.lift)
        for r in report.rows
    ] == [
        ("support", "software", 1, third, Decimal("1.0000"), Decimal("1.5000")),
        ("software", "support", 1, third, Decimal("0.5000"), Decimal("1.5000")),
        ("software", "training", 1, third, Decimal("0.5000"), Decimal("0.7500")),
        ("training", "software", 1, third, Decimal("0.5000"), Decimal("0.7500")),
    ]
    assert report.customers == 3
    assert category_pairs(AFFINITY, min_customers=2).rows == ()
    assert category_pairs([]).customers == 0
    with pytest.raises(ValidationError, match="min_customers"):
        category_pairs(AFFINITY, min_customers=True)  # type: ignore[arg-type]


# --- JSON ------------------------------------------------------------------------------


def test_every_report_serialises() -> None:
    reports = [
        rfm(PURCHASES, AS_OF, "EUR"),
        lifetime_value(PURCHASES, AS_OF, "EUR"),
        churn_risk(PURCHASES, AS_OF),
        cohort_retention(COHORT_BUYS, "Europe/Berlin"),
        category_mix(AFFINITY, "EUR"),
        category_pairs(AFFINITY),
    ]
    decoded = [json.loads(to_json(report)) for report in reports]
    assert decoded[0]["rows"][0]["code"] == "434"
    assert decoded[0]["segments"] == {"at risk": 2, "champions": 1, "loyal": 2}
    assert decoded[1]["predicted"] == {"amount": "5490.00", "currency": "EUR"}
    assert decoded[2]["rows"][3]["risk"] == "high"
    assert decoded[2]["rows"][1]["typical_gap_days"] == "31.0000"
    assert decoded[3]["zone"] == "Europe/Berlin"
    assert decoded[3]["rows"][1]["rate"] == "0.5000"
    assert decoded[4]["rows"][2]["amount"] == {"amount": "10.01", "currency": "EUR"}
    assert decoded[5]["rows"][0]["lift"] == "1.5000"
    assert all(len(to_rows(report)) == len(report.rows) for report in reports)
