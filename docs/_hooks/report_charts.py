"""MkDocs hook: draw the charts of ``docs/analytics/charts.md`` with crmkit itself.

At build time a small fixed dataset goes through the analytics functions and
`crmkit.charts`, and each SVG is added to the site as a generated file under
``analytics/charts/`` (so relative image links resolve under ``--strict`` and
the pictures can never show an older version of the charts or the reports).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from crmkit import charts
from crmkit.adapters.fixed_rates import FixedRates
from crmkit.analytics.customers import Purchase
from crmkit.analytics.rfm import rfm
from crmkit.analytics.sales import forecast, pipeline
from crmkit.analytics.service import SlaComplianceReport, SlaComplianceRow
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE
from crmkit.service.sla_policy import Priority, SlaMetric

FOLDER = "analytics/charts"
"""Where the charts go in the site, beside the page that shows them."""

_ON = date(2026, 3, 2)
_STAMP = Stamp(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "u-max")
_RATES = FixedRates.of({("USD", "EUR"): Decimal("0.92")})
# (stage, amount, currency, close date); "won" deals are won before the report.
_DEALS = [
    ("prospecting", "12000", "EUR", date(2026, 3, 20)),
    ("prospecting", "8000", "USD", date(2026, 5, 10)),
    ("qualification", "15000", "EUR", date(2026, 4, 30)),
    ("qualification", "6000", "EUR", date(2026, 6, 15)),
    ("needs_analysis", "9000", "EUR", date(2026, 3, 31)),
    ("proposal", "7500", "EUR", date(2026, 3, 25)),
    ("proposal", "4000", "USD", date(2026, 8, 1)),
    ("negotiation", "5200", "EUR", date(2026, 3, 28)),
    ("won", "11000", "EUR", date(2026, 2, 20)),
    ("won", "3000", "EUR", date(2026, 4, 2)),
]
# Customer -> days before the report of each purchase, and its amount in EUR.
_PURCHASES = {
    "acme": [(3, "900"), (40, "1200"), (95, "700"), (200, "1500")],
    "globex": [(12, "300"), (150, "250")],
    "initech": [(25, "5000"), (60, "4200"), (88, "3900")],
    "umbrella": [(190, "150")],
    "hooli": [(300, "80"), (320, "60")],
    "stark": [(8, "2500")],
    "wayne": [(70, "600"), (140, "650"), (210, "700")],
    "tyrell": [(400, "90")],
}
# Month -> (met, breached) first-response runs; resolution runs are one fewer met.
_SLA = {1: (18, 2), 2: (15, 5), 3: (21, 1), 4: (19, 3), 5: (24, 1), 6: (22, 2)}


def _deals() -> list[Opportunity]:
    deals = []
    for index, (stage, amount, currency, close) in enumerate(_DEALS):
        deal, _ = Opportunity.open(
            f"o-{index}", f"Deal {index}", DEFAULT_PIPELINE, _STAMP,
            amount=Money.of(amount, currency), close_date=close,
            stage="negotiation" if stage == "won" else stage,
        )  # fmt: skip
        if stage == "won":
            deal, _ = deal.win(DEFAULT_PIPELINE, _STAMP)
        deals.append(deal)
    return deals


def _sla() -> SlaComplianceReport:
    # Built from rows: a service desk's cases would need a whole SLA setup for six numbers.
    rows = []
    for month, (met, late) in _SLA.items():
        for metric, shift in ((SlaMetric.FIRST_RESPONSE, 0), (SlaMetric.RESOLUTION, 1)):
            hit, miss = met - shift, late + shift
            compliance = (Decimal(hit) / (hit + miss)).quantize(Decimal("0.0001"))
            rows.append(
                SlaComplianceRow(
                    date(2026, month, 1), metric, Priority.HIGH, hit, miss, 0, compliance
                )
            )
    met = sum(r.met for r in rows)
    late = sum(r.breached for r in rows)
    total = (Decimal(met) / (met + late)).quantize(Decimal("0.0001"))
    return SlaComplianceReport(tuple(rows), met, late, 0, total, 0)


def draw(folder: Path) -> list[Path]:
    """Draw the four charts of the docs page into ``folder``; returns their paths."""
    deals = _deals()
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    purchases = [
        Purchase(customer, at - timedelta(days=days), Money.of(amount, "EUR"))
        for customer, bought in _PURCHASES.items()
        for days, amount in bought
    ]
    by_stage = pipeline(deals, currency="EUR", rates=_RATES, on=_ON, by="stage")
    return [
        charts.pipeline_funnel(by_stage, folder / "pipeline.svg"),
        charts.forecast_bars(
            forecast(deals, currency="EUR", rates=_RATES, on=_ON), folder / "forecast.svg"
        ),
        charts.sla_trend(_sla(), folder / "sla.svg"),
        charts.rfm_grid(rfm(purchases, at, "EUR"), folder / "rfm.svg"),
    ]


def on_files(files: Any, *, config: Any) -> Any:
    """MkDocs event: add the freshly drawn charts to the site's files."""
    from mkdocs.structure.files import File

    with tempfile.TemporaryDirectory() as folder:
        for path in draw(Path(folder)):
            files.append(File.generated(config, f"{FOLDER}/{path.name}", content=path.read_bytes()))
    return files
