"""Automation rules: conditions, actions, strict JSON, explain and why_not."""

from __future__ import annotations

import json
from typing import Any as AnyType

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.extension.rule_conditions import Failure, compare, equals, first_failure, holds
from crmkit.extension.rules import (
    All,
    Any,
    AssignOwner,
    Contains,
    CreateTask,
    Eq,
    Exists,
    Field,
    Firing,
    Gt,
    Gte,
    In,
    LogActivity,
    Lt,
    Lte,
    Miss,
    Ne,
    Not,
    Notify,
    Rule,
    SetField,
    Transition,
    explain,
    rule_from_dict,
    rule_to_dict,
    rules_from_list,
    rules_to_list,
    why_not,
)
from crmkit.kernel.errors import ValidationError
from crmkit.testing._strategies_rules import rule_conditions, rules

FACTS: dict[str, AnyType] = {
    "event": {
        "amount": {"amount": "12000.00", "currency": "EUR"},
        "occurred_at": "2026-06-01T12:00:00+02:00",
        "actor": "u-7",
    },
    "record": {
        "name": "Acme\n GmbH",
        "status": "won",
        "owner_id": "u-9",
        "contact_id": "c-1",
        "postcode": "01067",
        "seats": 25,
        "vip": True,
        "lost_reason": None,
        "tags": ["vip", "b2b"],
        "emails": [{"address": "a@example.com"}],
        "custom": {"tier": "gold"},
    },
}


def _rule(
    when: object = None, then: tuple[object, ...] = (Transition("close"),), **kw: object
) -> Rule:
    return Rule(kw.pop("id", "r1"), "Big deal", kw.pop("on", "opportunity_won"), when, then, **kw)  # type: ignore[arg-type]


# --- conditions, one fixture each -----------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Eq("record.status", "won"), True),
        (Eq("record.status", "Won"), False),  # text is compared code point by code point
        (Eq("record.seats", "25.0"), True),  # numbers compare as Decimal
        (Eq("event.amount.amount", 12000), True),
        (Eq("record.postcode", "1067"), False),  # a leading zero makes text, not a number
        (Eq("record.vip", True), True),
        (Eq("record.seats", True), False),  # true is not 1
        (Eq("record.lost_reason", None), True),
        (Eq("record.missing", None), False),  # missing is not null
        (Eq("record.emails.0.address", "a@example.com"), True),
        (Eq("record.emails.1.address", "a@example.com"), False),
        (Ne("record.status", "lost"), True),
        (Ne("record.status", "won"), False),
        (Ne("record.missing", "won"), False),  # missing paths are false, Ne too
        (In("record.status", ("open", "won")), True),
        (In("record.status", ("open", "lost")), False),
        (In("record.seats", ("10", 25)), True),
        (Gt("event.amount.amount", "11999.99"), True),
        (Gt("event.amount.amount", 12000), False),
        (Gte("event.amount.amount", "12000"), True),
        (Lt("record.seats", 26), True),
        (Lt("record.seats", "text"), False),  # a number is no text
        (Lte("record.seats", "25.00"), True),
        (Gt("record.name", "Abc"), True),  # text: binary order
        # instants compare across offsets: 12:00+02:00 is 10:00 UTC
        (Lt("event.occurred_at", "2026-06-01T10:30:00+00:00"), True),
        (Gte("event.occurred_at", "2026-06-01T10:00:00Z"), True),
        (Gt("event.occurred_at", "2026-06-01T10:00:00Z"), False),
        (Gt("record.status", "2026-06-01T10:00:00Z"), False),  # text is no instant
        (Exists("record.custom.tier"), True),
        (Exists("record.lost_reason"), False),  # null does not exist
        (Exists("record.nope"), False),
        (Contains("record.tags", "vip"), True),
        (Contains("record.tags", "new"), False),
        (Contains("record.name", "Acme"), False),  # lists only
        (All((Eq("record.status", "won"), Gt("record.seats", 10))), True),
        (All((Eq("record.status", "won"), Gt("record.seats", 30))), False),
        (Any((Eq("record.status", "lost"), Gt("record.seats", 10))), True),
        (Any((Eq("record.status", "lost"), Exists("record.nope"))), False),
        (Not(Eq("record.status", "lost")), True),
        (Not(Eq("record.nope", "x")), True),  # Not of a missing path holds
        (Not(Exists("record.lost_reason")), True),
    ],
)
def test_condition_fixtures(condition: AnyType, expected: bool) -> None:
    assert holds(condition, FACTS) is expected
    assert (first_failure(condition, FACTS) is None) is expected


