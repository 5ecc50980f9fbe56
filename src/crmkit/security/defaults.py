"""The default roles as data: admin, sales_manager, sales_rep, service_agent, marketer, read_only.

`default_policy` builds a `RoleBasedPolicy` from `DEFAULT_GRANTS` and
`DEFAULT_MASKS`; a host that wants other roles passes its own grants to
`RoleBasedPolicy`, starting from these if it likes.

Where a role would own records of a kind that has no owner index yet
(contracts, knowledge articles), it gets no grant rather than a broader one:
the defaults fail closed. See the security page of the docs for the table.

>>> from crmkit.kernel.directory import Directory, User
>>> from crmkit.kernel.principal import Principal
>>> users = (User("u-1", teams=("north",)), User("u-2", teams=("north",)), User("u-3"))
>>> policy = default_policy(Directory(users))
>>> manager = Principal("u-1", roles={"sales_manager"}, teams={"north"})
>>> policy.scope(manager, "lead", Action.READ)
Scope(conditions=(In(field='owner_id', values=('u-1', 'u-2')),))
"""

from __future__ import annotations

from typing import Final

from crmkit.kernel.directory import Directory
from crmkit.ports.access import Action
from crmkit.security.rbac import (
    ALL_KINDS,
    AUDIT_KINDS,
    FieldMask,
    Grant,
    Ownership,
    RoleBasedPolicy,
)

_ALL, _TEAM, _OWN = Ownership.ALL, Ownership.TEAM, Ownership.OWN
_READ = (Action.READ,)
_WORK = (Action.READ, Action.CREATE, Action.UPDATE)
_EDIT = (Action.CREATE, Action.UPDATE)
_MANAGE = (Action.READ, Action.CREATE, Action.UPDATE, Action.ARCHIVE, Action.EXPORT)
_EVERY = tuple(Action)

_SALES = ("lead", "opportunity", "quote")
_PARTIES = ("account", "contact", "activity")
_CATALOGUE = ("product", "price_list")
_DEALS = ("opportunity", "quote", "contract")
_MARKETING = ("campaign", "campaign_member", "audience", "segment_profile", "deal_credit")

DEFAULT_GRANTS: Final[tuple[Grant, ...]] = (
    Grant("admin", ALL_KINDS, _EVERY, _ALL),
    # sales managers: their team's pipeline and customers (contracts wait for an owner index)
    Grant("sales_manager", (*_SALES, *_PARTIES), _MANAGE, _TEAM),
    Grant("sales_manager", (*_CATALOGUE, "campaign"), _READ, _ALL),
    # sales reps: their own pipeline; every customer, changing only their own
    Grant("sales_rep", _SALES, _WORK, _OWN),
    Grant("sales_rep", _PARTIES, _READ, _ALL),
    Grant("sales_rep", _PARTIES, _EDIT, _OWN),
    Grant("sales_rep", _CATALOGUE, _READ, _ALL),
    # service agents: their team's complaints and cases; deals without their money
    Grant("service_agent", ("complaint", "case"), _WORK, _TEAM),
    Grant("service_agent", ("article", *_PARTIES, *_DEALS), _READ, _ALL),
    # marketers: the marketing records, new leads, and who the customers are
    Grant("marketer", _MARKETING, _EVERY, _ALL),
    Grant("marketer", ("lead",), (Action.READ, Action.CREATE), _ALL),
    Grant("marketer", ("contact", "account"), _READ, _ALL),
    Grant("read_only", tuple(kind for kind in ALL_KINDS if kind not in AUDIT_KINDS), _READ, _ALL),
)
"""What each default role may do; the docs' security page shows it as a table."""

DEFAULT_MASKS: Final[tuple[FieldMask, ...]] = (
    # reps do not see cost or margin
    FieldMask("sales_rep", "campaign", ("actual_cost", "budget", "expected_revenue")),
    # agents see that deals exist, not what they are worth
    FieldMask("service_agent", "opportunity", ("amount", "lines", "weighted_amount")),
    FieldMask("service_agent", "quote", ("lines", "order_discount", "totals")),
    FieldMask("service_agent", "contract", ("amendments", "amount", "lines", "uplift")),
)
"""What each default role may not see (attribute names of the aggregates)."""


def default_policy(directory: Directory | None = None) -> RoleBasedPolicy:
    """The default roles, with ``directory`` for team scopes (None: team scope is own scope)."""
    return RoleBasedPolicy(DEFAULT_GRANTS, DEFAULT_MASKS, directory)
