"""Campaign attribution and results: which campaigns earned revenue, and what they returned.

`attribute` gives revenue to the campaigns that touched a buyer before the
deal, by one of three models:

* ``first_touch``: all of it to the earliest touch's campaign;
* ``last_touch``: all of it to the latest touch's campaign;
* ``linear``: an equal share to every touch (a campaign touching twice gets
  two shares), split exactly to the currency's minor unit with
  `Money.allocate`.

Touches are ordered by time, then by campaign id, so the result never depends
on the order they are given in. **Remainder rule** (linear): the minor units
left over after the equal split go one each to the earliest touches in that
order. 100.00 EUR over three touches is 33.34, 33.33, 33.33: the first touch
gets the extra cent. The amounts always add up exactly to the revenue.

`results` sums a campaign's members into `CampaignResults`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import attrs

from crmkit.kernel.checks import aware, items, of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import CampaignId, LeadId, check_id
from crmkit.kernel.money import Money
from crmkit.marketing.campaign import Campaign
from crmkit.marketing.member import CampaignMember, MemberStatus

__all__ = [
    "ROI_PLACES",
    "AttributionModel",
    "CampaignResults",
    "Touch",
    "attribute",
    "results",
]

ROI_PLACES = Decimal("0.0001")
"""The quantum of `CampaignResults.roi` (4 decimal places, half-even)."""


class AttributionModel(StrEnum):
    """How revenue is shared among the campaigns that touched a buyer."""

    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LINEAR = "linear"


def _touch_campaign(value: object) -> CampaignId:
    return CampaignId(check_id(value, "campaign_id"))


@attrs.frozen
class Touch:
    """One contact between a campaign and a buyer.

    Attributes:
        campaign_id: The campaign that touched.
        at: When (timezone-aware).
    """

    campaign_id: CampaignId = attrs.field(converter=_touch_campaign)
    at: datetime = attrs.field(validator=aware())


def _sort_key(touch: Touch) -> tuple[datetime, str]:
    return touch.at, touch.campaign_id


def attribute(
    touches: Iterable[Touch], revenue: Money, model: AttributionModel | str
) -> dict[CampaignId, Money]:
    """Share ``revenue`` among the campaigns of ``touches`` by ``model``.

    Returns each credited campaign's amount, in touch order; ``{}`` when there
    are no touches. See the module docs for the models and the remainder rule.

    >>> from datetime import UTC, datetime
    >>> day = lambda d: datetime(2026, 3, d, tzinfo=UTC)
    >>> touches = [Touch("web", day(3)), Touch("email", day(1)), Touch("event", day(2))]
    >>> {k: str(v) for k, v in attribute(touches, Money.of("100", "EUR"), "linear").items()}
    {'email': '33.34 EUR', 'event': '33.33 EUR', 'web': '33.33 EUR'}
    """
    listed = items(touches, "touches")
    for index, touch in enumerate(listed):
        if not isinstance(touch, Touch):
            raise ValidationError(f"touches[{index}]", "must be a Touch", touch)
    if not isinstance(revenue, Money):
        raise ValidationError("revenue", "must be Money", revenue)
    try:
        chosen = AttributionModel(model)
    except (ValueError, TypeError):
        choices = ", ".join(repr(m.value) for m in AttributionModel)
        raise ValidationError("model", f"must be one of {choices}", model) from None
    if not listed:
        return {}
    ordered = sorted(listed, key=_sort_key)
    if chosen is AttributionModel.FIRST_TOUCH:
        return {ordered[0].campaign_id: revenue}
    if chosen is AttributionModel.LAST_TOUCH:
        return {ordered[-1].campaign_id: revenue}
    shares: dict[CampaignId, Money] = {}
    for touch, part in zip(ordered, revenue.allocate([1] * len(ordered)), strict=True):
        known = shares.get(touch.campaign_id)
        shares[touch.campaign_id] = part if known is None else known + part
    return shares


@attrs.frozen
class CampaignResults:
    """What a campaign achieved, from its members and the revenue won through it.

    Attributes:
        sent: Members the campaign was sent to (bounces included).
        delivered: ``sent`` minus the members whose send bounced.
        responded: Members who responded (including converted ones and later opt-outs).
        converted: Members whose response became a lead.
        leads: Distinct leads created from responses.
        cost: The campaign's actual cost.
        cost_per_lead: ``cost / leads`` rounded half-even to the minor unit; None without leads.
        revenue_won: Revenue won through the campaign (same currency as the cost).
        roi: ``(revenue_won - cost) / cost`` to 4 places, half-even; None when the cost is zero.
    """

    sent: int = attrs.field(validator=of_type(int))
    delivered: int = attrs.field(validator=of_type(int))
    responded: int = attrs.field(validator=of_type(int))
    converted: int = attrs.field(validator=of_type(int))
    leads: int = attrs.field(validator=of_type(int))
    cost: Money = attrs.field(validator=of_type(Money))
    cost_per_lead: Money | None = attrs.field(validator=of_type(Money, optional=True))
    revenue_won: Money = attrs.field(validator=of_type(Money))
    roi: Decimal | None = attrs.field(validator=of_type(Decimal, optional=True))


_SENT = frozenset({MemberStatus.SENT, MemberStatus.RESPONDED, MemberStatus.CONVERTED})


def _was_sent(member: CampaignMember) -> bool:
    # A bounce is a send that failed; an opted-out member counts if it was sent before.
    if member.status in _SENT or member.status is MemberStatus.BOUNCED:
        return True
    return member.status is MemberStatus.OPTED_OUT and member.first_sent_at is not None


def _responded(member: CampaignMember) -> bool:
    return member.responded_at is not None


def results(
    campaign: Campaign, members: Iterable[CampaignMember], revenue_won: Money
) -> CampaignResults:
    """The results of ``campaign`` from its ``members`` and the revenue won through it.

    >>> from datetime import UTC, datetime
    >>> from crmkit.kernel.events import Stamp
    >>> from crmkit.marketing.campaign import CampaignType
    >>> s = Stamp(datetime(2026, 3, 2, tzinfo=UTC), "u-1")
    >>> c, _ = Campaign.plan("cmp-1", "Mailing", CampaignType.EMAIL, "u-1", s, currency="EUR")
    >>> c, _ = c.activate(s)
    >>> c, _ = c.record_cost(Money.of("300", "EUR"), s)
    >>> m, _ = CampaignMember.target("m-1", "cmp-1", s, contact_id="c-1")
    >>> m, _ = m.send(s)
    >>> m, _ = m.respond("email", s)
    >>> m, _ = m.convert("lead-1", s)
    >>> r = results(c, [m], Money.of("1000", "EUR"))
    >>> str(r.cost_per_lead), r.roi
    ('300.00 EUR', Decimal('2.3333'))
    """
    if not isinstance(campaign, Campaign):
        raise ValidationError("campaign", "must be a Campaign", campaign)
    listed = items(members, "members")
    for index, member in enumerate(listed):
        if not isinstance(member, CampaignMember):
            raise ValidationError(f"members[{index}]", "must be a CampaignMember", member)
        if member.campaign_id != campaign.id:
            raise ValidationError(f"members[{index}]", f"must belong to {campaign.id}", member.id)
    if not isinstance(revenue_won, Money) or revenue_won.currency != campaign.currency:
        raise ValidationError("revenue_won", f"must be Money in {campaign.currency}", revenue_won)
    sent = sum(1 for m in listed if _was_sent(m))
    bounced = sum(1 for m in listed if m.status is MemberStatus.BOUNCED)
    converted = [m for m in listed if m.status is MemberStatus.CONVERTED]
    leads = len({LeadId(m.converted_lead_id) for m in converted if m.converted_lead_id})
    cost = campaign.actual_cost
    per_lead = Money.rounded(cost.amount / leads, cost.currency) if leads else None
    roi = None
    if cost.amount != 0:
        roi = ((revenue_won.amount - cost.amount) / cost.amount).quantize(
            ROI_PLACES, rounding=ROUND_HALF_EVEN
        )
    return CampaignResults(
        sent=sent,
        delivered=sent - bounced,
        responded=sum(1 for m in listed if _responded(m)),
        converted=len(converted),
        leads=leads,
        cost=cost,
        cost_per_lead=per_lead,
        revenue_won=revenue_won,
        roi=roi,
    )