def test_compare_and_equals_kinds() -> None:
    assert compare("12.50", "12.5") == 0
    assert compare(3, "-3") == 1
    assert compare("abc", 3) is None
    assert compare("2026-01-01", "2026-01-02") == -1  # bare dates are text
    assert equals(1, True) is False
    assert equals(None, None) is True


def test_first_failure_names_the_failing_part() -> None:
    when = All((Exists("record.name"), Any((Eq("record.status", "lost"), Lt("record.seats", 3)))))
    failed = first_failure(when, FACTS)
    assert failed == Failure("when.all[1]", when.conditions[1], "none of its 2 conditions holds")
    failed = first_failure(All((Exists("record.name"), Gt("record.seats", 99))), FACTS)
    assert failed is not None
    assert (failed.where, failed.reason) == ("when.all[1]", "record.seats is not > 99")
    failed = first_failure(Not(Exists("record.name")), FACTS)
    assert failed is not None
    assert failed.reason == "the negated condition holds"
    failed = first_failure(Eq("record.nope", 1), FACTS)
    assert failed is not None
    assert failed.reason == "record.nope is missing"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Eq("status", "x"), "field"),  # paths start at event or record
        (lambda: Eq("record.a b", "x"), "field"),
        (lambda: Eq("record.status", 1.5), "value"),  # type: ignore[arg-type]  # no floats
        (lambda: Eq("record.status", 2**60), "value"),
        (lambda: In("record.status", ()), "values"),
        (lambda: In("record.status", ("a", 0.5)), "values[1]"),  # type: ignore[arg-type]
        (lambda: Gt("record.status", None), "value"),  # type: ignore[arg-type]
        (lambda: All(()), "conditions"),
        (lambda: Any((Eq("record.a", 1), "x")), "conditions[1]"),  # type: ignore[arg-type]
        (lambda: Not("x"), "condition"),  # type: ignore[arg-type]
        (lambda: CreateTask("Hi", -1), "due_in_days"),
        (lambda: CreateTask("Hi", 1, "has space"), "owner"),
        (lambda: CreateTask("Hi", 1, "record.bad path"), "owner"),
        (lambda: LogActivity("Note", "Hi"), "kind"),
        (lambda: AssignOwner(), "owner_id"),
        (lambda: AssignOwner("u-1", ("u-2",)), "owner_id"),
        (lambda: AssignOwner(round_robin=("u-1", "u-1")), "round_robin"),
        (lambda: SetField("Custom.Tier", "x"), "field"),
        (lambda: Transition("Close Won"), "command"),
        (lambda: Notify("email", "marketing", "welcome", "contact_id"), "to"),
        (lambda: _rule(then=()), "then"),
        (lambda: _rule(then=(CreateTask("Pay $5"),)), "then[0].subject"),
        (lambda: _rule(then=(LogActivity("note", "${record.a b}"),)), "then[0].subject"),
        (lambda: _rule(when="x"), "when"),
        (lambda: _rule(on="Opportunity Won"), "on"),
        (lambda: _rule(enabled=1), "enabled"),
    ],
)
def test_invalid_values_name_the_field(build: AnyType, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field


# --- actions and JSON ---------------------------------------------------------------------

ALL_ACTIONS = (
    CreateTask("Thank ${record.name} (won $$${event.amount.amount})", 2),
    CreateTask("Check", 0, "u-1"),
    LogActivity("note", "Won by ${event.actor}"),
    AssignOwner("u-2"),
    AssignOwner(round_robin=("u-1", "u-2")),
    SetField("custom.tier", "platinum"),
    Transition("close_won"),
    Notify("email", "transactional", "won.v2", "record.contact_id"),
)
BIG_DEAL = _rule(
    All((Gte("event.amount.amount", "10000"), Not(Exists("record.lost_reason")))),
    ALL_ACTIONS,
)


def test_rule_json_fixture() -> None:
    data = rule_to_dict(BIG_DEAL)
    assert data["when"] == {
        "type": "all",
        "all": [
            {"type": "gte", "field": "event.amount.amount", "value": "10000"},
            {"type": "not", "not": {"type": "exists", "field": "record.lost_reason"}},
        ],
    }
    assert data["then"][4] == {  # type: ignore[index]
        "type": "assign_owner",
        "owner_id": None,
        "round_robin": ["u-1", "u-2"],
    }
    assert data["then"][7]["to"] == "record.contact_id"  # type: ignore[index]
    assert rule_from_dict(json.loads(json.dumps(data))) == BIG_DEAL
    # optional members may be left out
    short = {
        "id": "r2",
        "name": "n",
        "on": "x",
        "then": [{"type": "assign_owner", "owner_id": "u"}],
    }
    assert rule_from_dict(short) == Rule("r2", "n", "x", None, (AssignOwner("u"),))


def _no_floats(value: object) -> bool:
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_floats(v) for v in value)
    return not isinstance(value, float)


