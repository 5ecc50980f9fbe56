"""Reports on the store: analytics over what crmkit holds, streamed or pushed down to SQL.

``uow.reports`` runs the `crmkit.analytics` reports over the stored records.
The pipeline and the forecast are grouped counts and sums: they run as one
`crmkit.ports.aggregate.Aggregate` that a SQL store answers with a single
``GROUP BY`` over its index columns (``pushdown=False`` computes the same
groups in Python from the stored documents, a page at a time). The others
stream the records they need through the pure functions, a batch at a time.

Currency: grouped amounts are summed per currency in minor units, then each
sum is converted once into the reporting currency (half-even). Amounts
already in the reporting currency are exact; converted ones can differ from
converting each deal first (`crmkit.analytics.sales.pipeline`) by the
rounding of the conversion. The weighted amount of each deal is its amount
times its probability, rounded half-even in its own currency when saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from crmkit.analytics.currency import ReportingCurrency
from crmkit.analytics.customers import purchases_of
from crmkit.analytics.marketing import CampaignMetricsReport, WonDeal, campaign_metrics
from crmkit.analytics.periods import Period, check_period
from crmkit.analytics.rfm import RfmReport, rfm
from crmkit.analytics.sales_performance import WinRateReport, win_rate
from crmkit.analytics.sales_pipeline import (
    FORECAST_ORDER,
    Dimension,
    ForecastReport,
    ForecastRow,
    PipelineReport,
    PipelineRow,
    custom_label,
    dimensions,
)
from crmkit.analytics.service import SlaComplianceReport, sla_compliance
from crmkit.app.marketing_records import CAMPAIGNS, CREDITS, MEMBERS
from crmkit.app.records import CASES, OPPORTUNITIES
from crmkit.extension.custom_fields import DECIMAL_PLACES, CustomFields, FieldType
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel
from crmkit.ports.aggregate import Measure
from crmkit.ports.query import Eq, In
from crmkit.ports.rates import ExchangeRates
from crmkit.sales.opportunity import OpportunityStatus
from crmkit.sales.pipeline import ForecastCategory

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["Reports"]

_GROUPABLE = frozenset(
    {
        FieldType.TEXT,
        FieldType.CHOICE,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.BOOLEAN,
        FieldType.DATE,
    }
)
_CLOSE_PERIODS = {Period.MONTH: "close_month", Period.QUARTER: "close_quarter"}
_SUMS = (Measure.count(), Measure.sum("amount_minor"), Measure.sum("weighted_minor"))


def _close_field(period: Period) -> str:
    field = _CLOSE_PERIODS.get(period)
    if field is None:
        raise ValidationError(
            "period", "must be month or quarter for a report on the store", period
        )
    return field


class Reports:
    """Analytics over the store (``uow.reports``); each returns a typed report."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def _today(self, on: date | None) -> date:
        if on is None:
            return self._uow.stamp().at.date()
        if isinstance(on, datetime) or not isinstance(on, date):
            raise ValidationError("on", "must be a date", on)
        return on

    # --- pushed down ---------------------------------------------------------------------

    def pipeline(
        self,
        *,
        currency: str,
        rates: ExchangeRates,
        on: date | None = None,
        by: str | tuple[str, ...] = ("stage",),
        period: Period | str = Period.MONTH,
        pushdown: bool = True,
    ) -> PipelineReport:
        """Open opportunities grouped ``by`` stage, owner, close period (month or quarter) and/or
        one indexed custom field (``custom.<name>``: text, choice, integer, decimal, boolean
        or date), in one ``GROUP BY`` on SQL stores.

        Counts, amounts and weighted amounts, in ``currency`` at the rates of
        ``on`` (default today).
        """
        dims, custom = dimensions(by)
        if not dims or Dimension.CREATED in dims:
            raise ValidationError("by", "must name stage, owner, period or custom.<name>", by)
        length = check_period(period)
        fields = {Dimension.STAGE: "stage", Dimension.OWNER: "owner_id"}
        if Dimension.PERIOD in dims:
            fields[Dimension.PERIOD] = _close_field(length)
        label: Callable[[object], str | None] = _text
        if custom is not None:
            fields[Dimension.CUSTOM], label = _custom_group(self._uow.custom_fields, custom)
        group_by = (*(fields[d] for d in dims), "currency")
        convert = ReportingCurrency(currency, rates, self._today(on))
        where = (Eq("status", OpportunityStatus.OPEN.value),)
        sums: dict[tuple[str | None, ...], tuple[int, Money, Money]] = {}
        for group in self._uow.aggregate(OPPORTUNITIES, where, group_by, _SUMS, pushdown=pushdown):
            *key, native = (
                label(part) if dim is Dimension.CUSTOM else _text(part)
                for dim, part in zip((*dims, None), group.key, strict=True)
            )
            count, amount, weighted = group.values
            slot = tuple(key)
            known = sums.get(slot, (0, convert.zero(), convert.zero()))
            sums[slot] = (
                known[0] + (count or 0),
                known[1] + _convert(convert, native, amount),
                known[2] + _convert(convert, native, weighted),
            )
        rows = tuple(
            PipelineRow(
                stage=key[dims.index(Dimension.STAGE)] if Dimension.STAGE in dims else None,
                owner=key[dims.index(Dimension.OWNER)] if Dimension.OWNER in dims else None,
                period=key[dims.index(Dimension.PERIOD)] if Dimension.PERIOD in dims else None,
                created=None,
                count=count,
                amount=amount,
                weighted=weighted,
                custom=key[dims.index(Dimension.CUSTOM)] if Dimension.CUSTOM in dims else None,
            )
            for key, (count, amount, weighted) in sums.items()
        )
        return PipelineReport.of(rows, dims, length, convert, custom)

    def forecast(
        self,
        *,
        currency: str,
        rates: ExchangeRates,
        on: date | None = None,
        period: Period | str = Period.QUARTER,
        pushdown: bool = True,
    ) -> ForecastReport:
        """Open and won opportunities by close period (month or quarter) and forecast category."""
        length = check_period(period)
        convert = ReportingCurrency(currency, rates, self._today(on))
        where = (
            In("status", (OpportunityStatus.OPEN.value, OpportunityStatus.WON.value)),
            In("forecast_category", tuple(c.value for c in FORECAST_ORDER)),
        )
        group_by = (_close_field(length), "forecast_category", "currency")
        sums: dict[tuple[str, ForecastCategory], tuple[int, Money, Money]] = {}
        for group in self._uow.aggregate(OPPORTUNITIES, where, group_by, _SUMS, pushdown=pushdown):
            label, category, native = (_text(part) or "" for part in group.key)
            count, amount, weighted = group.values
            slot = (label, ForecastCategory(category))
            known = sums.get(slot, (0, convert.zero(), convert.zero()))
            sums[slot] = (
                known[0] + (count or 0),
                known[1] + _convert(convert, native, amount),
                known[2] + _convert(convert, native, weighted),
            )
        rows = (ForecastRow(label, category, *values) for (label, category), values in sums.items())
        return ForecastReport.of(rows, length, convert)

    # --- streamed ------------------------------------------------------------------------

    def win_rate(self, *, by_owner: bool = False) -> WinRateReport:
        """Won against lost opportunities, optionally per owner."""
        where = (In("status", (OpportunityStatus.WON.value, OpportunityStatus.LOST.value)),)
        return win_rate(self._uow.find_all(OPPORTUNITIES, where, keep=False), by_owner=by_owner)

    def rfm(self, *, currency: str, as_of: datetime | None = None) -> RfmReport:
        """RFM scores and segments of the accounts that bought, from their won deals."""
        at = self._uow.stamp().at if as_of is None else as_of
        won = self._uow.find_all(
            OPPORTUNITIES,
            (Eq("status", OpportunityStatus.WON.value), Eq("currency", currency)),
            keep=False,
        )
        return rfm(purchases_of(won), at, currency)

    def sla(
        self, *, period: Period | str | None = None, zone: tzinfo | str = UTC
    ) -> SlaComplianceReport:
        """SLA compliance per metric and priority (and per period, when given), as of now."""
        now = self._uow.stamp().at
        return sla_compliance(self._uow.find_all(CASES, keep=False), period, zone, now=now)

    def campaigns(
        self, *, model: AttributionModel | str = AttributionModel.LINEAR
    ) -> CampaignMetricsReport:
        """Every campaign's funnel, rates, costs, revenue and ROI under ``model``.

        Keeps the campaigns' members in memory (the results read them by campaign).
        """
        return campaign_metrics(
            self._uow.find_all(CAMPAIGNS, keep=False),
            self._uow.find_all(MEMBERS, keep=False),
            self._won_deals(),
            model,
        )

    def _won_deals(self) -> Iterator[WonDeal]:
        for credit in self._uow.find_all(CREDITS, keep=False):
            if not credit.void:
                yield WonDeal(credit.id, credit.revenue, credit.touches)


def _convert(convert: ReportingCurrency, currency: str | None, minor: int | None) -> Money:
    return convert(Money.from_minor(0 if minor is None else minor, currency or ""))


def _custom_group(fields: CustomFields, name: str) -> tuple[str, Callable[[object], str | None]]:
    """The index field of custom field ``name`` and the label of its index values."""
    spec = fields.spec("opportunity", name)
    if not spec.indexed or spec.retired:
        raise ValidationError("by", "must name an indexed, live custom field", f"custom.{name}")
    kind = spec.type
    if kind not in _GROUPABLE:
        raise ValidationError("by", f"cannot group by a {kind} field", f"custom.{name}")
    (index,) = spec.index_fields()  # one field for every groupable type

    def label(value: object) -> str | None:
        if value is None:
            return None
        if kind is FieldType.BOOLEAN:
            return custom_label(bool(value))
        if kind is FieldType.DECIMAL and isinstance(value, int):
            return custom_label(Decimal(value).scaleb(-DECIMAL_PLACES))
        return custom_label(value)  # text, choice, integer and ISO dates label as stored

    return index.name, label


def _text(value: object) -> str | None:
    """A text group key (opportunity index fields are text or null)."""
    return None if value is None else str(value)
