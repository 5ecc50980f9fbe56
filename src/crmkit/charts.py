"""Charts of the typed reports, drawn with matplotlib (``pip install 'crmkit[plots]'``).

Each function takes a report, draws it and writes the picture to ``path``:
PNG or SVG, chosen by the path's suffix (``.png`` or ``.svg``). matplotlib is
imported only when a chart is drawn, and each chart is drawn on its own
`matplotlib.figure.Figure` with the Agg canvas, never through ``pyplot``, so
nothing global changes and charts can be drawn from threads and servers.
Without matplotlib a chart raises `ValidationError` saying what to install.

Amounts are drawn from their `Decimal` values; the labels show the exact
amounts, the bars only their size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from crmkit.analytics.rfm import RfmReport
from crmkit.analytics.sales_pipeline import (
    FORECAST_ORDER,
    Dimension,
    ForecastReport,
    PipelineReport,
)
from crmkit.analytics.service import SlaComplianceReport
from crmkit.kernel.errors import ValidationError
from crmkit.sales.pipeline import DEFAULT_PIPELINE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["forecast_bars", "pipeline_funnel", "rfm_grid", "sla_trend"]

_FORMATS = {".png": "png", ".svg": "svg"}
_SIZE = (7.0, 4.0)
_SCORES = range(1, 6)
_COLOURS = ("#2e7d32", "#1565c0", "#6a1b9a", "#9e9e9e")  # closed, commit, best case, pipeline


def _figure() -> Figure:
    """A new figure on the Agg canvas; `ValidationError` when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ValidationError(
            "matplotlib", "is needed for charts: pip install 'crmkit[plots]'"
        ) from None
    figure = Figure(figsize=_SIZE, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _target(path: str | os.PathLike[str]) -> tuple[Path, str]:
    if not isinstance(path, str | os.PathLike):
        raise ValidationError("path", "must be a file path ending in .png or .svg", path)
    target = Path(path)
    kind = _FORMATS.get(target.suffix.lower())
    if kind is None:
        raise ValidationError("path", "must end in .png or .svg", str(path))
    return target, kind


def _check(report: object, kind: type[object], name: str) -> None:
    if not isinstance(report, kind):
        raise ValidationError(
            "report", f"must be a {kind.__name__} ({name})", type(report).__name__
        )


def _save(figure: Figure, target: Path, kind: str) -> Path:
    # No build date or version in the metadata: files differ only when the drawing does.
    metadata = {"Date": None} if kind == "svg" else {"Software": None}
    figure.savefig(target, format=kind, metadata=metadata)
    return target


def pipeline_funnel(
    report: PipelineReport,
    path: str | os.PathLike[str],
    *,
    stages: Sequence[str] | None = None,
) -> Path:
    """The open pipeline as a funnel: one centred bar per group, widest for the largest amount.

    Groups are labelled by the report's dimensions (``stage · owner · period``).
    A report grouped by stage alone is drawn in pipeline order: ``stages`` (default the
    open stages of `DEFAULT_PIPELINE`), then unknown stages in report order.
    Returns the path written.
    """
    _check(report, PipelineReport, "from uow.reports.pipeline")
    target, kind = _target(path)
    rows = list(report.rows)
    if report.by == (Dimension.STAGE,):
        order = (
            list(stages) if stages is not None else [s.key for s in DEFAULT_PIPELINE.open_stages]
        )
        rank = {key: index for index, key in enumerate(order)}
        rows.sort(key=lambda r: rank.get(r.stage or "", len(rank)))
    labels = [
        " · ".join(str(getattr(r, d.value)) if getattr(r, d.value) else "–" for d in report.by)
        for r in rows
    ]
    values = [float(r.amount.amount) for r in rows]
    widest = max(values, default=0.0)
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(len(rows)))
    lefts = [(widest - v) / 2 for v in values]
    axes.barh(positions, values, left=lefts, color="#1565c0", height=0.7)
    for y, row, left, value in zip(positions, rows, lefts, values, strict=True):
        axes.text(
            left + value / 2, y, f"{row.amount} ({row.count})",
            ha="center", va="center", color="white" if value > widest / 3 else "black",
        )  # fmt: skip
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xticks([])
    axes.set_title(f"Open pipeline in {report.currency} (count in brackets)")
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    return _save(figure, target, kind)


