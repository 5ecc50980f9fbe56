"""The naive Bayes scorer: a hand-computed example, exact references, properties and edge cases."""

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.sales.naive_bayes import NaiveBayesModel, NaiveBayesScorer
from crmkit.sales.scoring import Features, known_value
from crmkit.testing._strategies_scoring import (
    FEATURE_FIELDS,
    alphas,
    features,
    histories,
    naive_bayes_models,
)

# The example of docs/sales/scoring.md: six closed leads, two fields.
HISTORY: list[tuple[Features, bool]] = [
    ({"source": "referral", "country": "DE"}, True),
    ({"source": "web", "country": "DE"}, True),
    ({"source": "web", "country": "FR"}, False),
    ({"source": "web", "country": "DE"}, False),
    ({"source": "fair", "country": "FR"}, False),
    ({"source": "fair", "country": None}, False),
]
FIELDS = ("source", "country")
QUARTER_STEP = Fraction(1, 20000)  # half of the last of four places


def four_places(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.0001"), ROUND_HALF_EVEN
    )


def test_the_hand_computed_example() -> None:
    model = NaiveBayesModel.learn(HISTORY, FIELDS)
    assert (model.won, model.lost) == (2, 4)
    assert model.won_counts == {"source": {"referral": 1, "web": 1}, "country": {"DE": 2}}
    assert model.lost_counts == {"source": {"web": 2, "fair": 2}, "country": {"FR": 2, "DE": 1}}

    # On paper, alpha = 1. source: 3 known values + 1 unseen = 4 buckets;
    # won has 2 source values, lost 4. country: 2 known + 1 = 3 buckets;
    # won has 2 country values, lost 3 (one lost lead has no country).
    p_won, p_lost = Fraction(2, 6), Fraction(4, 6)
    web_won, web_lost = Fraction(1 + 1, 2 + 4), Fraction(2 + 1, 4 + 4)  # 1/3, 3/8
    de_won, de_lost = Fraction(2 + 1, 2 + 3), Fraction(1 + 1, 3 + 3)  # 3/5, 1/3
    a = p_won * web_won * de_won
    b = p_lost * web_lost * de_lost
    assert (a, b) == (Fraction(1, 15), Fraction(1, 12))
    expected = a / (a + b)
    assert expected == Fraction(4, 9)

    score = NaiveBayesScorer(model).score({"source": "web", "country": "DE"})
    assert score.probability == four_places(expected) == Decimal("0.4444")
    assert score.value == 44
    assert score.explain() == [
        "prior: -0.6931 log-odds",  # ln(2/4)
        "country=DE: +0.5878 log-odds",  # ln((3/5) / (1/3)) = ln(9/5)
        "source=web: -0.1178 log-odds",  # ln((1/3) / (3/8)) = ln(8/9)
    ]
    for contribution, ratio in zip(
        score.contributions, (p_won / p_lost, de_won / de_lost, web_won / web_lost), strict=True
    ):
        assert abs(float(contribution.weight) - math.log(ratio)) <= 0.00005


def test_an_unseen_value_and_a_missing_field() -> None:
    scorer = NaiveBayesScorer(NaiveBayesModel.learn(HISTORY, FIELDS))
    # "partner" was never seen: alpha / (2 + 4) when won, alpha / (4 + 4) when lost.
    a = Fraction(2, 6) * Fraction(1, 6) * Fraction(3, 5)
    b = Fraction(4, 6) * Fraction(1, 8) * Fraction(1, 3)
    unseen = scorer.score({"source": "partner", "country": "DE"})
    assert a / (a + b) == Fraction(6, 11)
    assert unseen.probability == Decimal("0.5455")
    assert unseen.value == 55
    # No country: that field contributes nothing.
    only_source = scorer.score({"source": "web", "country": None, "ignored": "x"})
    a, b = Fraction(2, 6) * Fraction(1, 3), Fraction(4, 6) * Fraction(3, 8)
    assert only_source.probability == four_places(a / (a + b))
    assert [c.field for c in only_source.contributions] == ["prior", "source"]
    # Nothing known: the prior alone, P(won) = 1/3.
    assert scorer.score({}).probability == Decimal("0.3333")


