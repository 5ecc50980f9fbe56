"""Automation rules: "when this event happens and these facts hold, do these things", as data.

A `Rule` reacts to one event type (``on``), tests an optional condition
(``when``, see `crmkit.extension.rule_conditions`) against the facts
``{"event": {...}, "record": {...}}`` and lists typed actions (``then``):
`CreateTask`, `LogActivity`, `AssignOwner`, `SetField`, `Transition`, `Notify`.
Rules serialise to strict JSON (`rule_to_dict`, `rule_from_dict`) so hosts
store and edit them as configuration.

This module is pure: `explain` says which rules would fire for an event and
renders their actions; `why_not` says why the others do not. Executing the
actions is the application's job: a policy runs them inside the unit of work
that raised the event.

**Depth.** Actions raise events (a `Transition` raises the aggregate's event,
`SetField` an edit event), and those events may trigger rules again. The
policy that runs rules shares the unit of work's policy depth: a chain deeper
than ``crmkit.app.policies.MAX_DEPTH`` stops with ``PolicyLoop`` and the whole
unit of work rolls back, so a rule that re-triggers itself fails loudly
instead of looping.

Everything a rule is built from is importable from here: the conditions
come from `crmkit.extension.rule_conditions` (how values compare, missing
paths) and the actions from `crmkit.extension.rule_actions` (templates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from crmkit.extension import _rule_codec as codec
from crmkit.extension.rule_actions import (
    ACTION_SPECS,
    ACTIONS,
    PATH_PREFIXES,
    Action,
    AssignOwner,
    CreateTask,
    LogActivity,
    Notify,
    SetField,
    Transition,
    check_template,
    render,
)
from crmkit.extension.rule_conditions import (
    CONDITIONS,
    All,
    Any,
    Condition,
    Contains,
    Eq,
    Exists,
    Field,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Not,
    first_failure,
)
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_line, clean_token

__all__ = [
    "MAX_ACTIONS",
    "Action",
    "All",
    "Any",
    "AssignOwner",
    "Condition",
    "Contains",
    "CreateTask",
    "Eq",
    "Exists",
    "Field",
    "Firing",
    "Gt",
    "Gte",
    "In",
    "LogActivity",
    "Lt",
    "Lte",
    "Miss",
    "Ne",
    "Not",
    "Notify",
    "Rule",
    "SetField",
    "Transition",
    "explain",
    "rule_from_dict",
    "rule_to_dict",
    "rules_from_list",
    "rules_to_list",
    "why_not",
]

MAX_ACTIONS: Final = 20
"""Most actions one rule may list."""


def _id(value: str) -> str:
    return check_id(value, "id")


def _name(value: str) -> str:
    return clean_line(value, "name")


def _on(value: str) -> str:
    return clean_token(value, "on")


def _when(value: Condition | None) -> Condition | None:
    if value is not None and not isinstance(value, CONDITIONS):
        raise ValidationError("when", "must be a condition or None", value)
    return value


def _then(values: Sequence[Action]) -> tuple[Action, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValidationError("then", "must be a list of actions", values)
    if not 0 < len(values) <= MAX_ACTIONS:
        raise ValidationError("then", f"must hold 1 to {MAX_ACTIONS} actions", len(values))
    for i, action in enumerate(values):
        if not isinstance(action, ACTIONS):
            raise ValidationError(f"then[{i}]", "must be an action", action)
        if isinstance(action, CreateTask | LogActivity):
            check_template(action.subject, f"then[{i}].subject")
    return tuple(values)


def _enabled(value: bool) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("enabled", "must be true or false", value)
    return value


@attrs.frozen
class Rule:
    """An automation rule: on an event type, when a condition holds, run actions.

    Attributes:
        id: The rule's id, unique among the host's rules.
        name: A short human name.
        on: The `event_type` of the events that trigger it, like ``lead_qualified``.
        when: The condition over the facts, or None to fire on every such event.
        then: The actions, in order (1 to `MAX_ACTIONS`).
        enabled: Whether the rule runs; a disabled rule is kept but never fires.
    """

    id: str = attrs.field(converter=_id)
    name: str = attrs.field(converter=_name)
    on: str = attrs.field(converter=_on)
    when: Condition | None = attrs.field(converter=_when)
    then: tuple[Action, ...] = attrs.field(converter=_then)
    enabled: bool = attrs.field(default=True, converter=_enabled)


@attrs.frozen
class Firing:
    """A rule that fires, with its actions rendered against the facts.

    In a firing, subjects are final text (placeholders filled in) and a
    `CreateTask` owner given as a fact path holds the user id found there.

    Attributes:
        rule_id: The rule's id.
        rule_name: The rule's name.
        actions: The rendered actions, in the rule's order.
    """

    rule_id: str
    rule_name: str
    actions: tuple[Action, ...]


@attrs.frozen
class Miss:
    """Why a rule on the event type does not fire.

    Attributes:
        rule_id: The rule's id.
        rule_name: The rule's name.
        where: JSON path in the rule of what failed, like ``when.all[1]``
            (``enabled`` for a disabled rule).
        field: The fact path that failed, or None for a combinator or a disabled rule.
        reason: What failed (names paths and the rule's values, never the facts' values).
    """

    rule_id: str
    rule_name: str
    where: str
    field: str | None
    reason: str


def explain(
    rules: Iterable[Rule], event_type: str, facts: Mapping[str, object]
) -> tuple[Firing, ...]:
    """The enabled rules on ``event_type`` whose condition holds for ``facts``, in order.

    Pure: nothing runs. Raises `ValidationError` naming the rule and the
    placeholder when a template or owner path is missing from the facts.
    """
    fired = []
    for rule in _on_event(rules, event_type, facts):
        if rule.enabled and (rule.when is None or first_failure(rule.when, facts) is None):
            actions = tuple(_render(rule, i, a, facts) for i, a in enumerate(rule.then))
            fired.append(Firing(rule.id, rule.name, actions))
    return tuple(fired)


def why_not(
    rules: Iterable[Rule], event_type: str, facts: Mapping[str, object]
) -> tuple[Miss, ...]:
    """For each rule on ``event_type`` that does not fire, its first failing condition."""
    missed = []
    for rule in _on_event(rules, event_type, facts):
        if not rule.enabled:
            missed.append(Miss(rule.id, rule.name, "enabled", None, "the rule is disabled"))
            continue
        failed = None if rule.when is None else first_failure(rule.when, facts)
        if failed is not None:
            path = getattr(failed.condition, "field", None)
            field = path.path if isinstance(path, Field) else None
            missed.append(Miss(rule.id, rule.name, failed.where, field, failed.reason))
    return tuple(missed)


def _on_event(rules: Iterable[Rule], event_type: str, facts: Mapping[str, object]) -> list[Rule]:
    if not isinstance(event_type, str):
        raise ValidationError("event_type", "must be a string", event_type)
    if not isinstance(facts, Mapping):
        raise ValidationError("facts", "must be a mapping with event and record", facts)
    found = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Rule):
            raise ValidationError(f"rules[{i}]", "must be a Rule", rule)
        if rule.on == event_type:
            found.append(rule)
    return found


def _render(rule: Rule, index: int, action: Action, facts: Mapping[str, object]) -> Action:
    where = f"then[{index}]"
    if isinstance(action, CreateTask):
        owner = action.owner
        if owner.startswith(PATH_PREFIXES):
            found, value = Field(owner).lookup(facts)
            if not found or value is None:
                raise ValidationError(
                    f"{where}.owner", f"rule {rule.id!r}: owner path {owner} is missing or null"
                )
            owner = check_id(value, f"{where}.owner")
        subject = render(action.subject, facts, rule.id, f"{where}.subject")
        return CreateTask(subject, action.due_in_days, owner)
    if isinstance(action, LogActivity):
        return LogActivity(action.kind, render(action.subject, facts, rule.id, f"{where}.subject"))
    return action


def rule_to_dict(rule: Rule) -> dict[str, object]:
    """``rule`` as JSON-ready data (no floats; conditions and actions carry a ``type``)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "on": rule.on,
        "when": None if rule.when is None else codec.encode(rule.when, codec.CONDITION_SPECS),
        "then": [codec.encode(action, ACTION_SPECS) for action in rule.then],
        "enabled": rule.enabled,
    }


