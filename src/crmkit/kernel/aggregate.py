"""What every aggregate shares: a fast, validator-free way to make its next state.

Aggregates are frozen attrs classes whose fields hold value objects that
validated themselves when they were built. A command therefore makes the next
state with `Evolving._evolve`, which copies the fields without re-running
validators (`attrs.evolve` re-runs them and cost most of a transition here).
"""

from __future__ import annotations

from typing import Any, Self

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
