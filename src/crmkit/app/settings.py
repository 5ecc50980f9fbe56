"""The sales process as the host configures it: pipelines, criteria, policies and defaults.

Every setting is data with a sensible default, so a host starts with
``Crm(store)`` and changes only what its own process needs::

    settings = SalesSettings(pipelines=(my_pipeline,), approval=ApprovalPolicy(Decimal(10)))
    crm = crmkit.open("sqlite:///crm.db", sales=settings)
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.parties.dedupe import DedupeConfig
from crmkit.sales.pipeline import DEFAULT_PIPELINE, Pipeline
from crmkit.sales.qualification import BANT, QualificationCriteria
from crmkit.sales.quote_policy import ApprovalPolicy
from crmkit.sales.scoring import LeadScorer, PointsRule, RuleScorer
from crmkit.sales.terms import BillingPeriod, RenewalMode, Term

DEFAULT_SCORER = RuleScorer(
    (
        PointsRule("email_domain", 15, "business"),
        PointsRule("has_title", 10, "yes"),
        PointsRule("has_phone", 5, "yes"),
        PointsRule("channel", 15, "referral"),
        PointsRule("channel", 10, "web"),
        PointsRule("q_budget", 20),
        PointsRule("q_authority", 15),
        PointsRule("q_need", 10),
        PointsRule("q_timeline", 10),
    )
)
"""The scorer used when the host gives none: points for a business email, a job title,
a phone number, the channel, and each BANT answer given."""


_ONE_YEAR = Term(years=1)
_THREE_MONTHS = Term(months=3)
_APPROVE_ABOVE_15_PERCENT = ApprovalPolicy(Decimal(15))
_DEDUPE = DedupeConfig()


def _pipelines(value: object) -> tuple[Pipeline, ...]:
    found = tuple(value) if isinstance(value, list | tuple) else ()
    if not found or not all(isinstance(p, Pipeline) for p in found):
        raise ValidationError("pipelines", "must hold at least one Pipeline")
    ids = [p.id for p in found]
    if len(set(ids)) != len(ids):
        raise ValidationError("pipelines", "must have distinct ids", ids)
    return found


@attrs.frozen
class ContractDefaults:
    """The terms of a contract drafted from an accepted quote.

    Attributes:
        term: How long it runs.
        billing_period: How often it bills.
        notice_period: How long before its end it comes up for renewal.
        renewal: Whether it renews automatically.
        uplift: The price increase on renewal, in percent.
    """

    term: Term = _ONE_YEAR
    billing_period: BillingPeriod = BillingPeriod.MONTHLY
    notice_period: Term = _THREE_MONTHS
    renewal: RenewalMode = RenewalMode.MANUAL
    uplift: Decimal = Decimal(0)


@attrs.frozen
class SalesSettings:
    """How this host runs its sales process.

    Attributes:
        pipelines: The opportunity pipelines; the first is the default.
        qualification: The criteria a lead must meet to be qualified.
        approval: When a quote needs approval before it is presented.
        scorer: The lead scorer (`DEFAULT_SCORER` unless given).
        dedupe: How duplicates are detected at capture, conversion and in scans.
        quote_validity_days: How long a new quote is valid by default.
        contracts: The terms of contracts drafted from accepted quotes.
        draft_contracts: Whether an accepted quote drafts its contract.
    """

    pipelines: tuple[Pipeline, ...] = attrs.field(default=(DEFAULT_PIPELINE,), converter=_pipelines)
    qualification: QualificationCriteria = BANT
    approval: ApprovalPolicy = _APPROVE_ABOVE_15_PERCENT
    scorer: LeadScorer = DEFAULT_SCORER
    dedupe: DedupeConfig = _DEDUPE
    quote_validity_days: int = 30
    contracts: ContractDefaults = attrs.field(factory=ContractDefaults)
    draft_contracts: bool = True

    def pipeline(self, id: str | None) -> Pipeline:
        """The pipeline with ``id``, or the default one for None."""
        if id is None:
            return self.pipelines[0]
        for pipeline in self.pipelines:
            if pipeline.id == id:
                return pipeline
        raise ValidationError("pipeline_id", "names no configured pipeline", id)
