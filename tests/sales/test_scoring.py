"""Lead scoring: the port, `Score`, the rule scorer, configuration checks and serialisation."""

import json
from decimal import Decimal
from typing import TypeVar

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.naive_bayes import NaiveBayesModel, NaiveBayesScorer
from crmkit.sales.scoring import (
    Contribution,
    Features,
    LeadScorer,
    PointsRule,
    RuleScorer,
    Score,
    known_value,
)
from crmkit.testing._strategies_scoring import (
    features,
    naive_bayes_models,
    rule_scorers,
    scores,
)

T = TypeVar("T")

RULES = RuleScorer(
    (
        PointsRule("utm_source", 12, "newsletter"),
        PointsRule("utm_source", -5, "purchased_list"),
        PointsRule("phone", 8),
        PointsRule("country", 30, "DE"),
        PointsRule("industry", 8, "retail"),
    )
)


def round_trip(obj: T, cls: type[T]) -> None:
    conv = make_converter()
    data = conv.unstructure(obj)
    assert structure(conv, data, cls) == obj
    assert Loaders().load(cls, json.loads(dumps(data))) == obj


# --- the port ---------------------------------------------------------------


def best(scorer: LeadScorer, leads: list[Features]) -> Features:
    return max(leads, key=lambda lead: scorer.score(lead).value)


def test_both_scorers_satisfy_the_port() -> None:
    history = [({"country": "DE"}, True), ({"country": "FR"}, False)]
    predictive = NaiveBayesScorer(NaiveBayesModel.learn(history, ["country"]))
    for scorer in (RULES, predictive):
        assert isinstance(scorer, LeadScorer)
        assert best(scorer, [{"country": "FR"}, {"country": "DE"}]) == {"country": "DE"}


# --- the rule scorer ----------------------------------------------------------


def test_rules_sum_and_explain() -> None:
    score = RULES.score({"utm_source": "newsletter", "phone": "+49 30 1234", "country": "DE"})
    assert score.value == 50
    assert score.probability is None
    assert score.explain() == [
        "country=DE: +30 points",
        "utm_source=newsletter: +12 points",
        "phone=+49 30 1234: +8 points",
    ]


def test_ties_in_weight_are_ordered_by_field_name() -> None:
    score = RULES.score({"phone": "1", "industry": "retail"})
    assert [c.field for c in score.contributions] == ["industry", "phone"]
    assert score.value == 16


def test_unknown_blank_and_other_values_do_not_fire() -> None:
    score = RULES.score({"utm_source": "web", "phone": "   ", "country": None})
    assert score == Score(0, None, ())
    assert RULES.score({}).value == 0


def test_values_are_stripped_and_compared_exactly() -> None:
    assert RULES.score({"country": " DE "}).value == 30
    assert RULES.score({"country": "de"}).value == 0


def test_negative_points_clamp_at_the_floor() -> None:
    score = RULES.score({"utm_source": "purchased_list"})
    assert score.value == 0
    assert score.explain() == ["utm_source=purchased_list: -5 points"]
    floored = RuleScorer(RULES.rules, floor=10, cap=40)
    assert floored.score({"utm_source": "purchased_list"}).value == 10
    assert floored.score({"country": "DE", "phone": "1", "industry": "retail"}).value == 40


def test_an_any_value_rule_and_a_specific_rule_both_fire() -> None:
    scorer = RuleScorer((PointsRule("country", 5), PointsRule("country", 20, "DE")))
    score = scorer.score({"country": "DE"})
    assert score.value == 25
    assert score.explain() == ["country=DE: +20 points", "country=DE: +5 points"]


