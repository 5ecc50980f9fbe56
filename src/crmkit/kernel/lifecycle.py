"""A declarative, typed lifecycle (state-machine) engine.

A `Lifecycle` is data: the states are a `StrEnum`, the transitions a table.
The table is checked when it is defined, so a broken machine fails at import
of the module that defines it, not in production:

* the initial state and every source and target belong to the state enum;
* a command leads from one state to at most one target;
* no transition leaves a final state, and every other state has a way out;
* every state can be reached from the initial state.

Aggregates ask the lifecycle for the target of a command
(`Lifecycle.target`) and check their own guards in typed methods; the engine
attaches nothing to them at runtime, so type checkers follow every call.

>>> from enum import StrEnum
>>> class Door(StrEnum):
...     OPEN = "open"
...     CLOSED = "closed"
...     LOCKED = "locked"
>>> door = Lifecycle(
...     "door", Door, Door.CLOSED,
...     [
...         Transition("open", Door.CLOSED, Door.OPEN),
...         Transition("close", Door.OPEN, Door.CLOSED),
...         Transition("lock", Door.CLOSED, Door.LOCKED, guard="has key"),
...         Transition("unlock", Door.LOCKED, Door.CLOSED, guard="has key"),
...     ],
... )
>>> door.target(Door.CLOSED, "lock")
<Door.LOCKED: 'locked'>
>>> door.target(Door.OPEN, "lock")
Traceback (most recent call last):
...
crmkit.kernel.errors.InvalidTransition: door in state 'open' cannot 'lock'
>>> print(door.to_mermaid())
stateDiagram-v2
    [*] --> closed
    closed --> open: open
    open --> closed: close
    closed --> locked: lock [has key]
    locked --> closed: unlock [has key]

"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

import attrs

from crmkit.kernel.errors import InvalidTransition

S = TypeVar("S", bound=StrEnum)

_COMMAND = re.compile(r"[a-z][a-z0-9_]*")


class LifecycleDefinitionError(Exception):
    """A lifecycle table is inconsistent. Raised when the table is defined, never at runtime."""


@attrs.frozen(init=False)
class Transition(Generic[S]):
    """One row of a lifecycle table: ``command`` moves any of ``sources`` to ``target``.

    Attributes:
        command: The command's name (a Python identifier, lower case).
        sources: The states the command is allowed in.
        target: The state the command leads to.
        guard: A short description of the extra condition the aggregate checks,
            shown in diagrams; ``None`` when there is none.
    """

    command: str
    sources: tuple[S, ...]
    target: S
    guard: str | None

    def __init__(
        self, command: str, source: S | Iterable[S], target: S, guard: str | None = None
    ) -> None:
        sources = (source,) if isinstance(source, StrEnum) else tuple(source)
        self.__attrs_init__(command, sources, target, guard)


class Lifecycle(Generic[S]):
    """A checked state machine over the states of ``states``.

    Attributes:
        name: The aggregate's name, used in errors and diagrams.
        states: The state enum.
        initial: The state a new aggregate starts in.
        final: States that nothing leaves.
        transitions: The table, in definition order.
    """

    def __init__(
        self,
        name: str,
        states: type[S],
        initial: S,
        transitions: Iterable[Transition[S]],
        final: Iterable[S] = (),
    ) -> None:
        self.name = name
        self.states: tuple[S, ...] = tuple(states)
        self.initial = initial
        self.final: frozenset[S] = frozenset(final)
        self.transitions: tuple[Transition[S], ...] = tuple(transitions)
        self._table: dict[str, dict[S, S]] = {}
        self._check_and_index()

    def _fail(self, message: str) -> LifecycleDefinitionError:
        return LifecycleDefinitionError(f"lifecycle {self.name!r}: {message}")

    def _check_and_index(self) -> None:
        known = set(self.states)
        if self.initial not in known:
            raise self._fail(f"initial state {self.initial!r} is not one of its states")
        for state in self.final:
            if state not in known:
                raise self._fail(f"final state {state!r} is not one of its states")
        for row in self.transitions:
            if _COMMAND.fullmatch(row.command) is None:
                raise self._fail(f"command {row.command!r} is not a lower-case identifier")
            if not row.sources:
                raise self._fail(f"command {row.command!r} has no source state")
            for state in (*row.sources, row.target):
                if state not in known:
                    raise self._fail(f"command {row.command!r} names unknown state {state!r}")
            by_state = self._table.setdefault(row.command, {})
            for source in row.sources:
                if source in self.final:
                    raise self._fail(f"command {row.command!r} leaves final state {source!r}")
                if source in by_state:
                    raise self._fail(f"command {row.command!r} is defined twice for {source!r}")
                by_state[source] = row.target
        leaving = {source for row in self.transitions for source in row.sources}
        for state in self.states:
            if state not in self.final and state not in leaving:
                raise self._fail(f"state {state!r} is not final but nothing leaves it")
        unreachable = known - self.reachable()
        if unreachable:
            names = ", ".join(sorted(unreachable))
            raise self._fail(f"states {names} cannot be reached from {self.initial!r}")

    def reachable(self) -> frozenset[S]:
        """Every state that some sequence of commands reaches from the initial state."""
        seen = {self.initial}
        frontier = [self.initial]
        while frontier:
            state = frontier.pop()
            for target in self.next_states(state).values():
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return frozenset(seen)

    def target(self, state: S, command: str) -> S:
        """The state ``command`` leads to from ``state``.

        Raises `InvalidTransition` naming the lifecycle, the state and the command
        when the table does not allow it.
        """
        by_state = self._table.get(command)
        target = by_state.get(state) if by_state is not None else None
        if target is None:
            raise InvalidTransition(self.name, str(state), command)
        return target

    def refuse(self, state: S, command: str, reason: str) -> InvalidTransition:
        """The error for a command that the table allows but a guard refuses."""
        return InvalidTransition(self.name, str(state), command, reason)

    def can(self, state: S, command: str) -> bool:
        """Whether the table allows ``command`` in ``state`` (guards aside)."""
        return state in self._table.get(command, ())

    def next_states(self, state: S) -> Mapping[str, S]:
        """The commands allowed in ``state``, each with the state it leads to."""
        return {cmd: by[state] for cmd, by in self._table.items() if state in by}

    @property
    def commands(self) -> tuple[str, ...]:
        """Every command of the table, in definition order."""
        return tuple(self._table)

    def is_final(self, state: S) -> bool:
        """Whether ``state`` is final."""
        return state in self.final

    def to_mermaid(self) -> str:
        """The lifecycle as a Mermaid ``stateDiagram-v2``."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for row in self.transitions:
            label = row.command + (f" [{row.guard}]" if row.guard else "")
            lines.extend(f"    {source} --> {row.target}: {label}" for source in row.sources)
        lines.extend(f"    {state} --> [*]" for state in self.states if state in self.final)
        return "\n".join(lines)
