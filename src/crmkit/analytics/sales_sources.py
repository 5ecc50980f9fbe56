"""Where deals come from: lead sources and the campaign funnel.

* `lead_source_effectiveness`: per lead source channel (and campaign), how
  many leads came in, how many were converted, and how many won deals (and
  how much money) they led to.
* `funnel`: campaign responses → leads → opportunities → won, with the
  conversion from each step to the next.

An opportunity belongs to a lead when its ``lead_id`` names the lead, or the
lead's ``opportunity_id`` names it. Duplicate leads merged into another
(``merged_into`` set) are not counted. Both reports keep the leads' ids in
memory to join the opportunities to them: memory grows with the number of
leads; opportunities and members are read in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

import attrs

from crmkit.analytics._shared import each, ratio
from crmkit.analytics.currency import ReportingCurrency
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money
from crmkit.marketing.member import CampaignMember
from crmkit.ports.rates import ExchangeRates
from crmkit.sales.lead import Lead, LeadStatus
from crmkit.sales.opportunity import Opportunity, OpportunityStatus

_Key = tuple[str, str | None]


@attrs.frozen
class SourceRow:
    """Leads of one source channel (and campaign) and what became of them.

    Attributes:
        channel: The lead source channel, for example ``web``.
        campaign_id: The campaign, when grouped by campaign (None: no campaign, or not grouped).
        leads: How many leads.
        converted: How many of them were converted.
        conversion: ``converted / leads``, 4 places.
        won: How many won opportunities came from them.
        won_amount: Those opportunities' converted amounts, summed.
    """

    channel: str
    campaign_id: str | None
    leads: int
    converted: int
    conversion: Decimal | None
    won: int
    won_amount: Money


@attrs.frozen
class SourceReport:
    """Lead source effectiveness, in one reporting currency.

    Attributes:
        rows: One row per channel (and campaign), sorted, no campaign last.
        by_campaign: Whether rows are per channel and campaign.
        currency: The reporting currency.
        on: The day whose exchange rates were used.
        leads: Leads in all.
        converted: Converted leads in all.
        won: Won opportunities traced to a lead, in all.
        won_amount: Their amounts, summed.
        unattributed: Won opportunities with no known lead (not in any row).
    """

    rows: tuple[SourceRow, ...]
    by_campaign: bool
    currency: str
    on: date
    leads: int
    converted: int
    won: int
    won_amount: Money
    unattributed: int


def lead_source_effectiveness(
    leads: Iterable[Lead],
    opportunities: Iterable[Opportunity],
    *,
    currency: str,
    rates: ExchangeRates,
    on: date,
    by_campaign: bool = True,
) -> SourceReport:
    """Leads, converted leads, won deals and won amount per source channel (and campaign)."""
    if not isinstance(by_campaign, bool):
        raise ValidationError("by_campaign", "must be True or False", by_campaign)
    convert = ReportingCurrency(currency, rates, on)
    counts: dict[_Key, list[int]] = {}
    by_lead: dict[str, _Key] = {}
    by_opportunity: dict[str, _Key] = {}
    for _, lead in each(leads, "leads", Lead):
        if lead.merged_into is not None:
            continue
        key = (lead.source.channel, lead.source.campaign_id if by_campaign else None)
        tally = counts.setdefault(key, [0, 0, 0])
        tally[0] += 1
        tally[1] += lead.status is LeadStatus.CONVERTED
        by_lead[lead.id] = key
        if lead.opportunity_id is not None:
            by_opportunity[lead.opportunity_id] = key
    amounts: dict[_Key, Money] = {}
    unattributed = 0
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.status is not OpportunityStatus.WON:
            continue
        found = by_lead.get(opp.lead_id) if opp.lead_id is not None else None
        found = found or by_opportunity.get(opp.id)
        if found is None:
            unattributed += 1
            continue
        counts[found][2] += 1
        amounts[found] = amounts.get(found, convert.zero()) + convert(opp.amount)
    rows = tuple(
        SourceRow(
            key[0],
            key[1],
            leads_,
            converted,
            ratio(converted, leads_),
            won,
            amounts.get(key, convert.zero()),
        )
        for key, (leads_, converted, won) in sorted(
            counts.items(), key=lambda c: (c[0][0], c[0][1] is None, c[0][1] or "")
        )
    )
    return SourceReport(
        rows,
        by_campaign,
        convert.currency,
        convert.on,
        sum(r.leads for r in rows),
        sum(r.converted for r in rows),
        sum(r.won for r in rows),
        sum((r.won_amount for r in rows), convert.zero()),
        unattributed,
    )


class FunnelStep(StrEnum):
    """A step of the campaign funnel."""

    RESPONSES = "responses"
    LEADS = "leads"
    OPPORTUNITIES = "opportunities"
    WON = "won"


FUNNEL_STEPS: Final = tuple(FunnelStep)
"""The funnel's steps, in order."""


@attrs.frozen
class FunnelRow:
    """One step of the funnel.

    Attributes:
        step: The step.
        count: How many records reached it.
        conversion: ``count / previous step's count``, 4 places (None for the
            first step, or after an empty step). Can exceed 1: a lead can be
            attributed to a campaign without a recorded response.
        overall: ``count / responses``, 4 places (None without responses).
    """

    step: FunnelStep
    count: int
    conversion: Decimal | None
    overall: Decimal | None


@attrs.frozen
class FunnelReport:
    """Campaign responses → leads → opportunities → won.

    Attributes:
        rows: One row per step, in `FUNNEL_STEPS` order.
        campaign_id: The campaign, or None for every campaign.
    """

    rows: tuple[FunnelRow, ...]
    campaign_id: str | None


def funnel(
    members: Iterable[CampaignMember],
    leads: Iterable[Lead],
    opportunities: Iterable[Opportunity],
    *,
    campaign_id: str | None = None,
) -> FunnelReport:
    """The campaign funnel, for one campaign or (None) every campaign.

    * responses: members that responded (``responded_at`` set);
    * leads: leads whose source names the campaign (any campaign when None);
    * opportunities: opportunities of those leads;
    * won: those opportunities that are won.
    """
    wanted = None if campaign_id is None else check_id(campaign_id, "campaign_id")
    responses = sum(
        1
        for _, member in each(members, "members", CampaignMember)
        if member.responded_at is not None and wanted in (None, member.campaign_id)
    )
    lead_ids: set[str] = set()
    opportunity_ids: set[str] = set()
    for _, lead in each(leads, "leads", Lead):
        source = lead.source.campaign_id
        if lead.merged_into is None and source is not None and wanted in (None, source):
            lead_ids.add(lead.id)
            if lead.opportunity_id is not None:
                opportunity_ids.add(lead.opportunity_id)
    opportunities_ = won = 0
    for _, opp in each(opportunities, "opportunities", Opportunity):
        if opp.lead_id in lead_ids or opp.id in opportunity_ids:
            opportunities_ += 1
            won += opp.status is OpportunityStatus.WON
    counts = (responses, len(lead_ids), opportunities_, won)
    rows = tuple(
        FunnelRow(
            step,
            count,
            None if index == 0 else ratio(count, counts[index - 1]),
            ratio(count, responses),
        )
        for index, (step, count) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))
    )
    return FunnelReport(rows, wanted)