def rule_from_dict(data: object, path: str = "") -> Rule:
    """Read a rule from `rule_to_dict` data; errors name the JSON path (``when.all[1].value``)."""
    names = ("id", "name", "on", "when", "then", "enabled")
    raw = codec.members(data, path, names, frozenset({"when", "enabled"}))
    then = raw["then"]
    if not isinstance(then, list):
        raise ValidationError(codec.at(path, "then"), "must be a list of actions", then)
    actions = [
        codec.decode(item, f"{codec.at(path, 'then')}[{i}]", ACTION_SPECS, "action")
        for i, item in enumerate(then)
    ]
    when = raw.get("when")
    kwargs = {
        "id": raw["id"],
        "name": raw["name"],
        "on": raw["on"],
        "when": None if when is None else codec.decode_condition(when, codec.at(path, "when")),
        "then": actions,
        "enabled": raw.get("enabled", True),
    }
    try:
        return Rule(**kwargs)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise exc.at(path) from None


def rules_to_list(rules: Iterable[Rule]) -> list[dict[str, object]]:
    """Several rules as a JSON-ready list."""
    return [rule_to_dict(rule) for rule in rules]


def rules_from_list(data: object, path: str = "rules") -> tuple[Rule, ...]:
    """Read a list of rules; errors name ``rules[i]...``; rule ids must be unique."""
    if not isinstance(data, list):
        raise ValidationError(path, "must be a list of rules", data)
    rules = tuple(rule_from_dict(item, f"{path}[{i}]") for i, item in enumerate(data))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.id in seen:
            raise ValidationError(f"{path}[{i}].id", "must be unique among the rules", rule.id)
        seen.add(rule.id)
    return rules
