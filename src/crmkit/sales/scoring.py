"""Lead scoring behind a port: the `LeadScorer` protocol, `Score`, and the rule-based scorer.

A scorer reads a lead's categorical features (`Features`: field name to
value, where ``None`` or a missing key means "unknown") and returns a `Score`:
a 0 to 100 value for display and sorting, a probability when the scorer is
predictive, and the contributions that explain it. `RuleScorer` is the
default; `crmkit.sales.naive_bayes.NaiveBayesScorer` learns from won and
lost leads.

>>> scorer = RuleScorer((PointsRule("utm_source", 12, "newsletter"), PointsRule("phone", 5)))
>>> score = scorer.score({"utm_source": "newsletter", "phone": None})
>>> score.value
12
>>> score.explain()
['utm_source=newsletter: +12 points']
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, Protocol, TypeAlias, runtime_checkable

import attrs

from crmkit.kernel.checks import items, of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line, clean_token

Features: TypeAlias = Mapping[str, str | None]
"""A lead's categorical features: field name to value; ``None`` or missing means unknown."""

PROBABILITY_QUANTUM: Final = Decimal("0.0001")
"""Probabilities and log-odds weights are quantised (half-even) to four places."""

POINTS_LIMIT: Final = 1000
"""The largest number of points (either sign) one `PointsRule` may give."""


@runtime_checkable
class LeadScorer(Protocol):
    """The port: anything that scores a lead's features."""

    def score(self, features: Features) -> Score:
        """The score of a lead with these features."""
        ...


def check_features(features: object) -> Features:
    """``features`` itself if it is a mapping; `ValidationError` otherwise."""
    if not isinstance(features, Mapping):
        raise ValidationError("features", "must be a mapping of field name to value", features)
    return features


def known_value(features: Features, field: str) -> str | None:
    """The value of ``field`` as crmkit compares it (stripped, NFC), or None when unknown.

    A missing key, ``None`` and blank text are all unknown.

    >>> known_value({"country": " DE "}, "country")
    'DE'
    >>> known_value({"country": "  "}, "country") is None
    True
    """
    value = features.get(field)
    if value is None:
        return None
    return clean_line(value, f"features.{field}", allow_empty=True) or None


def _field(value: object) -> str:
    return clean_line(value, "field")


def _optional_value(value: object) -> str | None:
    return None if value is None else clean_line(value, "value")


def _weight(value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError("weight", "must be a finite Decimal", value)
    return value


@attrs.frozen
class Contribution:
    """How much one field (or the prior) moved a score.

    Attributes:
        field: The feature's field name, or ``prior`` for a predictive scorer's base rate.
        value: The lead's value of the field (None for the prior).
        weight: Points for a rule scorer; the log-likelihood ratio (natural log) for a
            predictive one.
    """

    field: str = attrs.field(converter=_field)
    value: str | None = attrs.field(converter=_optional_value)
    weight: Decimal = attrs.field(converter=_weight)

    def explain(self, unit: str) -> str:
        """One readable line, for example ``utm_source=newsletter: +12 points``."""
        name = self.field if self.value is None else f"{self.field}={self.value}"
        return f"{name}: {self.weight:+} {unit}"


def _order(contribution: Contribution) -> tuple[Decimal, str, str, Decimal]:
    return (
        -abs(contribution.weight),
        contribution.field,
        contribution.value or "",
        -contribution.weight,
    )


def _value(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError("value", "must be an integer from 0 to 100", value)
    return value


def _probability(value: object) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValidationError("probability", "must be a Decimal from 0 to 1 or None", value)
    return value.quantize(PROBABILITY_QUANTUM, ROUND_HALF_EVEN)


def _contributions(value: object) -> tuple[Contribution, ...]:
    found = items(value, "contributions")
    for index, element in enumerate(found):
        if not isinstance(element, Contribution):
            raise ValidationError(f"contributions[{index}]", "must be a Contribution", element)
    return tuple(sorted(found, key=_order))


@attrs.frozen
class Score:
    """The result of scoring a lead.

    Attributes:
        value: 0 to 100, for display and sorting.
        probability: The chance of winning (four places) from a predictive scorer;
            None from a rule scorer.
        contributions: What moved the score, largest absolute weight first (ties by
            field name); sorted when the score is built.
    """

    value: int = attrs.field(converter=_value)
    probability: Decimal | None = attrs.field(default=None, converter=_probability)
    contributions: tuple[Contribution, ...] = attrs.field(default=(), converter=_contributions)

    def explain(self) -> list[str]:
        """One readable line per contribution, in order: points, or log-odds when predictive."""
        unit = "points" if self.probability is None else "log-odds"
        return [contribution.explain(unit) for contribution in self.contributions]


def _rule_field(value: object) -> str:
    return clean_token(value, "field")


def _points(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > POINTS_LIMIT:
        raise ValidationError(
            "points", f"must be an integer from -{POINTS_LIMIT} to {POINTS_LIMIT}", value
        )
    return value


@attrs.frozen
class PointsRule:
    """Points given when a feature has a value.

    Attributes:
        field: The feature's field name (a token such as ``utm_source``).
        points: Points to add; negative points subtract.
        value: The value that fires the rule (compared exactly after stripping and NFC);
            None fires on any known (non-blank) value.
    """

    field: str = attrs.field(converter=_rule_field)
    points: int = attrs.field(converter=_points)
    value: str | None = attrs.field(default=None, converter=_optional_value)

    def fires(self, features: Features) -> str | None:
        """The lead's value when this rule fires on ``features``, else None."""
        found = known_value(features, self.field)
        if found is None or (self.value is not None and found != self.value):
            return None
        return found


def _rules(value: object) -> tuple[PointsRule, ...]:
    found = items(value, "rules")
    seen: dict[tuple[str, str | None], int] = {}
    for index, rule in enumerate(found):
        if not isinstance(rule, PointsRule):
            raise ValidationError(f"rules[{index}]", "must be a PointsRule", rule)
        key = (rule.field, rule.value)
        if key in seen:
            raise ValidationError(
                f"rules[{index}]", f"must not repeat the field and value of rules[{seen[key]}]"
            )
        seen[key] = index
    return found


@attrs.frozen
class RuleScorer:
    """The default scorer: the sum of the points of every rule that fires, clamped.

    Serialisable configuration (a cattrs round trip gives an equal scorer).

    Attributes:
        rules: The rules; no two share a field and value.
        floor: The lowest value a score takes (0 to 100).
        cap: The highest value a score takes (floor to 100).
    """

    rules: tuple[PointsRule, ...] = attrs.field(converter=_rules)
    floor: int = attrs.field(default=0, kw_only=True, validator=of_type(int))
    cap: int = attrs.field(default=100, kw_only=True, validator=of_type(int))

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.floor <= 100:
            raise ValidationError("floor", "must be from 0 to 100", self.floor)
        if not self.floor <= self.cap <= 100:
            raise ValidationError("cap", f"must be from floor ({self.floor}) to 100", self.cap)

    def score(self, features: Features) -> Score:
        """Sum the points of the rules that fire, clamp to [floor, cap], and list them."""
        check_features(features)
        total = 0
        fired = []
        for rule in self.rules:
            value = rule.fires(features)
            if value is not None:
                total += rule.points
                fired.append(Contribution(rule.field, value, Decimal(rule.points)))
        return Score(min(max(total, self.floor), self.cap), None, tuple(fired))
