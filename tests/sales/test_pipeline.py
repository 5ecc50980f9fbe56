"""Pipelines: validation of stages, lookups, the default pipeline, serialisation."""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import StorageError, ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.pipeline import (
    DEFAULT_PIPELINE,
    ForecastCategory,
    Pipeline,
    Stage,
    StageKind,
    check_probability,
)
from crmkit.testing._strategies_opportunities import pipelines

conv = make_converter()

OPEN = Stage("open", "Open", Decimal("0.5"), ForecastCategory.PIPELINE)
WON = Stage("won", "Won", 1, ForecastCategory.CLOSED, StageKind.WON)
LOST = Stage("lost", "Lost", 0, ForecastCategory.OMITTED, StageKind.LOST)


def test_default_pipeline_runs_from_prospecting_to_closed_won_or_lost() -> None:
    table = [(s.key, s.probability, s.forecast_category, s.kind) for s in DEFAULT_PIPELINE.stages]
    assert table == [
        ("prospecting", Decimal("0.10"), ForecastCategory.PIPELINE, StageKind.OPEN),
        ("qualification", Decimal("0.20"), ForecastCategory.PIPELINE, StageKind.OPEN),
        ("needs_analysis", Decimal("0.40"), ForecastCategory.PIPELINE, StageKind.OPEN),
        ("proposal", Decimal("0.60"), ForecastCategory.BEST_CASE, StageKind.OPEN),
        ("negotiation", Decimal("0.80"), ForecastCategory.COMMIT, StageKind.OPEN),
        ("closed_won", Decimal("1.00"), ForecastCategory.CLOSED, StageKind.WON),
        ("closed_lost", Decimal("0.00"), ForecastCategory.OMITTED, StageKind.LOST),
    ]
    assert DEFAULT_PIPELINE.won_stage.key == "closed_won"
    assert [s.key for s in DEFAULT_PIPELINE.lost_stages] == ["closed_lost"]
    assert [c.value for c in ForecastCategory] == [
        "pipeline",
        "best_case",
        "commit",
        "closed",
        "omitted",
    ]


def test_stage_lookup_names_the_stage_field() -> None:
    assert DEFAULT_PIPELINE.stage("proposal").name == "Proposal"
    for bad in ("nope", "", 3, None):
        with pytest.raises(ValidationError) as info:
            DEFAULT_PIPELINE.stage(bad)  # type: ignore[arg-type]
        assert info.value.field == "stage"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.5", Decimal("0.50")),
        (0, Decimal("0.00")),
        (1, Decimal("1.00")),
        (Decimal(".25"), Decimal("0.25")),
    ],
)
def test_probability_is_a_fraction_with_two_places(value: Any, expected: Decimal) -> None:
    assert check_probability(value) == expected
    assert str(check_probability(value)) == str(expected)


@pytest.mark.parametrize("value", [0.5, True, "1.01", "-0.01", "0.125", "NaN", "x", None, [1]])
def test_bad_probabilities_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        check_probability(value)
    assert info.value.field == "probability"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"name": ""}, "name"),
        ({"probability": "2"}, "probability"),
        ({"forecast_category": "maybe"}, "forecast_category"),
        ({"kind": "pending"}, "kind"),
        ({"forecast_category": ForecastCategory.CLOSED}, "forecast_category"),
        ({"kind": StageKind.WON}, "probability"),
        ({"kind": StageKind.WON, "probability": 1}, "forecast_category"),
        ({"kind": StageKind.LOST, "probability": 0}, "forecast_category"),
        (
            {"kind": StageKind.LOST, "forecast_category": ForecastCategory.OMITTED},
            "probability",
        ),
    ],
)
def test_stage_rules(kwargs: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "key": "s",
        "name": "S",
        "probability": Decimal("0.5"),
        "forecast_category": ForecastCategory.PIPELINE,
        "kind": StageKind.OPEN,
        **kwargs,
    }
    with pytest.raises(ValidationError) as info:
        Stage(**fields)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("stages", "field", "rule"),
    [
        ((OPEN, WON, LOST, OPEN), "stages[3].key", "must be unique"),
        ((WON, LOST), "stages", "must hold at least one open stage"),
        ((OPEN, LOST), "stages", "must hold exactly one won stage"),
        (
            (OPEN, WON, LOST, Stage("won2", "W", 1, ForecastCategory.CLOSED, StageKind.WON)),
            "stages",
            "must hold exactly one won stage",
        ),
        ((OPEN, WON), "stages", "must hold at least one lost stage"),
        ((OPEN, WON, "lost"), "stages[2]", "must be Stage"),
        ("open", "stages", "must be a list or tuple"),
    ],
)
def test_pipeline_rules(stages: Any, field: str, rule: str) -> None:
    with pytest.raises(ValidationError) as info:
        Pipeline("p", "P", stages)
    assert (info.value.field, info.value.rule) == (field, rule)


def test_pipeline_id_and_name_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"^id:"):
        Pipeline("has space", "P", (OPEN, WON, LOST))
    with pytest.raises(ValidationError, match=r"^name:"):
        Pipeline("p", "\x00", (OPEN, WON, LOST))


def test_a_list_of_stages_becomes_a_tuple_and_several_lost_stages_are_allowed() -> None:
    lost2 = Stage("no_budget", "No budget", 0, ForecastCategory.OMITTED, StageKind.LOST)
    pipe = Pipeline("p", "P", [LOST, OPEN, WON, lost2])
    assert pipe.stages == (LOST, OPEN, WON, lost2)
    assert pipe.open_stages == (OPEN,)
    assert pipe.lost_stages == (LOST, lost2)


def _round_trip(pipe: Pipeline) -> None:
    data = conv.unstructure(pipe)
    assert structure(conv, data, Pipeline) == pipe
    assert Loaders().load(Pipeline, json.loads(dumps(data))) == pipe


def test_default_pipeline_round_trips() -> None:
    _round_trip(DEFAULT_PIPELINE)
    data = conv.unstructure(DEFAULT_PIPELINE)
    assert data["stages"][0] == {
        "key": "prospecting",
        "name": "Prospecting",
        "probability": "0.10",
        "forecast_category": "pipeline",
        "kind": "open",
    }


@settings(max_examples=50)
@given(pipelines())
def test_random_pipelines_round_trip(pipe: Pipeline) -> None:
    _round_trip(pipe)
    assert len(pipe.open_stages) >= 1
    assert len(pipe.lost_stages) >= 1


def test_structuring_a_broken_pipeline_names_the_field() -> None:
    data = conv.unstructure(DEFAULT_PIPELINE)
    data["stages"][5]["probability"] = "0.9"
    with pytest.raises(ValidationError) as info:
        structure(conv, data, Pipeline)
    assert info.value.field.startswith("stages[5]")
    data["stages"][5]["probability"] = 0.9
    with pytest.raises(ValidationError, match="decimal string"):
        structure(conv, data, Pipeline)
    with pytest.raises(StorageError):
        Loaders().load(Pipeline, {"id": "p"})