@settings(max_examples=150)
@given(rule_scorers(), features())
def test_rule_scores_stay_between_floor_and_cap(scorer: RuleScorer, lead: Features) -> None:
    score = scorer.score(lead)
    assert scorer.floor <= score.value <= scorer.cap
    total = sum(int(c.weight) for c in score.contributions)
    assert score.value == min(max(total, scorer.floor), scorer.cap)
    fired = [rule for rule in scorer.rules if rule.fires(lead) is not None]
    assert len(score.contributions) == len(fired)
    weights = [abs(c.weight) for c in score.contributions]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: PointsRule("Bad Field", 1), "field"),
        (lambda: PointsRule("", 1), "field"),
        (lambda: PointsRule("phone", True), "points"),
        (lambda: PointsRule("phone", 1.5), "points"),
        (lambda: PointsRule("phone", 5000), "points"),
        (lambda: PointsRule("phone", 1, ""), "value"),
        (lambda: PointsRule("phone", 1, 7), "value"),
        (lambda: RuleScorer((PointsRule("a", 1), PointsRule("a", 2))), "rules[1]"),
        (lambda: RuleScorer(("a",)), "rules[0]"),
        (lambda: RuleScorer("abc"), "rules"),
        (lambda: RuleScorer((), floor=-1), "floor"),
        (lambda: RuleScorer((), floor=50, cap=40), "cap"),
        (lambda: RuleScorer((), cap=101), "cap"),
        (lambda: RuleScorer((), cap=True), "cap"),
    ],
)
def test_bad_rule_configuration_names_the_field(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        build()  # type: ignore[operator]
    assert raised.value.field == field
    assert raised.value.rule


def test_bad_features_are_refused_with_the_field() -> None:
    with pytest.raises(ValidationError, match="features: must be a mapping"):
        RULES.score([("country", "DE")])  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as raised:
        RULES.score({"country": 49})  # type: ignore[dict-item]
    assert raised.value.field == "features.country"
    with pytest.raises(ValidationError) as raised:
        known_value({"country": "D\x00E"}, "country")
    assert raised.value.field == "features.country"


# --- Score ----------------------------------------------------------------------


def test_score_sorts_contributions_and_quantises_the_probability() -> None:
    score = Score(
        40,
        Decimal("0.4"),
        (Contribution("a", "x", Decimal("0.5")), Contribution("b", None, Decimal("-2"))),
    )
    assert score.probability == Decimal("0.4000")
    assert str(score.probability) == "0.4000"
    assert [c.field for c in score.contributions] == ["b", "a"]
    assert score.explain() == ["b: -2 log-odds", "a=x: +0.5 log-odds"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value": 101}, "value"),
        ({"value": -1}, "value"),
        ({"value": True}, "value"),
        ({"value": 5, "probability": 0.5}, "probability"),
        ({"value": 5, "probability": Decimal("1.5")}, "probability"),
        ({"value": 5, "probability": Decimal("NaN")}, "probability"),
        ({"value": 5, "contributions": ("x",)}, "contributions[0]"),
        ({"value": 5, "contributions": "x"}, "contributions"),
    ],
)
def test_bad_scores_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Score(**kwargs)
    assert raised.value.field == field


def test_contribution_refuses_float_weights() -> None:
    with pytest.raises(ValidationError, match="weight"):
        Contribution("a", None, 0.5)


# --- serialisation ----------------------------------------------------------------


@settings(max_examples=60)
@given(scores())
def test_scores_round_trip(score: Score) -> None:
    round_trip(score, Score)


@settings(max_examples=60)
@given(rule_scorers())
def test_rule_scorers_round_trip(scorer: RuleScorer) -> None:
    round_trip(scorer, RuleScorer)


@settings(max_examples=40)
@given(naive_bayes_models())
def test_naive_bayes_models_round_trip(model: NaiveBayesModel) -> None:
    round_trip(model, NaiveBayesModel)


def test_a_rule_scorer_reads_from_json_config() -> None:
    data = {
        "rules": [
            {"field": "utm_source", "points": 12, "value": "newsletter"},
            {"field": "phone", "points": 8},
        ],
        "cap": 90,
    }
    scorer = structure(make_converter(), data, RuleScorer)
    assert scorer == RuleScorer(
        (PointsRule("utm_source", 12, "newsletter"), PointsRule("phone", 8)), cap=90
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rules": [{"field": "phone", "points": 1.5}]}, "rules[0].points"),
        ({"rules": [{"field": "phone", "points": "8"}]}, "rules[0].points"),
        ({"rules": [{"field": "Phone", "points": 8}]}, "rules[0].field"),
        ({"rules": [], "floor": 1.0}, "floor"),
        ({"rules": [], "colour": "red"}, "colour"),
    ],
)
def test_bad_json_config_is_refused_with_a_path(data: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        structure(make_converter(), data, RuleScorer)
    assert raised.value.field == field


def test_bad_stored_models_are_refused_with_a_path() -> None:
    conv = make_converter()
    good = conv.unstructure(NaiveBayesModel.learn([({"a": "x"}, True), ({}, False)], ["a"]))
    assert good == {
        "fields": ["a"],
        "won": 1,
        "lost": 1,
        "won_counts": {"a": {"x": 1}},
        "lost_counts": {"a": {}},
        "alpha": "1",
    }
    changes: list[tuple[dict[str, object], str]] = [
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": "0"}, "alpha"),
        ({"won": 0}, "won"),
        ({"won_counts": {"a": {"x": 0}}}, "won_counts.a.x"),
        ({"won_counts": {"a": {"x": 2}}}, "won_counts.a"),
        ({"won_counts": {}}, "won_counts"),
        ({"fields": ["a", "a"]}, "fields[1]"),
    ]
    for change, field in changes:
        with pytest.raises(ValidationError) as raised:
            structure(conv, {**good, **change}, NaiveBayesModel)
        assert raised.value.field == field, change
