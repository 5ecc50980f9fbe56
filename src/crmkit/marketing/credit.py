"""Revenue credited to campaigns for one won deal, by every attribution model.

When an opportunity is won, the app collects the campaign touches of its
buyer (responses of its contacts and of the lead it came from) and keeps a
`DealCredit`: the revenue, the touches and each campaign's share under each
`crmkit.marketing.attribution.AttributionModel`. A campaign's revenue won is
then the sum of its credits under the model the reader picks. Reopening the
deal voids its credit; winning it again credits it afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from crmkit.kernel.checks import aware, of_type, tuple_of, version
from crmkit.kernel.ids import CampaignId, OpportunityId, check_id
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel, Touch, attribute

__all__ = ["Credit", "DealCredit"]


def _opportunity_id(value: object) -> OpportunityId:
    return OpportunityId(check_id(value, "opportunity_id"))


@attrs.frozen
class Credit:
    """One campaign's share of one deal under one model.

    Attributes:
        model: The attribution model.
        campaign_id: The campaign credited.
        amount: Its share of the revenue.
    """

    model: AttributionModel = attrs.field(validator=of_type(AttributionModel))
    campaign_id: CampaignId = attrs.field(validator=of_type(str))
    amount: Money = attrs.field(validator=of_type(Money))


@attrs.frozen
class DealCredit:
    """The campaigns credited with one won deal (its id is the opportunity's id).

    Attributes:
        id: The opportunity's id.
        version: Grows by one each time the deal is won again or reopened.
        won_at: When the deal was won.
        revenue: The deal's amount when won.
        touches: The campaign touches before the win, by time.
        credits: Every campaign's share under every model.
        void: The deal was reopened: its credits no longer count.
    """

    id: OpportunityId = attrs.field(converter=_opportunity_id)
    version: int = attrs.field(validator=version)
    won_at: datetime = attrs.field(validator=aware())
    revenue: Money = attrs.field(validator=of_type(Money))
    touches: tuple[Touch, ...] = attrs.field(validator=tuple_of(Touch))
    credits: tuple[Credit, ...] = attrs.field(validator=tuple_of(Credit))
    void: bool = attrs.field(default=False, validator=of_type(bool))

    @classmethod
    def of(
        cls,
        opportunity_id: str,
        version: int,
        won_at: datetime,
        revenue: Money,
        touches: Iterable[Touch],
    ) -> DealCredit:
        """Credit ``revenue`` to the campaigns of the ``touches`` made up to ``won_at``."""
        before = tuple(sorted((t for t in touches if t.at <= won_at), key=lambda t: t.at))
        credits = tuple(
            Credit(model, campaign, amount)
            for model in AttributionModel
            for campaign, amount in attribute(before, revenue, model).items()
        )
        return cls(opportunity_id, version, won_at, revenue, before, credits)

    @property
    def campaign_ids(self) -> tuple[CampaignId, ...]:
        """The campaigns credited, sorted."""
        return tuple(sorted({c.campaign_id for c in self.credits}))

    def credited(self, campaign_id: str, model: AttributionModel) -> Money | None:
        """What ``campaign_id`` earned under ``model`` (None when it earned nothing or is void)."""
        if self.void:
            return None
        for credit in self.credits:
            if credit.model is model and credit.campaign_id == campaign_id:
                return credit.amount
        return None
