"""SLA policies: validation, matching by specificity, and serialisation."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.service.sla_policy import (
    Priority,
    SlaMetric,
    SlaPolicies,
    SlaPolicy,
    SlaTarget,
)
from crmkit.testing._strategies_sla import CASE_TYPES, TIERS, sla_policies, sla_policy_sets

RESOLVE_IN_A_DAY = (SlaTarget(SlaMetric.RESOLUTION, timedelta(days=1)),)


def make(policy_id: str, **criteria: object) -> SlaPolicy:
    return SlaPolicy(policy_id, policy_id.title(), RESOLVE_IN_A_DAY, "office", **criteria)


def test_target_is_built_from_a_timedelta_and_stored_in_seconds() -> None:
    target = SlaTarget(SlaMetric.FIRST_RESPONSE, timedelta(hours=4))
    assert (target.seconds, target.within) == (14_400, timedelta(hours=4))
    assert make_converter().unstructure(target) == {"metric": "first_response", "seconds": 14_400}


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: SlaTarget("first", timedelta(hours=1)), "metric"),
        (lambda: SlaTarget(SlaMetric.RESOLUTION, timedelta(0)), "within"),
        (lambda: SlaTarget(SlaMetric.RESOLUTION, timedelta(milliseconds=1500)), "within"),
        (lambda: SlaTarget(SlaMetric.RESOLUTION, 1.5), "within"),
        (lambda: SlaTarget(SlaMetric.RESOLUTION, timedelta(days=400)), "within"),
        (lambda: make("p", warn_at=0.8), "warn_at"),
        (lambda: make("p", warn_at=Decimal("0")), "warn_at"),
        (lambda: make("p", warn_at=Decimal("1.5")), "warn_at"),
        (lambda: make("p", warn_at=Decimal("0.123456")), "warn_at"),
        (lambda: make("p", priorities=("asap",)), "priorities"),
        (lambda: make("p", tiers=("Gold",)), "tiers"),
        (lambda: make("p", case_types="incident"), "case_types"),
        (lambda: make("has space"), "id"),
        (lambda: SlaPolicy("p", "P", (), "office"), "targets"),
        (lambda: SlaPolicy("p", "P", RESOLVE_IN_A_DAY * 2, "office"), "targets[1].metric"),
        (lambda: SlaPolicy("p", "P", RESOLVE_IN_A_DAY, "Office"), "calendar_name"),
        (lambda: SlaPolicies((make("p"), make("p"))), "policies[1].id"),
    ],
)
def test_bad_values_raise_validation_errors_naming_the_field(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


def test_the_most_specific_policy_wins() -> None:
    policies = SlaPolicies(
        (
            make("any"),
            make("urgent", priorities=(Priority.URGENT,)),
            make("gold", tiers=("gold",)),
            make("urgent_gold", priorities=(Priority.URGENT, Priority.HIGH), tiers=("gold",)),
            make("gold_incident", case_types=("incident",), tiers=("gold",)),
        )
    )
    assert policies.match(Priority.LOW, "question", None).id == "any"  # type: ignore[union-attr]
    assert policies.match(Priority.URGENT).id == "urgent"  # type: ignore[union-attr]
    assert policies.match(Priority.LOW, "question", "gold").id == "gold"  # type: ignore[union-attr]
    assert policies.match(Priority.HIGH, "question", "gold").id == "urgent_gold"  # type: ignore[union-attr]
    # Two policies of specificity 2 apply: the one given first wins.
    assert policies.match("urgent", "incident", "gold").id == "urgent_gold"  # type: ignore[union-attr]
    assert policies.match(Priority.LOW, "incident", "gold").id == "gold_incident"  # type: ignore[union-attr]


def test_no_policy_matches() -> None:
    policies = SlaPolicies((make("gold", tiers=("gold",)),))
    assert policies.match(Priority.NORMAL, "incident", "silver") is None
    assert SlaPolicies().match(Priority.NORMAL) is None
    with pytest.raises(ValidationError) as caught:
        policies.match("whenever")
    assert caught.value.field == "priority"


def test_get_by_id() -> None:
    policies = SlaPolicies((make("a"), make("b")))
    assert policies.get("b").id == "b"
    with pytest.raises(ValidationError) as caught:
        policies.get("c")
    assert caught.value.field == "policy_id"


@settings(max_examples=80, deadline=None)
@given(
    policies=sla_policy_sets(),
    priority=st.sampled_from(list(Priority)),
    case_type=st.none() | st.sampled_from(CASE_TYPES),
    tier=st.none() | st.sampled_from(TIERS),
)
def test_match_is_the_first_of_the_most_specific_applicable_policies(
    policies: SlaPolicies, priority: Priority, case_type: str | None, tier: str | None
) -> None:
    applicable = [p for p in policies.policies if p.applies_to(priority, case_type, tier)]
    found = policies.match(priority, case_type, tier)
    if not applicable:
        assert found is None
        return
    top = max(p.specificity for p in applicable)
    assert found is next(p for p in applicable if p.specificity == top)


@settings(max_examples=60, deadline=None)
@given(policies=sla_policy_sets())
def test_policies_round_trip(policies: SlaPolicies) -> None:
    conv = make_converter()
    for value, cls in [(policies, SlaPolicies), *((p, SlaPolicy) for p in policies.policies)]:
        data = conv.unstructure(value)
        assert structure(conv, data, cls) == value
        assert Loaders().load(cls, json.loads(dumps(data))) == value


@given(policy=sla_policies())
@settings(max_examples=20, deadline=None)
def test_strict_structure_refuses_float_seconds(policy: SlaPolicy) -> None:
    data = make_converter().unstructure(policy)
    data["targets"][0]["seconds"] = 60.0
    with pytest.raises(ValidationError) as caught:
        structure(make_converter(), data, SlaPolicy)
    assert caught.value.field == "targets[0].seconds"
