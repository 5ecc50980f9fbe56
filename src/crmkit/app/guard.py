"""The access guard of a unit of work: every read and write checked against the policy.

The unit of work asks its `Guard` before it hands out a record, runs a query
or an aggregate, or stages a write:

* a query gets the scope's conditions appended, so pages, counts and sums are
  scoped in the store; a scope of nothing returns nothing without asking it;
* a record read directly (by id) must be allowed, or `PermissionDenied`;
* a kind with fields hidden from the principal cannot be read whole or
  summed: the principal reads such records through ``uow.view``, which
  leaves the hidden fields out;
* a new record must be allowed for ``create``, a changed one for ``update``
  both as it was and as it will be (nobody moves a record out of their reach,
  or into someone else's), and nobody writes a field hidden from them.

Work the unit of work does on its own behalf is not checked: the policies and
projections that events trigger, lookups a command needs beyond what its
principal sees (duplicate detection runs `Guard.trusted`), and principals of
kind ``job``, which act for the host itself (scheduled ticks, imports).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from crmkit.app.record_type import RecordType
from crmkit.kernel.errors import PermissionDenied
from crmkit.kernel.principal import ActorKind, Principal
from crmkit.ports.access import AccessPolicy, Action, AllowAll
from crmkit.ports.aggregate import Measure, MeasureOp
from crmkit.ports.query import Condition

__all__ = ["Guard"]


class Guard:
    """Checks one principal's reads and writes against an `AccessPolicy`."""

    def __init__(self, policy: AccessPolicy, principal: Principal) -> None:
        self.policy = policy
        self.principal = principal
        # Nothing to check for a policy that allows everything, or for the host's own jobs.
        self._off = isinstance(policy, AllowAll) or principal.kind is ActorKind.JOB
        self._trusted = 0

    @property
    def checking(self) -> bool:
        """Whether reads and writes are checked right now."""
        return not self._off and self._trusted == 0

    @contextmanager
    def trusted(self) -> Iterator[None]:
        """Within it nothing is checked: for work done on the unit of work's own behalf."""
        self._trusted += 1
        try:
            yield
        finally:
            self._trusted -= 1

    def _deny(self, action: Action, kind: str, what: str) -> PermissionDenied:
        return PermissionDenied(f"{self.principal.id} may not {action.value} {kind} {what}")

    def _whole(self, kind: str, action: Action) -> None:
        hidden = self.policy.hidden_fields(self.principal, kind)
        if hidden:
            raise PermissionDenied(
                f"{self.principal.id} may not {action.value} whole {kind} records:"
                f" {', '.join(sorted(hidden))} hidden (read them with uow.view)"
            )

    def narrow(
        self, rtype: RecordType[Any], where: tuple[Condition, ...]
    ) -> tuple[Condition, ...] | None:
        """``where`` with the principal's read scope added; None when nothing is in scope."""
        if not self.checking:
            return where
        self._whole(rtype.kind, Action.READ)
        return self.narrow_view(rtype.kind, where)

    def narrow_view(self, kind: str, where: tuple[Condition, ...]) -> tuple[Condition, ...] | None:
        """Like `narrow`, for reads that leave hidden fields out (views)."""
        if not self.checking:
            return where
        scope = self.policy.scope(self.principal, kind, Action.READ)
        if scope.is_nothing:
            return None
        return (*where, *scope.conditions)

    def sums(self, rtype: RecordType[Any], measures: tuple[Measure, ...]) -> None:
        """Refuse sums, minima and maxima over a kind with fields hidden from the principal."""
        if self.checking and any(m.op is not MeasureOp.COUNT for m in measures):
            self._whole(rtype.kind, Action.READ)

    def read(self, rtype: RecordType[Any], obj: Any) -> None:
        """Refuse a record the principal may not read whole."""
        if not self.checking:
            return
        self.see(rtype, obj)
        self._whole(rtype.kind, Action.READ)

    def see(self, rtype: RecordType[Any], obj: Any) -> None:
        """Refuse a record outside the principal's read scope (hidden fields aside)."""
        if self.checking and not self.policy.can(
            self.principal, rtype.kind, Action.READ, rtype.index(obj)
        ):
            raise self._deny(Action.READ, rtype.kind, obj.id)

    def write(self, rtype: RecordType[Any], before: Any | None, after: Any) -> None:
        """Refuse creating ``after`` (``before`` None) or changing ``before`` into ``after``."""
        if not self.checking:
            return
        kind = rtype.kind
        action = Action.CREATE if before is None else Action.UPDATE
        for state in (after,) if before is None else (before, after):
            if not self.policy.can(self.principal, kind, action, rtype.index(state)):
                raise self._deny(action, kind, after.id)
        hidden = self.policy.hidden_fields(self.principal, kind)
        if before is None and hidden:
            raise self._deny(action, kind, f"{after.id}: it has fields hidden from you")
        fields = attrs.fields_dict(type(after))
        changed = sorted(
            name
            for name in hidden
            if name in fields and getattr(before, name) != getattr(after, name)
        )
        if changed:
            raise self._deny(action, kind, f"{after.id}: {', '.join(changed)} hidden from you")
