"""crmkit.charts: each chart drawn from a small report as a valid PNG and SVG."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crmkit import charts
from crmkit.adapters.fixed_rates import FixedRates
from crmkit.analytics.customers import Purchase
from crmkit.analytics.rfm import rfm
from crmkit.analytics.sales import forecast, pipeline
from crmkit.analytics.service import SlaComplianceReport, SlaComplianceRow
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE
from crmkit.service.sla_policy import Priority, SlaMetric

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RATES = FixedRates.of({("USD", "EUR"): Decimal("0.9")})


def _deals() -> list[Opportunity]:
    stamp = Stamp(AT, "u-max")
    deals = []
    for index, (stage, amount, close) in enumerate(
        [
            ("prospecting", "1000", date(2026, 3, 20)),
            ("proposal", "2000", date(2026, 5, 1)),
            ("negotiation", "500", date(2026, 3, 30)),
        ]
    ):
        deal, _ = Opportunity.open(
            f"o-{index}", "Deal", DEFAULT_PIPELINE, stamp, amount=Money.of(amount, "EUR"),
            close_date=close, stage=stage,
        )  # fmt: skip
        deals.append(deal)
    deals.append(deals.pop().win(DEFAULT_PIPELINE, stamp)[0])
    return deals


def _sla() -> SlaComplianceReport:
    rows = (
        SlaComplianceRow(date(2026, 1, 1), SlaMetric.FIRST_RESPONSE, Priority.HIGH, 3, 1, 0,
                         Decimal("0.75")),
        SlaComplianceRow(date(2026, 2, 1), SlaMetric.FIRST_RESPONSE, Priority.HIGH, 4, 0, 1,
                         Decimal("1")),
        SlaComplianceRow(date(2026, 2, 1), SlaMetric.RESOLUTION, Priority.LOW, 1, 1, 0,
                         Decimal("0.5")),
    )  # fmt: skip
    return SlaComplianceReport(rows, 8, 2, 1, Decimal("0.8"), 0)


def _rfm() -> Any:
    purchases = [
        Purchase(customer, AT - timedelta(days=days), Money.of(amount, "EUR"))
        for customer, days, amount in [
            ("c-1", 2, "100"), ("c-1", 30, "200"), ("c-2", 90, "50"), ("c-3", 300, "20"),
        ]
    ]  # fmt: skip
    return rfm(purchases, AT, "EUR")


CHARTS: list[tuple[Callable[[Any, Path], Path], Callable[[], Any]]] = [
    (charts.pipeline_funnel, lambda: pipeline(_deals(), currency="EUR", rates=RATES, on=AT.date())),
    (charts.forecast_bars, lambda: forecast(_deals(), currency="EUR", rates=RATES, on=AT.date())),
    (charts.sla_trend, _sla),
    (charts.rfm_grid, _rfm),
]
IDS = [chart.__name__ for chart, _ in CHARTS]


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(("chart", "report"), CHARTS, ids=IDS)
def test_each_chart_is_a_valid_png_and_svg(
    chart: Callable[[Any, Path], Path], report: Callable[[], Any], tmp_path: Path
) -> None:
    png = chart(report(), tmp_path / "chart.png")
    width, height = _png_size(png.read_bytes())
    assert width > 0
    assert height > 0
    svg = chart(report(), tmp_path / "chart.SVG")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_an_empty_pipeline_still_draws(tmp_path: Path) -> None:
    report = pipeline([], currency="EUR", rates=RATES, on=AT.date())
    assert _png_size(charts.pipeline_funnel(report, tmp_path / "empty.png").read_bytes())[0] > 0


def test_bad_input_raises_validation_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"path: must end in \.png or \.svg"):
        charts.rfm_grid(_rfm(), tmp_path / "chart.pdf")
    with pytest.raises(ValidationError, match="path"):
        charts.rfm_grid(_rfm(), 42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="report: must be a RfmReport"):
        charts.rfm_grid(_sla(), tmp_path / "chart.png")  # type: ignore[arg-type]
    without_periods = SlaComplianceReport(
        tuple(SlaComplianceRow(None, r.metric, r.priority, r.met, r.breached, r.running,
                               r.compliance) for r in _sla().rows),
        8, 2, 1, Decimal("0.8"), 0,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="must have period rows"):
        charts.sla_trend(without_periods, tmp_path / "chart.png")


def test_without_matplotlib_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ValidationError, match=r"crmkit\[plots\]"):
        charts.rfm_grid(_rfm(), tmp_path / "chart.png")


def test_importing_the_module_does_not_import_matplotlib() -> None:
    code = "import sys, crmkit.charts, crmkit.cli; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
