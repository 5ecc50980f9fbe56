"""Sales metrics: pipeline, forecast, win rate, deal size, sales cycle, conversion, sources, funnel.

Every metric is a pure function over iterables of domain objects that returns
a typed report (rows plus totals) which `crmkit.analytics.report.to_rows` and
`to_json` read. This module gathers them; they live in
`crmkit.analytics.sales_pipeline`, `crmkit.analytics.sales_performance` and
`crmkit.analytics.sales_sources`, with periods in `crmkit.analytics.periods`
and day rounding in `crmkit.analytics.sales_common`.
"""

from __future__ import annotations

from crmkit.analytics.periods import Period, period_label, period_start
from crmkit.analytics.sales_performance import (
    DealSizeReport,
    DealSizeRow,
    SalesCycleReport,
    SalesCycleRow,
    StageConversionReport,
    StageRow,
    WinRateReport,
    WinRateRow,
    deal_size,
    sales_cycle,
    stage_conversion,
    win_rate,
)
from crmkit.analytics.sales_pipeline import (
    FORECAST_ORDER,
    Dimension,
    ForecastReport,
    ForecastRow,
    PipelineReport,
    PipelineRow,
    forecast,
    pipeline,
)
from crmkit.analytics.sales_sources import (
    FUNNEL_STEPS,
    FunnelReport,
    FunnelRow,
    FunnelStep,
    SourceReport,
    SourceRow,
    funnel,
    lead_source_effectiveness,
)

__all__ = [
    "FORECAST_ORDER",
    "FUNNEL_STEPS",
    "DealSizeReport",
    "DealSizeRow",
    "Dimension",
    "ForecastReport",
    "ForecastRow",
    "FunnelReport",
    "FunnelRow",
    "FunnelStep",
    "Period",
    "PipelineReport",
    "PipelineRow",
    "SalesCycleReport",
    "SalesCycleRow",
    "SourceReport",
    "SourceRow",
    "StageConversionReport",
    "StageRow",
    "WinRateReport",
    "WinRateRow",
    "deal_size",
    "forecast",
    "funnel",
    "lead_source_effectiveness",
    "period_label",
    "period_start",
    "pipeline",
    "sales_cycle",
    "stage_conversion",
    "win_rate",
]