def reference(model: NaiveBayesModel, lead: Features) -> Fraction:
    """p = A / (A + B) with exact fractions, straight from the definition."""
    alpha = Fraction(model.alpha)
    a = Fraction(model.won, model.won + model.lost)
    b = Fraction(model.lost, model.won + model.lost)
    for field in model.fields:
        value = known_value(lead, field)
        if value is None:
            continue
        won, lost = model.won_counts[field], model.lost_counts[field]
        buckets = len(set(won) | set(lost)) + 1
        a *= (won.get(value, 0) + alpha) / (sum(won.values()) + alpha * buckets)
        b *= (lost.get(value, 0) + alpha) / (sum(lost.values()) + alpha * buckets)
    return a / (a + b)


@settings(max_examples=200)
@given(naive_bayes_models(), features())
def test_probability_matches_the_exact_definition(model: NaiveBayesModel, lead: Features) -> None:
    score = NaiveBayesScorer(model).score(lead)
    assert score.probability is not None
    assert Decimal(0) <= score.probability <= Decimal(1)
    assert 0 <= score.value <= 100
    assert abs(Fraction(score.probability) - reference(model, lead)) <= QUARTER_STEP
    assert score.value == int((score.probability * 100).to_integral_value(ROUND_HALF_EVEN))


def sigmoid(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds)) if log_odds > -700 else 0.0


@settings(max_examples=200)
@given(naive_bayes_models(), features())
def test_contributions_add_up_to_the_log_odds(model: NaiveBayesModel, lead: Features) -> None:
    score = NaiveBayesScorer(model).score(lead)
    assert score.probability is not None
    assert score.contributions[0].field == "prior" or any(
        c.field == "prior" for c in score.contributions
    )
    total = sum(c.weight for c in score.contributions)
    rounding = len(score.contributions) * 0.00005
    # The sigmoid's slope is at most 1/4; the probability itself is rounded to four places.
    assert abs(sigmoid(float(total)) - float(score.probability)) <= rounding / 4 + 0.00005 + 1e-12
    p = float(score.probability)
    if 0.01 <= p <= 0.99:
        slope = 1 / ((p - 0.00005) * (1 - p - 0.00005))  # the logit: 1 / (p (1 - p))
        assert abs(math.log(p / (1 - p)) - float(total)) <= rounding + 0.00005 * slope


@settings(max_examples=100)
@given(histories(), features())
def test_any_history_scores_in_range_or_is_refused(
    history: list[tuple[Features, bool]], lead: Features
) -> None:
    outcomes = {won for _, won in history}
    if outcomes != {True, False}:
        with pytest.raises(ValidationError, match="at least one won and one lost"):
            NaiveBayesModel.learn(history, FEATURE_FIELDS)
        return
    score = NaiveBayesScorer(NaiveBayesModel.learn(history, FEATURE_FIELDS)).score(lead)
    assert score.probability is not None
    assert 0 <= score.probability <= 1
    assert 0 <= score.value <= 100


@settings(max_examples=60)
@given(histories(), histories(), alphas())
def test_learning_in_parts_equals_learning_at_once(
    first: list[tuple[Features, bool]], second: list[tuple[Features, bool]], alpha: Decimal
) -> None:
    whole = first + second
    if {won for _, won in whole} != {True, False}:
        return
    at_once = NaiveBayesModel.learn(iter(whole), FEATURE_FIELDS, alpha)
    if {won for _, won in first} == {True, False}:
        assert NaiveBayesModel.learn(first, FEATURE_FIELDS, alpha).updated(second) == at_once
        if {won for _, won in second} == {True, False}:
            parts = [NaiveBayesModel.learn(part, FEATURE_FIELDS, alpha) for part in (first, second)]
            assert parts[0].merge(parts[1]) == at_once


def test_long_products_do_not_underflow() -> None:
    fields = tuple(f"f{index}" for index in range(400))
    won_lead = dict.fromkeys(fields, "yes")
    lost_lead = dict.fromkeys(fields, "no")
    history = [(won_lead, True)] * 50 + [(lost_lead, False)] * 50
    scorer = NaiveBayesScorer(NaiveBayesModel.learn(history, fields))
    # Each field's P(value | outcome) is at most 51/53: a float product of the 400 of them
    # is fine, but a mismatching lead gives (1/53)^400, far below the smallest float.
    likely = scorer.score(won_lead)
    unlikely = scorer.score(lost_lead)
    assert (likely.probability, likely.value) == (Decimal("1.0000"), 100)
    assert (unlikely.probability, unlikely.value) == (Decimal("0.0000"), 0)
    assert sum(c.weight for c in likely.contributions) > 1000


