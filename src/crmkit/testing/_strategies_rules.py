"""Hypothesis strategies for automation rules: fact paths, literals, conditions, actions, rules.

Values draw from small pools (numbers, decimal strings, instants in several
offsets, plain text), so generated rules exercise every comparison kind and
every action type; all of them are JSON-safe by construction.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from hypothesis import strategies as st

from crmkit.extension.rule_conditions import (
    All,
    Any,
    Contains,
    Eq,
    Exists,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Not,
    Scalar,
)
from crmkit.extension.rules import (
    Action,
    AssignOwner,
    Condition,
    CreateTask,
    LogActivity,
    Notify,
    Rule,
    SetField,
    Transition,
)

RULE_PATHS: Final = (
    "record.status",
    "record.name",
    "record.owner_id",
    "record.tags",
    "record.custom.tier",
    "record.emails.0.address",
    "event.amount.amount",
    "event.occurred_at",
)
"""The fact paths that generated conditions and templates use."""

_TEXT: Final = ("open", "won", "lost", "Acme", "vip", "", "a b", "Ünïcode")
_INSTANTS: Final = (
    "2026-06-01T12:00:00+00:00",
    "2026-06-01T14:00:00+02:00",
    "2025-12-31T23:59:59-05:00",
)
_DECIMALS: Final = ("0", "12.50", "-3", "10000", "0.001")
_TEMPLATES: Final = (
    "Call ${record.name}",
    "Follow up",
    "Won $$${event.amount.amount}",
    "${record.status}",
)
_USERS: Final = ("u-1", "u-2", "u-3", "user@example.com")
_TOKENS: Final = ("email", "sms", "note", "call", "qualify", "close_won")


@cache
def rule_scalars() -> st.SearchStrategy[Scalar]:
    """JSON-safe literals: null, booleans, safe ints, decimal strings, instants and text."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53) + 1, 2**53 - 1),
        st.sampled_from(_DECIMALS + _INSTANTS + _TEXT),
    )


def _bounds() -> st.SearchStrategy[str | int]:
    return st.one_of(st.integers(-1000, 1000), st.sampled_from(_DECIMALS + _INSTANTS + _TEXT))


@cache
def rule_conditions() -> st.SearchStrategy[Condition]:
    """Condition trees of every node type, up to a dozen leaves."""
    paths = st.sampled_from(RULE_PATHS)
    leaves: st.SearchStrategy[Condition] = st.one_of(
        st.builds(Eq, paths, rule_scalars()),
        st.builds(Ne, paths, rule_scalars()),
        st.builds(In, paths, st.lists(rule_scalars(), min_size=1, max_size=3)),
        *(st.builds(cls, paths, _bounds()) for cls in (Gt, Gte, Lt, Lte)),
        st.builds(Exists, paths),
        st.builds(Contains, paths, rule_scalars()),
    )

    def extend(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
        many = st.lists(children, min_size=1, max_size=3)
        return st.one_of(st.builds(All, many), st.builds(Any, many), st.builds(Not, children))

    return st.recursive(leaves, extend, max_leaves=12)


@cache
def rule_actions() -> st.SearchStrategy[Action]:
    """Actions of every type with valid, varied fields."""
    owners = st.sampled_from((*_USERS, "record.owner_id", "event.actor"))
    tokens = st.sampled_from(_TOKENS)
    return st.one_of(
        st.builds(CreateTask, st.sampled_from(_TEMPLATES), st.integers(0, 3650), owners),
        st.builds(LogActivity, tokens, st.sampled_from(_TEMPLATES)),
        st.builds(AssignOwner, owner_id=st.sampled_from(_USERS)),
        st.builds(
            AssignOwner,
            round_robin=st.lists(st.sampled_from(_USERS), min_size=1, max_size=4, unique=True),
        ),
        st.builds(SetField, st.sampled_from(("rating", "custom.tier", "status")), rule_scalars()),
        st.builds(Transition, tokens),
        st.builds(
            Notify,
            tokens,
            tokens,
            st.sampled_from(("welcome", "won.v2")),
            st.sampled_from(RULE_PATHS),
        ),
    )


@cache
def rules() -> st.SearchStrategy[Rule]:
    """Whole rules: an optional condition, one to four actions, enabled or not."""
    return st.builds(
        Rule,
        st.sampled_from(("r1", "rule-2", "welcome_vip")),
        st.sampled_from(("Big deal", "Welcome VIP", "Ünïcode rule")),
        st.sampled_from(("lead_qualified", "opportunity_won", "case_opened")),
        st.none() | rule_conditions(),
        st.lists(rule_actions(), min_size=1, max_size=4),
        st.booleans(),
    )
