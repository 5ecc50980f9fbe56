"""Inbound routing: which record an email, call, chat or social message goes to.

`route` tries its rules in order; the first that matches decides the `Route`.
Rules are data: a tuple of named `Rule` objects that a host reorders, drops
(`omitting`) or replaces (`replacing`). `DEFAULT_ROUTING` holds, in order:

1. ``thread``: the message continues a resolved thread (`crmkit.interactions.threading.resolve`)
   whose record is a case, opportunity, lead or complaint → that record;
2. ``open_case``: a known contact with an open case → that case (with several,
   the most recently updated; equal times go to the smallest id);
3. ``complaint``: the text holds a complaint word (`COMPLAINT_WORDS`: whole
   words, any case) → a new complaint;
4. ``open_opportunity``: a known contact with an open opportunity → that
   opportunity (chosen like cases);
5. ``new_case``: a known contact → a new case;
6. ``new_lead``: anyone else → a new lead.

A *known contact* is ``inbound.contact_id``, else ``context.contact_id``.
A `Route` with ``record_id`` None means "create a new record". `route` returns
None only when custom rules all decline; the default rules always route.

>>> from datetime import UTC, datetime
>>> context = Context(open_cases=[("C-1", datetime(2026, 3, 1, tzinfo=UTC))], contact_id="c-1")
>>> found = route(Inbound("email", "ann@example.com", "c-1", None, "Any news?"), context)
>>> found.target.value, found.record_id, found.rule
('case', 'C-1', 'open_case')
"""

from __future__ import annotations

from collections.abc import Iterable

from crmkit.kernel.checks import items
from crmkit.kernel.errors import ValidationError

from ._routing_rules import (
    COMPLAINT as COMPLAINT,
    COMPLAINT_WORDS as COMPLAINT_WORDS,
    DEFAULT_ROUTING as DEFAULT_ROUTING,
    NEW_CASE as NEW_CASE,
    NEW_LEAD as NEW_LEAD,
    OPEN_CASE as OPEN_CASE,
    OPEN_OPPORTUNITY as OPEN_OPPORTUNITY,
    THREAD as THREAD,
    complaint_rule as complaint_rule,
    known_contact as known_contact,
    latest as latest,
)
from ._routing_types import (
    NO_CONTEXT as NO_CONTEXT,
    Channel as Channel,
    Context as Context,
    Decide as Decide,
    Inbound as Inbound,
    Match as Match,
    OpenRecord as OpenRecord,
    Route as Route,
    Rule as Rule,
    Target as Target,
)

__all__ = [
    "COMPLAINT",
    "COMPLAINT_WORDS",
    "DEFAULT_ROUTING",
    "NEW_CASE",
    "NEW_LEAD",
    "NO_CONTEXT",
    "OPEN_CASE",
    "OPEN_OPPORTUNITY",
    "THREAD",
    "Channel",
    "Context",
    "Decide",
    "Inbound",
    "Match",
    "OpenRecord",
    "Route",
    "Rule",
    "Target",
    "complaint_rule",
    "known_contact",
    "latest",
    "omitting",
    "replacing",
    "route",
]


def _rules(value: object) -> tuple[Rule, ...]:
    rules = items(value, "rules")
    names: set[str] = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, Rule):
            raise ValidationError(f"rules[{index}]", "must be a Rule", rule)
        if rule.name in names:
            raise ValidationError(f"rules[{index}]", "names must be unique", rule.name)
        names.add(rule.name)
    return rules


def route(
    inbound: Inbound, context: Context = NO_CONTEXT, rules: Iterable[Rule] = DEFAULT_ROUTING
) -> Route | None:
    """The route the first matching rule gives, or None when no rule matches."""
    if not isinstance(inbound, Inbound):
        raise ValidationError("inbound", "must be an Inbound", inbound)
    if not isinstance(context, Context):
        raise ValidationError("context", "must be a Context", context)
    checked = _rules(rules)
    contacts = {inbound.contact_id, context.contact_id} - {None}
    if len(contacts) > 1:
        raise ValidationError("context.contact_id", "must match inbound.contact_id")
    for index, rule in enumerate(checked):
        match = rule.decide(inbound, context)
        if match is None:
            continue
        if not isinstance(match, Match):
            raise ValidationError(f"rules[{index}]", "decide must return a Match or None", match)
        return Route(match.target, match.record_id, rule.name, match.reason)
    return None


def replacing(rules: Iterable[Rule], rule: Rule) -> tuple[Rule, ...]:
    """``rules`` with the rule of the same name as ``rule`` replaced by it.

    >>> strict = replacing(DEFAULT_ROUTING, complaint_rule(["refund"]))
    >>> [r.name for r in strict] == [r.name for r in DEFAULT_ROUTING]
    True
    """
    checked = _rules(rules)
    if not isinstance(rule, Rule):
        raise ValidationError("rule", "must be a Rule", rule)
    if all(old.name != rule.name for old in checked):
        raise ValidationError("rule", "names no rule in the list", rule.name)
    return tuple(rule if old.name == rule.name else old for old in checked)


def omitting(rules: Iterable[Rule], *names: str) -> tuple[Rule, ...]:
    """``rules`` without the rules called ``names``.

    >>> [r.name for r in omitting(DEFAULT_ROUTING, "complaint", "new_lead")]
    ['thread', 'open_case', 'open_opportunity', 'new_case']
    """
    checked = _rules(rules)
    present = {rule.name for rule in checked}
    for index, name in enumerate(names):
        if name not in present:
            raise ValidationError(f"names[{index}]", "names no rule in the list", name)
    return tuple(rule for rule in checked if rule.name not in names)
