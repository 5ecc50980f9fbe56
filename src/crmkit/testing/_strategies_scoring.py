"""Hypothesis strategies for lead scoring: features, histories, rules, models and scores.

Values are drawn mostly from a few shared words, so that generated histories
repeat values (as real ones do) and scored leads hit known and unseen values.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.sales.naive_bayes import NaiveBayesModel
from crmkit.sales.scoring import Contribution, Features, PointsRule, RuleScorer, Score

FEATURE_FIELDS: Final = ("source", "country", "industry", "size")
"""The field names that `features` draws from."""

FEATURE_VALUES: Final = ("web", "fair", "referral", "DE", "FR", "retail", "small", "large")
"""The common values that `feature_values` draws from."""


@cache
def feature_values() -> st.SearchStrategy[str]:
    """Feature values: mostly a few common words, sometimes any single line of text."""
    # Imported here: crmkit.testing.strategies re-exports this module's strategies.
    from crmkit.testing.strategies import lines

    return st.sampled_from(FEATURE_VALUES) | lines(12)


@cache
def features(fields: tuple[str, ...] = FEATURE_FIELDS) -> st.SearchStrategy[Features]:
    """A lead's features over ``fields``: some missing, some None, some blank, most known."""
    value = st.none() | st.just("  ") | feature_values()
    return st.dictionaries(st.sampled_from(fields), value, max_size=len(fields))


@cache
def histories(
    fields: tuple[str, ...] = FEATURE_FIELDS, max_size: int = 30
) -> st.SearchStrategy[list[tuple[Features, bool]]]:
    """Won and lost leads as ``(features, won)`` pairs; may be empty or hold one outcome only."""
    return st.lists(st.tuples(features(fields), st.booleans()), max_size=max_size)


@cache
def alphas() -> st.SearchStrategy[Decimal]:
    """Smoothing constants from 0.01 to 10."""
    return st.decimals(Decimal("0.01"), Decimal(10), places=2)


@cache
def naive_bayes_models(
    fields: tuple[str, ...] = FEATURE_FIELDS,
) -> st.SearchStrategy[NaiveBayesModel]:
    """Models learned from histories that hold at least one won and one lost lead."""
    history = histories(fields).filter(
        lambda pairs: any(won for _, won in pairs) and not all(won for _, won in pairs)
    )
    return st.builds(NaiveBayesModel.learn, history, st.just(fields), alphas())


@cache
def points_rules() -> st.SearchStrategy[PointsRule]:
    """Rules on `FEATURE_FIELDS`, for any value or one of the common ones."""
    return st.builds(
        PointsRule,
        st.sampled_from(FEATURE_FIELDS),
        st.integers(-60, 60),
        st.none() | st.sampled_from(FEATURE_VALUES),
    )


@cache
def rule_scorers() -> st.SearchStrategy[RuleScorer]:
    """Rule scorers with up to eight distinct rules and a valid floor and cap."""
    rules = st.lists(points_rules(), max_size=8, unique_by=lambda rule: (rule.field, rule.value))
    bounds = st.tuples(st.integers(0, 100), st.integers(0, 100)).map(sorted)
    return st.builds(
        lambda found, limits: RuleScorer(tuple(found), floor=limits[0], cap=limits[1]),
        rules,
        bounds,
    )


@cache
def contributions() -> st.SearchStrategy[Contribution]:
    """Contributions with four-place weights."""
    return st.builds(
        Contribution,
        st.sampled_from((*FEATURE_FIELDS, "prior")),
        st.none() | feature_values(),
        st.decimals(-1000, 1000, places=4, allow_nan=False, allow_infinity=False),
    )


@cache
def scores() -> st.SearchStrategy[Score]:
    """Scores, with or without a probability."""
    return st.builds(
        Score,
        st.integers(0, 100),
        st.none() | st.decimals(0, 1, places=4),
        st.lists(contributions(), max_size=5).map(tuple),
    )
