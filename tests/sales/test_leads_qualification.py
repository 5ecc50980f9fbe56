"""Qualification criteria, and `Lead.qualify` refusing while any rule is unmet."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import Stamp
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead
from crmkit.sales.qualification import BANT, NO_CRITERIA, QualificationCriteria, Rule, RuleKind
from crmkit.testing._strategies_leads import qualification_criteria

STAMP = Stamp(datetime(2026, 3, 2, 9, tzinfo=UTC), "u-1")
GOOD = {"budget": "25,000", "authority": "Decision_Maker", "need": "CRM", "timeline": "now"}


def test_bant_is_met_by_good_answers() -> None:
    assert BANT.unmet(GOOD) == ()
    assert BANT.met(GOOD)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"budget": "0"}, "budget: must be a number of at least 1"),
        ({"budget": "plenty"}, "budget: must be a number of at least 1 (not a number)"),
        ({"budget": "NaN"}, "budget: must be a number of at least 1 (not a number)"),
        ({"budget": "Infinity"}, "budget: must be a number of at least 1 (not a number)"),
        ({"authority": "intern"}, "authority: must be one of 'decision_maker', 'influencer'"),
        ({"need": "  "}, "need: is required"),
        ({"timeline": ""}, "timeline: must be one of 'now', 'this_quarter', 'next_quarter'"),
    ],
)
def test_each_unmet_rule_gives_a_readable_reason(change: dict[str, str], reason: str) -> None:
    unmet = BANT.unmet({**GOOD, **change})
    assert len(unmet) == 1
    assert unmet[0].startswith(reason)


def test_missing_answers_are_unmet_in_rule_order() -> None:
    assert [reason.split(":")[0] for reason in BANT.unmet({})] == [
        "budget",
        "authority",
        "need",
        "timeline",
    ]
    assert NO_CRITERIA.unmet({}) == ()


def test_rules_are_checked_when_built() -> None:
    with pytest.raises(ValidationError, match="values"):
        Rule("authority", RuleKind.ONE_OF)
    with pytest.raises(ValidationError, match="threshold"):
        Rule("budget", RuleKind.AT_LEAST)
    with pytest.raises(ValidationError, match="threshold"):
        Rule("budget", RuleKind.AT_LEAST, threshold=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="kind"):
        Rule("budget", "more_than")
    with pytest.raises(ValidationError, match="answer"):
        Rule("Budget!")
    with pytest.raises(ValidationError, match="answers"):
        BANT.unmet(["budget"])  # type: ignore[arg-type]
    assert Rule("budget", "at_least", threshold=Decimal("1.5")).kind is RuleKind.AT_LEAST


@settings(max_examples=300)
@given(
    qualification_criteria(),
    st.dictionaries(
        st.sampled_from(["budget", "authority", "need", "timeline", "other"]),
        st.text(max_size=12) | st.sampled_from(["1e9999999", "-0", "sNaN", "1_000", "now"]),
    ),
)
def test_unmet_never_crashes_and_agrees_with_met(
    criteria: QualificationCriteria, answers: dict[str, str]
) -> None:
    unmet = criteria.unmet(answers)
    assert len(unmet) <= len(criteria.rules)
    assert criteria.met(answers) == (unmet == ())
    assert all(isinstance(reason, str) and reason for reason in unmet)


def test_qualify_refuses_while_criteria_are_unmet() -> None:
    lead, first = Lead.capture("l-1", LeadInput(company="Acme", answers={"budget": "10"}), STAMP)
    with pytest.raises(InvalidTransition) as info:
        lead.qualify(BANT, STAMP, answers={"need": "CRM"})
    assert (info.value.state, info.value.command) == ("new", "qualify")
    assert info.value.reason is not None
    assert info.value.reason.startswith("unmet: authority")
    qualified, event = lead.qualify(
        BANT, STAMP, answers={k: GOOD[k] for k in GOOD if k != "budget"}
    )
    assert qualified.status == "qualified"
    assert qualified.answers["budget"] == "10"
    assert qualified.answers["need"] == "CRM"
    assert Lead.replay([first, event]) == qualified
    with pytest.raises(ValidationError, match="criteria"):
        lead.qualify({"rules": []}, STAMP)  # type: ignore[arg-type]
