"""Sales pipelines: the configurable stages an opportunity moves through.

A `Pipeline` is data that a host configures and stores (it serialises like any
record). Each `Stage` has a default win probability and a forecast category,
as in Salesforce. A pipeline is validated when it is built:

* stage keys are unique machine names;
* at least one stage is open, exactly one is won and at least one is lost;
* the won stage has probability 1 and forecast category ``closed``, every lost
  stage probability 0 and category ``omitted``, and no open stage is ``closed``.

Probabilities are `Decimal` fractions from 0 to 1 with at most two decimal
places (whole percents): ``Decimal("0.6")`` is 60%.

>>> DEFAULT_PIPELINE.stage("proposal").probability
Decimal('0.60')
>>> [stage.key for stage in DEFAULT_PIPELINE.open_stages]
['prospecting', 'qualification', 'needs_analysis', 'proposal', 'negotiation']
>>> DEFAULT_PIPELINE.stage("won")
Traceback (most recent call last):
...
crmkit.kernel.errors.ValidationError: stage: must be a stage of pipeline 'default' (got 'won')
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

import attrs

from crmkit.kernel.checks import items, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.numbers import decimal_of
from crmkit.kernel.text import clean_line, clean_token

_PERCENT: Final = Decimal("0.01")


class ForecastCategory(StrEnum):
    """Where a stage's opportunities count in a forecast (Salesforce's categories)."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


class StageKind(StrEnum):
    """Whether a stage is open, or closes an opportunity as won or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


def check_probability(value: object, field: str = "probability") -> Decimal:
    """A win probability: a fraction from 0 to 1 with at most two decimal places.

    Accepts a `Decimal`, an int (0 or 1) or a decimal string, never a float.
    The result always has two decimal places.

    >>> check_probability("0.5")
    Decimal('0.50')
    """
    result = decimal_of(value, field)
    if not 0 <= result <= 1:
        raise ValidationError(field, "must be a fraction from 0 to 1", value)
    exact = result.quantize(_PERCENT)
    if exact != result:
        raise ValidationError(field, "must have at most two decimal places", value)
    return exact


_to_category = to_enum(ForecastCategory, "forecast_category")
_to_kind = to_enum(StageKind, "kind")


def _key(value: object) -> str:
    return clean_token(value, "key")


def _name(value: object) -> str:
    return clean_line(value, "name")


def _probability(value: object) -> Decimal:
    return check_probability(value)


def _category(value: object) -> ForecastCategory:
    return _to_category(value)


def _kind(value: object) -> StageKind:
    return _to_kind(value)


_CLOSING: Final = {
    StageKind.WON: (Decimal(1), ForecastCategory.CLOSED),
    StageKind.LOST: (Decimal(0), ForecastCategory.OMITTED),
}


@attrs.frozen
class Stage:
    """One stage of a pipeline.

    Attributes:
        key: Machine name, unique in its pipeline, for example ``needs_analysis``.
        name: Display name, for example ``Needs Analysis``.
        probability: Default win probability, a fraction from 0 to 1 (two places).
        forecast_category: Where opportunities in this stage count in a forecast.
        kind: Open, or closing as won or lost.
    """

    key: str = attrs.field(converter=_key)
    name: str = attrs.field(converter=_name)
    probability: Decimal = attrs.field(converter=_probability)
    forecast_category: ForecastCategory = attrs.field(converter=_category)
    kind: StageKind = attrs.field(default=StageKind.OPEN, converter=_kind)

    def __attrs_post_init__(self) -> None:
        closing = _CLOSING.get(self.kind)
        if closing is None:
            if self.forecast_category is ForecastCategory.CLOSED:
                raise ValidationError(
                    "forecast_category", "must not be 'closed' for an open stage", self.key
                )
            return
        probability, category = closing
        if self.probability != probability:
            raise ValidationError(
                "probability", f"must be {probability} for a {self.kind} stage", self.probability
            )
        if self.forecast_category is not category:
            raise ValidationError(
                "forecast_category",
                f"must be {category.value!r} for a {self.kind} stage",
                self.forecast_category.value,
            )

    @property
    def is_open(self) -> bool:
        """Whether opportunities in this stage are still open."""
        return self.kind is StageKind.OPEN


def _pipeline_id(value: object) -> str:
    return check_id(value, "id")


def _stages(value: object) -> tuple[Stage, ...]:
    return items(value, "stages")


def _check_stages(instance: Pipeline, attribute: attrs.Attribute[object], value: object) -> None:
    tuple_of(Stage)(instance, attribute, value)
    stages: tuple[Stage, ...] = instance.stages
    seen: set[str] = set()
    for index, stage in enumerate(stages):
        if stage.key in seen:
            raise ValidationError(f"stages[{index}].key", "must be unique", stage.key)
        seen.add(stage.key)
    counts = {kind: sum(s.kind is kind for s in stages) for kind in StageKind}
    if counts[StageKind.OPEN] < 1:
        raise ValidationError("stages", "must hold at least one open stage")
    if counts[StageKind.WON] != 1:
        raise ValidationError("stages", "must hold exactly one won stage", counts[StageKind.WON])
    if counts[StageKind.LOST] < 1:
        raise ValidationError("stages", "must hold at least one lost stage")


@attrs.frozen
class Pipeline:
    """A configurable sales pipeline: its stages in order.

    Attributes:
        id: The pipeline's id, which opportunities refer to.
        name: Display name.
        stages: The stages in the order a deal normally moves through them.
    """

    id: str = attrs.field(converter=_pipeline_id)
    name: str = attrs.field(converter=_name)
    stages: tuple[Stage, ...] = attrs.field(converter=_stages, validator=_check_stages)

    def stage(self, key: str) -> Stage:
        """The stage with this key; `ValidationError` naming field ``stage`` if there is none."""
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise ValidationError("stage", f"must be a stage of pipeline {self.id!r}", key)

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        """The open stages, in order."""
        return tuple(s for s in self.stages if s.kind is StageKind.OPEN)

    @property
    def won_stage(self) -> Stage:
        """The one stage that closes an opportunity as won."""
        return next(s for s in self.stages if s.kind is StageKind.WON)

    @property
    def lost_stages(self) -> tuple[Stage, ...]:
        """The stages that close an opportunity as lost; the first is the default."""
        return tuple(s for s in self.stages if s.kind is StageKind.LOST)


DEFAULT_PIPELINE: Final = Pipeline(
    "default",
    "Default",
    (
        Stage("prospecting", "Prospecting", Decimal("0.1"), ForecastCategory.PIPELINE),
        Stage("qualification", "Qualification", Decimal("0.2"), ForecastCategory.PIPELINE),
        Stage("needs_analysis", "Needs Analysis", Decimal("0.4"), ForecastCategory.PIPELINE),
        Stage("proposal", "Proposal", Decimal("0.6"), ForecastCategory.BEST_CASE),
        Stage("negotiation", "Negotiation", Decimal("0.8"), ForecastCategory.COMMIT),
        Stage("closed_won", "Closed Won", 1, ForecastCategory.CLOSED, StageKind.WON),
        Stage("closed_lost", "Closed Lost", 0, ForecastCategory.OMITTED, StageKind.LOST),
    ),
)
"""The default pipeline, from prospecting (10%) to closed won (100%) or closed lost (0%)."""