def forecast_bars(report: ForecastReport, path: str | os.PathLike[str]) -> Path:
    """The forecast as stacked bars: one bar per close period, one layer per category.

    Layers stack from closed (bottom) through commit and best case to pipeline.
    Returns the path written.
    """
    _check(report, ForecastReport, "from uow.reports.forecast")
    target, kind = _target(path)
    periods = sorted({row.period for row in report.rows})
    amounts = {(row.period, row.category): row.amount.amount for row in report.rows}
    figure = _figure()
    axes = figure.add_subplot()
    base = [0.0] * len(periods)
    for category, colour in zip(FORECAST_ORDER, _COLOURS, strict=False):
        heights = [float(amounts.get((p, category), Decimal(0))) for p in periods]
        axes.bar(periods, heights, bottom=base, label=category.value.replace("_", " "),
                 color=colour)  # fmt: skip
        base = [b + h for b, h in zip(base, heights, strict=True)]
    axes.set_ylabel(report.currency)
    axes.set_title(f"Forecast by {report.period.value} in {report.currency}")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _save(figure, target, kind)


def sla_trend(report: SlaComplianceReport, path: str | os.PathLike[str]) -> Path:
    """SLA compliance per period: one line per metric, in percent of the decided runs.

    Needs a report grouped by period (``uow.reports.sla(period="month")``);
    priorities are added together. A period where no run of a metric was met
    or breached yet has no point. Returns the path written.
    """
    _check(report, SlaComplianceReport, "from uow.reports.sla")
    target, kind = _target(path)
    if any(row.period is None for row in report.rows) or not report.rows:
        raise ValidationError("report", "must have period rows: run the SLA report with a period")
    periods = sorted({row.period for row in report.rows if row.period is not None})
    tallies: dict[tuple[str, object], list[int]] = {}
    for row in report.rows:
        tally = tallies.setdefault((row.metric.value, row.period), [0, 0])
        tally[0] += row.met
        tally[1] += row.breached
    figure = _figure()
    axes = figure.add_subplot()
    for metric in sorted({metric for metric, _ in tallies}):
        points = [
            (p.isoformat(), 100 * met / (met + late))
            for p in periods
            for met, late in [tallies.get((metric, p), [0, 0])]
            if met + late
        ]
        axes.plot(
            [x for x, _ in points], [y for _, y in points], marker="o",
            label=metric.replace("_", " "),
        )  # fmt: skip
    axes.set_ylim(0, 105)
    axes.set_ylabel("met, % of decided runs")
    axes.set_title("SLA compliance per period")
    axes.legend(loc="lower left", frameon=False)
    return _save(figure, target, kind)


def rfm_grid(report: RfmReport, path: str | os.PathLike[str]) -> Path:
    """A heat map of customers by recency score (rows) and frequency-monetary score (columns).

    Each cell shows how many customers have that R and FM score (1 to 5).
    Returns the path written.
    """
    _check(report, RfmReport, "from uow.reports.rfm")
    target, kind = _target(path)
    counts = [[0 for _ in _SCORES] for _ in _SCORES]
    for row in report.rows:
        counts[row.r - 1][row.fm - 1] += 1
    figure = _figure()
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues", origin="lower", vmin=0)
    peak = max((max(line) for line in counts), default=0)
    for r in range(len(counts)):
        for fm, count in enumerate(counts[r]):
            colour = "white" if peak and count > peak / 2 else "black"
            axes.text(fm, r, str(count), ha="center", va="center", color=colour)
    axes.set_xticks(range(5), [str(s) for s in _SCORES])
    axes.set_yticks(range(5), [str(s) for s in _SCORES])
    axes.set_xlabel("FM score (frequency and money)")
    axes.set_ylabel("R score (recency)")
    axes.set_title(f"Customers by RFM score ({report.customers} in all)")
    figure.colorbar(image, ax=axes, label="customers")
    return _save(figure, target, kind)
