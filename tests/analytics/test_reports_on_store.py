"""Reports on the store: hand-computed figures, and pushdown equal to the Python fallback."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crmkit import Crm, FakeClock, Principal
from crmkit.adapters.fixed_rates import FixedRates
from crmkit.adapters.sqlite import SqliteStore
from crmkit.analytics.report import to_json
from crmkit.analytics.sales import pipeline as pure_pipeline
from crmkit.app.records import OPPORTUNITIES
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.ports.storage import DocumentStore
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX = Principal("u-max", roles={"sales_manager"})
RATES = FixedRates.of({("USD", "EUR"): Decimal("0.9")})
STAGES = ("prospecting", "proposal", "negotiation")


def _save(crm: Crm, deals: list[tuple[str, str, str, str | None, date]], won: int = 0) -> None:
    """Save deals (stage, amount, currency, owner, close date); the first ``won`` are won."""
    with crm.unit_of_work(MAX) as uow:
        for index, (stage, amount, currency, owner, close) in enumerate(deals):
            stamp = Stamp(T0, MAX.id)
            deal, event = Opportunity.open(
                f"o-{index:04d}", f"Deal {index}", DEFAULT_PIPELINE, stamp,
                amount=Money.of(amount, currency), close_date=close, stage=stage, owner_id=owner,
            )  # fmt: skip
            events = [event]
            if index < won:
                deal, event = deal.win(DEFAULT_PIPELINE, stamp)
                events.append(event)
            uow.save(OPPORTUNITIES, deal, *events)


@pytest.fixture
def crm(any_store: DocumentStore) -> Crm:
    return Crm(any_store, clock=FakeClock(T0), ids=SequentialIds("r"))


FIXTURE = [
    ("prospecting", "1000", "EUR", "u-anna", date(2026, 3, 20)),  # weighted 1000 x 0.1 = 100
    ("prospecting", "500", "USD", "u-anna", date(2026, 4, 2)),  # 450 EUR, weighted 50 USD = 45 EUR
    ("proposal", "2000", "EUR", "u-bo", date(2026, 3, 31)),  # weighted 2000 x 0.6 = 1200
    ("negotiation", "333.33", "EUR", None, date(2026, 5, 1)),  # weighted 266.664 -> 266.66
]


@pytest.mark.parametrize("pushdown", [True, False])
def test_the_pipeline_matches_hand_computed_figures(crm: Crm, pushdown: bool) -> None:
    _save(crm, [("prospecting", "900", "EUR", "u-anna", date(2026, 3, 1)), *FIXTURE], won=1)
    with crm.unit_of_work(MAX) as uow:
        report = uow.reports.pipeline(currency="EUR", rates=RATES, pushdown=pushdown)
        by_owner = uow.reports.pipeline(
            currency="EUR", rates=RATES, by=("owner", "period"), pushdown=pushdown
        )
    eur = lambda a: Money.of(a, "EUR")  # noqa: E731
    assert [(r.stage, r.count, r.amount, r.weighted) for r in report.rows] == [
        ("negotiation", 1, eur("333.33"), eur("266.66")),
        ("proposal", 1, eur("2000"), eur("1200")),
        ("prospecting", 2, eur("1450"), eur("145")),  # 1000 + 450; 100 + 45
    ]
    assert (report.count, report.amount, report.weighted) == (4, eur("3783.33"), eur("1611.66"))
    assert [(r.owner, r.period, r.count, r.amount) for r in by_owner.rows] == [
        ("u-anna", "2026-03", 1, eur("1000")),
        ("u-anna", "2026-04", 1, eur("450")),
        ("u-bo", "2026-03", 1, eur("2000")),
        (None, "2026-05", 1, eur("333.33")),
    ]
    assert '"weighted":{"amount":"1611.66","currency":"EUR"}' in to_json(report)


@pytest.mark.parametrize("pushdown", [True, False])
def test_the_forecast_matches_hand_computed_figures(crm: Crm, pushdown: bool) -> None:
    _save(crm, [("prospecting", "900", "EUR", "u-anna", date(2026, 3, 1)), *FIXTURE], won=1)
    with crm.unit_of_work(MAX) as uow:
        report = uow.reports.forecast(currency="EUR", rates=RATES, pushdown=pushdown)
    assert [(r.period, r.category.value, r.count, str(r.amount)) for r in report.rows] == [
        ("2026-Q1", "closed", 1, "900.00 EUR"),
        ("2026-Q1", "best_case", 1, "2000.00 EUR"),
        ("2026-Q1", "pipeline", 1, "1000.00 EUR"),
        ("2026-Q2", "commit", 1, "333.33 EUR"),
        ("2026-Q2", "pipeline", 1, "450.00 EUR"),
    ]
    assert (str(report.closed), str(report.commit)) == ("900.00 EUR", "333.33 EUR")


def test_bad_report_arguments_name_the_field(crm: Crm) -> None:
    with crm.unit_of_work(MAX) as uow:
        with pytest.raises(ValidationError, match="period"):
            uow.reports.pipeline(currency="EUR", rates=RATES, by="period", period="week")
        with pytest.raises(ValidationError, match="by"):
            uow.reports.pipeline(currency="EUR", rates=RATES, by=("stage", "stage"))
        with pytest.raises(ValidationError, match="by"):
            uow.reports.pipeline(currency="EUR", rates=RATES, by="created")
        with pytest.raises(ValidationError, match="on"):
            uow.reports.forecast(currency="EUR", rates=RATES, on="2026-01-01")  # type: ignore[arg-type]


deals = st.lists(
    st.tuples(
        st.sampled_from(STAGES),
        st.decimals(min_value=0, max_value=100_000, places=2).map(str),
        st.sampled_from(("EUR", "EUR", "USD")),
        st.sampled_from(("u-anna", "u-bo", None)),
        st.dates(date(2025, 11, 1), date(2026, 8, 1)),
    ),
    max_size=25,
)
dimensions = st.sampled_from([("stage",), ("owner",), ("period",), ("stage", "owner", "period")])


def _pushdown_agrees(
    crm: Crm, data: list[tuple[str, str, str, str | None, date]], by: tuple[str, ...], period: str
) -> None:
    _save(crm, data, won=len(data) // 4)
    with crm.unit_of_work(MAX) as uow:
        args = {"currency": "EUR", "rates": RATES, "by": by, "period": period}
        pushed = uow.reports.pipeline(**args)  # type: ignore[arg-type]
        fallback = uow.reports.pipeline(**args, pushdown=False)  # type: ignore[arg-type]
        assert pushed == fallback
        assert uow.reports.forecast(currency="EUR", rates=RATES, period=period) == (
            uow.reports.forecast(currency="EUR", rates=RATES, period=period, pushdown=False)
        )
        if all(currency == "EUR" for _, _, currency, _, _ in data):
            opps = list(uow.find_all(OPPORTUNITIES))
            pure = pure_pipeline(opps, currency="EUR", rates=RATES, on=T0.date(), by=by,
                                 period=period)  # fmt: skip
            assert pushed == pure
    crm.store.close()


@settings(max_examples=25, deadline=None)
@given(data=deals, by=dimensions, period=st.sampled_from(("month", "quarter")))
def test_pushdown_on_sqlite_equals_the_python_fallback(
    data: list[tuple[str, str, str, str | None, date]], by: tuple[str, ...], period: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(str(Path(folder) / "crm.db"))
        _pushdown_agrees(Crm(store, clock=FakeClock(T0)), data, by, period)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=deals, by=dimensions, period=st.sampled_from(("month", "quarter")))
def test_pushdown_on_postgres_equals_the_python_fallback(
    postgres_schemas: Callable[[], str],
    data: list[tuple[str, str, str, str | None, date]],
    by: tuple[str, ...],
    period: str,
) -> None:
    from crmkit.adapters.postgres import PostgresStore

    store = PostgresStore(postgres_schemas())
    _pushdown_agrees(Crm(store, clock=FakeClock(T0)), data, by, period)


def test_the_other_reports_stream_from_the_store(crm: Crm) -> None:
    _save(crm, [*FIXTURE, ("prospecting", "10", "EUR", "u-bo", date(2026, 3, 3))], won=2)
    with crm.unit_of_work(MAX) as uow:
        deal = uow.opportunities.get("o-0004")
        uow.opportunities.lose(deal.id, "price")
    with crm.unit_of_work(MAX) as uow:
        rate = uow.reports.win_rate()
        sla = uow.reports.sla()
        campaigns = uow.reports.campaigns()
    assert (rate.won, rate.lost) == (2, 1)
    assert sla.rows == ()
    assert campaigns.rows == ()


def test_rfm_classes_reach_the_contacts_segments_filter_on(crm: Crm) -> None:
    from crmkit.marketing.segment import RfmClass, Segment

    with crm.unit_of_work(MAX) as uow:
        account = uow.accounts.create("ACME")
        contact = uow.contacts.create("Berg", account_id=account.id)
        deal = uow.opportunities.open(
            "Pumps", amount=Money.of("100", "EUR"), close_date=date(2026, 3, 1),
            account_id=account.id,
        )  # fmt: skip
        uow.opportunities.win(deal.id)
    with crm.unit_of_work(MAX) as uow:
        report = uow.reports.rfm(currency="EUR")
        assert report.classes() == {account.id: "loyal"}  # one customer scores 333
        assert uow.audiences.apply_rfm(report.classes()) == 1
    with crm.unit_of_work(MAX) as uow:
        loyal = Segment("s", "loyal", RfmClass(("loyal",)))
        assert list(uow.segments.members(loyal)) == [contact.id]
        with pytest.raises(ValidationError, match="classes"):
            uow.audiences.apply_rfm([("a", "b")])  # type: ignore[arg-type]
