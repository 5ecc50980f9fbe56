"""What every aggregate shares: a fast, validator-free way to make its next state.

Aggregates are frozen attrs classes whose fields hold value objects that
validated themselves when they were built. A command therefore makes the next
state with `Evolving._evolve`, which copies the fields without re-running
validators (`attrs.evolve` re-runs them and cost most of a transition here).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from crmkit.kernel.custom import CustomValuesChanged, apply_custom
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.personal import PersonalDataErased, redacted

_setattr = object.__setattr__


class Evolving:
    """Mixin for frozen attrs aggregates: `_evolve` returns a changed copy."""

    __slots__ = ()

    def _evolve(self, **changes: Any) -> Self:
        cls = type(self)
        new = object.__new__(cls)
        used = 0
        for field in cls.__attrs_attrs__:  # type: ignore[attr-defined]
            name = field.name
            if name in changes:
                _setattr(new, name, changes[name])
                used += 1
            else:
                _setattr(new, name, getattr(self, name))
        if used != len(changes):
            raise AttributeError(f"{cls.__name__} has no field among {sorted(changes)}")
        return new


class Replayable(Evolving):
    """Mixin for aggregates whose events carry every change, so that events rebuild them.

    A command checks its guards, builds its event and returns
    ``(self.apply(event), event)``: the live path and `replay` share `apply`,
    so the stored events always give the current state back.
    """

    __slots__ = ()

    id: str
    version: int

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from the aggregate's creation event."""
        raise NotImplementedError

    def apply(self, event: DomainEvent) -> Self:
        """The state after ``event``, one of this aggregate's own events."""
        raise NotImplementedError

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Self:
        """Rebuild an aggregate from all its events, oldest first."""
        stream = iter(events)
        first = next(stream, None)
        if first is None:
            raise ValidationError("events", "must hold the creation event")
        state = cls.created(first)
        for event in stream:
            if event.aggregate_id != state.id or event.version != state.version + 1:
                raise ValidationError(
                    "events",
                    f"must continue {state.id} at version {state.version + 1}",
                    f"{event.aggregate_id} v{event.version}",
                )
            if isinstance(event, PersonalDataErased):  # an erasure applies to every kind alike
                state = redacted(state)._evolve(version=event.version)
            elif isinstance(event, CustomValuesChanged):  # so do custom values
                state = apply_custom(state, event)  # type: ignore[type-var]
            else:
                state = state.apply(event)
        return state