@settings(max_examples=100)
@given(st.lists(rules(), max_size=4, unique_by=lambda r: r.id))
def test_json_round_trip_is_exact(generated: list[Rule]) -> None:
    data = rules_to_list(generated)
    text = json.dumps(data, allow_nan=False)
    assert _no_floats(json.loads(text))
    back = rules_from_list(json.loads(text))
    assert back == tuple(generated)
    assert rules_to_list(back) == data


@settings(max_examples=100)
@given(rule_conditions())
def test_negation_is_exact(condition: AnyType) -> None:
    assert holds(Not(condition), FACTS) is not holds(condition, FACTS)


def _bad(change: AnyType) -> str:
    data = rules_to_list([BIG_DEAL])
    change(data)
    with pytest.raises(ValidationError) as caught:
        rules_from_list(json.loads(json.dumps(data)))
    return caught.value.field


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d[0]["when"]["all"][0].update(value=1.5), "rules[0].when.all[0].value"),
        (lambda d: d[0]["when"]["all"][0].update(value=[1]), "rules[0].when.all[0].value"),
        (lambda d: d[0]["when"]["all"][0].update(type="between"), "rules[0].when.all[0].type"),
        (lambda d: d[0]["when"]["all"][0].update(extra=1), "rules[0].when.all[0].extra"),
        (lambda d: d[0]["when"]["all"][0].pop("field"), "rules[0].when.all[0].field"),
        (lambda d: d[0]["when"]["all"][0].update(field="status"), "rules[0].when.all[0].field"),
        (
            lambda d: d[0]["when"]["all"][1]["not"].update(type=None),
            "rules[0].when.all[1].not.type",
        ),
        (lambda d: d[0]["when"].update(all=[]), "rules[0].when.all"),
        (lambda d: d[0]["when"].update(all={}), "rules[0].when.all"),
        (lambda d: d[0]["when"]["all"].append("x"), "rules[0].when.all[2]"),
        (lambda d: d[0].update(when=[]), "rules[0].when"),
        (lambda d: d[0].update(colour="red"), "rules[0].colour"),
        (lambda d: d[0].pop("then"), "rules[0].then"),
        (lambda d: d[0].update(then={}), "rules[0].then"),
        (lambda d: d[0].update(then=[]), "rules[0].then"),
        (lambda d: d[0].update(id=""), "rules[0].id"),
        (lambda d: d[0].update(enabled="yes"), "rules[0].enabled"),
        (lambda d: d[0]["then"][0].update(due_in_days="2"), "rules[0].then[0].due_in_days"),
        (lambda d: d[0]["then"][0].update(due_in_days=True), "rules[0].then[0].due_in_days"),
        (lambda d: d[0]["then"][0].update(subject="$x"), "rules[0].then[0].subject"),
        (lambda d: d[0]["then"][2].update(type="log"), "rules[0].then[2].type"),
        (lambda d: d[0]["then"][4].update(round_robin=["u", 3]), "rules[0].then[4].round_robin[1]"),
        (lambda d: d[0]["then"][4].update(round_robin="u"), "rules[0].then[4].round_robin"),
        (lambda d: d[0]["then"][5].update(value=0.1), "rules[0].then[5].value"),
        (lambda d: d[0]["then"][7].update(to="contact"), "rules[0].then[7].to"),
        (lambda d: d[0]["then"][7].update(channel="E mail"), "rules[0].then[7].channel"),
        (lambda d: d.append(d[0]), "rules[1].id"),
        (lambda d: d.append(None), "rules[1]"),
    ],
)
def test_bad_json_names_the_exact_path(change: AnyType, path: str) -> None:
    assert _bad(change) == path


