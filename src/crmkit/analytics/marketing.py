"""Marketing metrics: campaign funnel, cost per lead and per acquisition, ROI and attribution.

`campaign_metrics` reports, per campaign, what `crmkit.marketing.attribution.results`
computes (sent, delivered, responded, converted, leads, cost per lead, revenue
won, ROI) plus the rates and the cost per acquisition. The revenue a campaign
won comes from `WonDeal` values: each won deal's revenue is shared among the
campaigns that touched the buyer with `crmkit.marketing.attribution.attribute`
under one model. `attribution_report` puts the three models side by side.

**Rounding.** Rates have four decimal places, rounded half-even, and are
``None`` over nothing; money per lead or acquisition is rounded half-even to
the currency's minor unit; ROI is ``(revenue - cost) / cost`` to four places,
``None`` when the cost is zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

import attrs

from crmkit.analytics._shared import each, ratio
from crmkit.kernel.checks import items, of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import CampaignId, check_id
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel, Touch, attribute, results
from crmkit.marketing.campaign import Campaign
from crmkit.marketing.member import CampaignMember

__all__ = [
    "AttributionReport", "AttributionRow", "CampaignMetricsReport", "CampaignMetricsRow",
    "WonDeal", "attribution_report", "campaign_metrics",
]  # fmt: skip


_to_model = to_enum(AttributionModel, "model")


def _deal_id(value: object) -> str:
    return check_id(value, "deal_id")


def _revenue(instance: WonDeal, attribute: attrs.Attribute[Money], value: object) -> None:
    if not isinstance(value, Money) or value.amount < 0:
        raise ValidationError("revenue", "must be non-negative Money", value)


def _touches(value: object) -> tuple[Touch, ...]:
    listed = items(value, "touches")
    for index, touch in enumerate(listed):
        if not isinstance(touch, Touch):
            raise ValidationError(f"touches[{index}]", "must be a Touch", touch)
    return listed


@attrs.frozen
class WonDeal:
    """A won deal and the campaign touches that led to it: the input for revenue attribution.

    Attributes:
        deal_id: The won opportunity (or order).
        revenue: The revenue won, not negative.
        touches: The campaigns that touched the buyer before the deal, in any order.
    """

    deal_id: str = attrs.field(converter=_deal_id)
    revenue: Money = attrs.field(validator=_revenue)
    touches: tuple[Touch, ...] = attrs.field(default=(), converter=_touches)


# --- campaign metrics ----------------------------------------------------------------------


@attrs.frozen
class CampaignMetricsRow:
    """One campaign's funnel, costs and returns.

    Attributes:
        campaign_id: The campaign.
        name: Its name.
        sent: Members sent to (bounces included).
        delivered: ``sent`` less bounces.
        responded: Members who responded.
        converted: Members whose response became a lead.
        leads: Distinct leads created.
        won_deals: Won deals that credit the campaign under the chosen model.
        response_rate: ``responded / delivered``; None when nothing was delivered.
        conversion_rate: ``converted / responded``; None without responses.
        cost: The campaign's actual cost.
        cost_per_lead: ``cost / leads``; None without leads.
        cost_per_acquisition: ``cost / won_deals``; None without won deals.
        revenue_won: Revenue attributed to the campaign.
        roi: ``(revenue_won - cost) / cost``; None when the cost is zero.
    """

    campaign_id: CampaignId
    name: str
    sent: int
    delivered: int
    responded: int
    converted: int
    leads: int
    won_deals: int
    response_rate: Decimal | None
    conversion_rate: Decimal | None
    cost: Money
    cost_per_lead: Money | None
    cost_per_acquisition: Money | None
    revenue_won: Money
    roi: Decimal | None


@attrs.frozen
class CampaignMetricsReport:
    """Campaign funnel and ROI, one row per campaign, with counts over all of them.

    Money is not totalled: campaigns may use different currencies.

    Attributes:
        rows: One row per campaign, in the order given.
        model: The attribution model that credited the revenue.
        sent: Members sent to, all campaigns.
        delivered: Members delivered to, all campaigns.
        responded: Members who responded, all campaigns.
        converted: Members converted, all campaigns.
        response_rate: ``responded / delivered`` over all campaigns; None without deliveries.
        conversion_rate: ``converted / responded`` over all campaigns; None without responses.
    """

    rows: tuple[CampaignMetricsRow, ...]
    model: AttributionModel
    sent: int
    delivered: int
    responded: int
    converted: int
    response_rate: Decimal | None
    conversion_rate: Decimal | None


def campaign_metrics(
    campaigns: Iterable[Campaign],
    members: Iterable[CampaignMember],
    won_deals: Iterable[WonDeal] = (),
    model: AttributionModel | str = AttributionModel.LINEAR,
) -> CampaignMetricsReport:
    """Funnel, rates, cost per lead and per acquisition, revenue and ROI of each campaign.

    Each won deal's revenue is shared with `attribute` under ``model``; a deal
    counts as one acquisition for every given campaign it credits (under
    ``linear``, every campaign that touched the buyer). Credit to campaigns not
    given is left out. The counts come from `results`. Keeps each campaign's
    members in memory, since `results` reads them as a group.
    """
    chosen = _to_model(model)
    known: dict[CampaignId, Campaign] = {}
    for index, campaign in each(campaigns, "campaigns", Campaign):
        if campaign.id in known:
            raise ValidationError(f"campaigns[{index}]", "must not repeat a campaign", campaign.id)
        known[campaign.id] = campaign
    groups: dict[CampaignId, list[CampaignMember]] = {cid: [] for cid in known}
    for index, member in each(members, "members", CampaignMember):
        group = groups.get(member.campaign_id)
        if group is None:
            raise ValidationError(f"members[{index}]", "must belong to a given campaign", member.id)
        group.append(member)
    revenue = {cid: Money.zero(c.currency) for cid, c in known.items()}
    wins = dict.fromkeys(known, 0)
    for index, deal in each(won_deals, "won_deals", WonDeal):
        for cid, amount in attribute(deal.touches, deal.revenue, chosen).items():
            if cid not in known:
                continue
            if amount.currency != known[cid].currency:
                raise ValidationError(
                    f"won_deals[{index}].revenue", f"must be in {known[cid].currency}", amount
                )
            revenue[cid] += amount
            wins[cid] += 1
    rows = tuple(_metrics_row(c, groups[cid], revenue[cid], wins[cid]) for cid, c in known.items())
    delivered, responded = sum(r.delivered for r in rows), sum(r.responded for r in rows)
    converted = sum(r.converted for r in rows)
    return CampaignMetricsReport(
        rows, chosen, sum(r.sent for r in rows), delivered, responded, converted,
        ratio(responded, delivered), ratio(converted, responded),
    )  # fmt: skip


def _metrics_row(
    campaign: Campaign, members: list[CampaignMember], revenue: Money, wins: int
) -> CampaignMetricsRow:
    r = results(campaign, members, revenue)
    per_win = Money.rounded(r.cost.amount / wins, r.cost.currency) if wins else None
    return CampaignMetricsRow(
        campaign.id, campaign.name, r.sent, r.delivered, r.responded, r.converted, r.leads, wins,
        ratio(r.responded, r.delivered), ratio(r.converted, r.responded), r.cost,
        r.cost_per_lead, per_win, r.revenue_won, r.roi,
    )  # fmt: skip


# --- attribution ----------------------------------------------------------------------------


@attrs.frozen
class AttributionRow:
    """The revenue one campaign earns in one currency under each attribution model.

    Attributes:
        campaign_id: The campaign.
        currency: The currency of the revenue.
        deals: Won deals whose buyer the campaign touched.
        first_touch: Revenue credited under first touch.
        last_touch: Revenue credited under last touch.
        linear: Revenue credited under linear attribution.
    """

    campaign_id: CampaignId
    currency: str
    deals: int = attrs.field(validator=of_type(int))
    first_touch: Money = attrs.field(validator=of_type(Money))
    last_touch: Money = attrs.field(validator=of_type(Money))
    linear: Money = attrs.field(validator=of_type(Money))


@attrs.frozen
class AttributionReport:
    """First-touch, last-touch and linear revenue per campaign, side by side.

    Each model's column adds up to the revenue of the deals with touches.

    Attributes:
        rows: One row per campaign and currency, by campaign id then currency.
        deals: Won deals read.
        unattributed: Won deals without touches (their revenue is in no row).
    """

    rows: tuple[AttributionRow, ...]
    deals: int
    unattributed: int


_MODELS: Final = (
    AttributionModel.FIRST_TOUCH,
    AttributionModel.LAST_TOUCH,
    AttributionModel.LINEAR,
)


def attribution_report(won_deals: Iterable[WonDeal]) -> AttributionReport:
    """Compare how first-touch, last-touch and linear attribution credit each campaign.

    Uses `attribute` for every model; memory grows with the number of campaigns.
    """
    sums: dict[tuple[CampaignId, str], list[Money]] = {}
    touched: dict[tuple[CampaignId, str], int] = {}
    deals = unattributed = 0
    for _, deal in each(won_deals, "won_deals", WonDeal):
        deals += 1
        if not deal.touches:
            unattributed += 1
            continue
        currency = deal.revenue.currency
        for cid in {t.campaign_id for t in deal.touches}:
            touched[cid, currency] = touched.get((cid, currency), 0) + 1
            sums.setdefault((cid, currency), [Money.zero(currency)] * len(_MODELS))
        for column, model in enumerate(_MODELS):
            for cid, amount in attribute(deal.touches, deal.revenue, model).items():
                sums[cid, currency][column] += amount
    rows = tuple(
        AttributionRow(cid, currency, touched[cid, currency], *sums[cid, currency])
        for cid, currency in sorted(sums)
    )
    return AttributionReport(rows, deals, unattributed)