@pytest.mark.parametrize(
    "history",
    [[], [({"source": "web"}, True)] * 3, [({"source": "web"}, False)]],
    ids=["no history", "all won", "all lost"],
)
def test_history_needs_both_outcomes(history: list[tuple[Features, bool]]) -> None:
    with pytest.raises(ValidationError) as raised:
        NaiveBayesModel.learn(history, FIELDS)
    assert raised.value.field == "history"
    assert raised.value.rule == "must hold at least one won and one lost lead"


def test_a_one_sided_update_is_allowed() -> None:
    model = NaiveBayesModel.learn(HISTORY, FIELDS).updated([({"source": "web"}, True)] * 2)
    assert (model.won, model.lost) == (4, 4)
    assert model.won_counts["source"] == {"referral": 1, "web": 3}


def test_alpha_changes_the_smoothing() -> None:
    model = NaiveBayesModel.learn(HISTORY, FIELDS, Decimal("0.5"))
    half = Fraction(1, 2)
    a = Fraction(2, 6) * (1 + half) / (2 + 4 * half) * (2 + half) / (2 + 3 * half)
    b = Fraction(4, 6) * (2 + half) / (4 + 4 * half) * (1 + half) / (3 + 3 * half)
    score = NaiveBayesScorer(model).score({"source": "web", "country": "DE"})
    assert score.probability == four_places(a / (a + b))


def bad_learn(history: object = (), fields: Sequence[str] = FIELDS, alpha: object = 1) -> None:
    NaiveBayesModel.learn(history, fields, alpha)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: bad_learn(fields=()), "fields"),
        (lambda: bad_learn(fields="source"), "fields"),
        (lambda: bad_learn(fields=("source", "source")), "fields[1]"),
        (lambda: bad_learn(fields=("prior",)), "fields[0]"),
        (lambda: bad_learn(fields=("Source",)), "fields[0]"),
        (lambda: bad_learn(alpha=0), "alpha"),
        (lambda: bad_learn(alpha=0.5), "alpha"),
        (lambda: bad_learn(alpha=Decimal("Infinity")), "alpha"),
        (lambda: bad_learn(history=5), "history"),
        (lambda: bad_learn(history={"source": "web"}), "history"),
        (lambda: bad_learn(history=[({"source": "web"}, True, 1)]), "history[0]"),
        (lambda: bad_learn(history=[({"source": "web"}, 1)]), "history[0][1]"),
        (lambda: bad_learn(history=[(["web"], True)]), "history[0].features"),
        (lambda: bad_learn(history=[({"source": 5}, True)]), "history[0].features.source"),
    ],
)
def test_bad_learning_input_names_the_field(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.field == field


def test_merge_refuses_other_models() -> None:
    model = NaiveBayesModel.learn(HISTORY, FIELDS)
    with pytest.raises(ValidationError, match="fields"):
        model.merge(NaiveBayesModel.learn(HISTORY, ("source",)))
    with pytest.raises(ValidationError, match="alpha"):
        model.merge(NaiveBayesModel.learn(HISTORY, FIELDS, Decimal(2)))
    with pytest.raises(ValidationError, match="other"):
        model.merge("model")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="model"):
        NaiveBayesScorer("model")  # type: ignore[arg-type]


def test_scoring_refuses_bad_features() -> None:
    scorer = NaiveBayesScorer(NaiveBayesModel.learn(HISTORY, FIELDS))
    with pytest.raises(ValidationError) as raised:
        scorer.score({"source": b"web"})  # type: ignore[dict-item]
    assert raised.value.field == "features.source"
    with pytest.raises(ValidationError, match="features"):
        scorer.score(None)  # type: ignore[arg-type]


@settings(max_examples=30)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=5))
def test_the_model_copies_its_tables(values: list[str]) -> None:
    counts = {"f": dict.fromkeys(values, 1)}
    model = NaiveBayesModel(("f",), 5, 5, counts, {"f": {}})
    counts["f"]["zzz"] = 3
    assert "zzz" not in model.won_counts["f"]
