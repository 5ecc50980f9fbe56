"""The access port: who may do what to which records, and which fields they see.

An `AccessPolicy` answers three questions for a `Principal`:

* `AccessPolicy.scope`: which records of a kind the principal may act on, as
  a `Scope` (conditions over index fields). The unit of work appends
  `Scope.conditions` to the store `Query` or `Aggregate` it runs, so pages,
  counts and sums are scoped in the store, never filtered afterwards (which
  would give short pages and wrong sums).
* `AccessPolicy.can`: whether the principal may act on one record, given its
  index values. It agrees with `scope` by construction: a record is allowed
  if and only if its index values meet every condition of the scope.
* `AccessPolicy.hidden_fields`: the attribute names of the kind's aggregate
  that the principal may not see (a field mask).

>>> from crmkit.kernel.principal import Principal
>>> from crmkit.ports.query import Eq
>>> own = Scope((Eq("owner_id", "u-1"),))
>>> own.allows({"owner_id": "u-1"}), own.allows({"owner_id": "u-2"})
(True, False)
>>> Scope.nothing().allows({"owner_id": "u-1"}), Scope.everything().allows({})
(False, True)
>>> AllowAll().can(Principal("u-9"), "opportunity", Action.ERASE, {"owner_id": "u-1"})
True
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.principal import Principal
from crmkit.ports.aggregate import Aggregate
from crmkit.ports.query import Condition, Eq, In, Query, Range, matches
from crmkit.ports.storage import Document, IndexValue


class Action(StrEnum):
    """What a principal does to a record."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    ARCHIVE = "archive"
    EXPORT = "export"
    ERASE = "erase"


def _conditions(
    instance: Scope, attribute: attrs.Attribute[tuple[Condition, ...]], value: object
) -> None:
    if not isinstance(value, tuple):
        raise ValidationError("conditions", "must be a tuple of conditions", value)
    for index, cond in enumerate(value):
        if not isinstance(cond, Eq | In | Range):
            raise ValidationError(f"conditions[{index}]", "must be Eq, In or Range", cond)


# An empty `In` on the id matches no record in every store (the query port says so),
# so "nothing" is one more condition, not a special case the unit of work must know.
_NOTHING = In("id", ())


@attrs.frozen
class Scope:
    """The records of a kind a principal may act on: those meeting every condition.

    No condition means every record (`Scope.everything`); `Scope.nothing` holds
    one condition that no record meets. Either way the unit of work may append
    `conditions` to a store query as they are (`narrow_query`, `narrow_aggregate`);
    `is_nothing` lets it skip the store call altogether.

    Attributes:
        conditions: `Eq`, `In` and `Range` conditions over the kind's index
            fields (or ``id``) that must all hold.
    """

    conditions: tuple[Condition, ...] = attrs.field(default=(), validator=_conditions)

    @classmethod
    def everything(cls) -> Scope:
        """Every record of the kind."""
        return cls(())

    @classmethod
    def nothing(cls) -> Scope:
        """No record of the kind."""
        return cls((_NOTHING,))

    @property
    def is_everything(self) -> bool:
        """Whether the scope lets every record through (it has no condition)."""
        return not self.conditions

    @property
    def is_nothing(self) -> bool:
        """Whether some condition is an empty `In`, which no record meets."""
        return any(isinstance(cond, In) and not cond.values for cond in self.conditions)

    def allows(self, index: Mapping[str, IndexValue], id: str = "") -> bool:
        """Whether a record with these index values (and id) meets every condition."""
        doc = Document("", id, 1, "", index)
        return all(matches(cond, doc) for cond in self.conditions)

    def narrow_query(self, query: Query) -> Query:
        """``query`` with the scope's conditions appended to its own."""
        return attrs.evolve(query, where=(*query.where, *self.conditions))

    def narrow_aggregate(self, aggregate: Aggregate) -> Aggregate:
        """``aggregate`` with the scope's conditions appended to its own."""
        return attrs.evolve(aggregate, where=(*aggregate.where, *self.conditions))


class AccessPolicy(Protocol):
    """What an access policy answers; see the module docs.

    Implementations subclass this protocol to inherit `can`, which is defined
    through `scope` so that the record check and the store scope never disagree.
    """

    def scope(self, principal: Principal, kind: str, action: Action) -> Scope:
        """The records of ``kind`` that ``principal`` may act on with ``action``."""
        ...

    def can(
        self,
        principal: Principal,
        kind: str,
        action: Action,
        index: Mapping[str, IndexValue],
    ) -> bool:
        """Whether ``principal`` may do ``action`` to a record of ``kind`` with ``index`` values.

        For ``create`` pass the index values of the record about to be written
        (so a principal cannot create a record it would not be allowed to see).
        """
        return self.scope(principal, kind, action).allows(index)

    def hidden_fields(self, principal: Principal, kind: str) -> frozenset[str]:
        """Attribute names of ``kind``'s aggregate that ``principal`` may not see."""
        ...


class AllowAll(AccessPolicy):
    """The policy of hosts that configure no access control: everyone may do everything.

    Every scope is `Scope.everything`, every check passes and no field is
    hidden. It suits single-user tools, scripts and tests; a multi-user host
    passes its own policy (for example `crmkit.security.rbac.RoleBasedPolicy`).
    """

    def scope(self, principal: Principal, kind: str, action: Action) -> Scope:
        """Every record, whoever asks."""
        return Scope.everything()

    def hidden_fields(self, principal: Principal, kind: str) -> frozenset[str]:
        """No field is hidden."""
        return frozenset()