def test_bad_json_roots() -> None:
    with pytest.raises(ValidationError, match="rules: must be a list"):
        rules_from_list({"rules": []})
    with pytest.raises(ValidationError) as caught:
        rule_from_dict([])
    assert caught.value.field == "$"
    deep: dict[str, object] = {"type": "exists", "field": "record.a"}
    for _ in range(20):
        deep = {"type": "not", "not": deep}
    with pytest.raises(ValidationError, match="nest at most"):
        rule_from_dict({"id": "r", "name": "n", "on": "x", "when": deep, "then": []})


# --- explain and why_not ------------------------------------------------------------------


def test_explain_renders_the_firing_rules() -> None:
    other_event = _rule(id="r2", on="lead_qualified")
    disabled = _rule(id="r3", enabled=False)
    lost_only = _rule(Eq("record.status", "lost"), id="r4")
    fired = explain([BIG_DEAL, other_event, disabled, lost_only], "opportunity_won", FACTS)
    assert [f.rule_id for f in fired] == ["r1"]
    assert fired[0] == Firing(
        "r1",
        "Big deal",
        (
            # white space in values collapses; $$ is a dollar; owner path resolved
            CreateTask("Thank Acme GmbH (won $12000.00)", 2, "u-9"),
            CreateTask("Check", 0, "u-1"),
            LogActivity("note", "Won by u-7"),
            *ALL_ACTIONS[3:],
        ),
    )
    assert explain([_rule(id="r5")], "opportunity_won", FACTS)[0].actions == (Transition("close"),)
    assert explain([BIG_DEAL], "case_opened", FACTS) == ()


def test_explain_renders_values_of_every_kind() -> None:
    rule = _rule(
        then=(LogActivity("note", "${record.seats}/${record.vip}/${record.lost_reason}."),)
    )
    (firing,) = explain([rule], "opportunity_won", FACTS)
    assert firing.actions == (LogActivity("note", "25/true/."),)
    long = _rule(then=(LogActivity("note", "${record.name} ${record.name}"),))
    facts = {"record": {"name": "x" * 150}}
    (firing,) = explain([long], "opportunity_won", facts)
    assert len(firing.actions[0].subject) == 200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("action", "field", "words"),
    [
        (CreateTask("Call ${record.phone}"), "then[0].subject", "${record.phone} is missing"),
        (LogActivity("note", "${record.tags}"), "then[0].subject", "must name text or a number"),
        (CreateTask("Call", 1, "record.manager_id"), "then[0].owner", "record.manager_id"),
    ],
)
def test_explain_missing_placeholder_names_rule_and_path(
    action: AnyType, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        explain([_rule(then=(action,), id="welcome")], "opportunity_won", FACTS)
    assert caught.value.field == field
    assert "rule 'welcome'" in caught.value.rule
    assert words in caught.value.rule


def test_why_not_gives_the_first_failing_condition() -> None:
    rules = [
        BIG_DEAL,
        _rule(All((Exists("record.name"), Eq("record.status", "lost"))), id="r2"),
        _rule(id="r3", enabled=False),
        _rule(Exists("record.nope"), id="r4", on="case_opened"),
    ]
    assert why_not(rules, "opportunity_won", FACTS) == (
        Miss(
            "r2", "Big deal", "when.all[1]", "record.status", "record.status does not equal 'lost'"
        ),
        Miss("r3", "Big deal", "enabled", None, "the rule is disabled"),
    )
    (miss,) = why_not(
        [_rule(Any((Exists("record.x"), Exists("record.y"))))], "opportunity_won", FACTS
    )
    assert (miss.where, miss.field) == ("when", None)
    # a rule that fires is not in why_not, and one that does not is not in explain
    for rule in rules[:3]:
        fires = bool(explain([rule], "opportunity_won", FACTS))
        assert fires is not bool(why_not([rule], "opportunity_won", FACTS))


def test_explain_checks_its_inputs() -> None:
    with pytest.raises(ValidationError, match="rules\\[0\\]"):
        explain(["x"], "opportunity_won", FACTS)  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="facts"):
        why_not([BIG_DEAL], "opportunity_won", [])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="event_type"):
        explain([BIG_DEAL], 3, FACTS)  # type: ignore[arg-type]


def test_field_lookup() -> None:
    assert Field("record.tags.1").lookup(FACTS) == (True, "b2b")
    assert Field("record.name.0").lookup(FACTS) == (False, None)
    assert Field("record.lost_reason").lookup(FACTS) == (True, None)
