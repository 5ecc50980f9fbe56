"""The lifecycle engine: tables checked at definition, refusals that say why, Mermaid output."""

from enum import StrEnum

import pytest

from crmkit import InvalidTransition, Lifecycle, Transition
from crmkit.activities.activity import ACTIVITY_LIFECYCLE
from crmkit.kernel.lifecycle import LifecycleDefinitionError
from crmkit.parties.account import ACCOUNT_LIFECYCLE
from crmkit.parties.contact import CONTACT_LIFECYCLE

LIFECYCLES = [ACCOUNT_LIFECYCLE, CONTACT_LIFECYCLE, ACTIVITY_LIFECYCLE]


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"
    GONE = "gone"


class Other(StrEnum):
    ELSEWHERE = "elsewhere"


def door(*rows: Transition[Door], final: tuple[Door, ...] = (Door.GONE,)) -> Lifecycle[Door]:
    return Lifecycle("door", Door, Door.CLOSED, rows, final=final)


GOOD_ROWS = (
    Transition("open", Door.CLOSED, Door.OPEN),
    Transition("close", Door.OPEN, Door.CLOSED),
    Transition("lock", Door.CLOSED, Door.LOCKED, guard="has key"),
    Transition("unlock", Door.LOCKED, Door.CLOSED, guard="has key"),
    Transition("remove", (Door.OPEN, Door.CLOSED), Door.GONE),
)


def test_a_good_table_is_accepted_and_indexed() -> None:
    lifecycle = door(*GOOD_ROWS)
    assert lifecycle.reachable() == frozenset(Door)
    assert lifecycle.target(Door.CLOSED, "lock") is Door.LOCKED
    assert lifecycle.next_states(Door.CLOSED) == {
        "open": Door.OPEN,
        "lock": Door.LOCKED,
        "remove": Door.GONE,
    }
    assert lifecycle.commands == ("open", "close", "lock", "unlock", "remove")
    assert lifecycle.can(Door.OPEN, "remove")
    assert not lifecycle.can(Door.LOCKED, "remove")
    assert lifecycle.is_final(Door.GONE)
    assert not lifecycle.is_final(Door.OPEN)


@pytest.mark.parametrize(
    ("rows", "final", "message"),
    [
        pytest.param(
            (*GOOD_ROWS, Transition("vanish", Door.OPEN, Other.ELSEWHERE)),  # type: ignore[arg-type]
            (Door.GONE,),
            "command 'vanish' names unknown state .*'elsewhere'",
            id="unknown target state",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("open", Other.ELSEWHERE, Door.OPEN)),  # type: ignore[arg-type]
            (Door.GONE,),
            "names unknown state",
            id="unknown source state",
        ),
        pytest.param(
            GOOD_ROWS,
            (Door.GONE, Other.ELSEWHERE),
            "final state .*'elsewhere'.* is not one of its states",
            id="unknown final state",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("open", Door.CLOSED, Door.LOCKED)),
            (Door.GONE,),
            "command 'open' is defined twice for .*'closed'",
            id="duplicate command per state",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("rebuild", Door.GONE, Door.CLOSED)),
            (Door.GONE,),
            "command 'rebuild' leaves final state .*'gone'",
            id="transition out of a final state",
        ),
        pytest.param(
            GOOD_ROWS[:3] + GOOD_ROWS[4:],
            (Door.GONE,),
            "state .*'locked'.* is not final but nothing leaves it",
            id="dead-end non-final state",
        ),
        pytest.param(
            (
                Transition("open", Door.CLOSED, Door.OPEN),
                Transition("close", Door.OPEN, Door.CLOSED),
                Transition("unlock", Door.LOCKED, Door.CLOSED),
                Transition("remove", Door.OPEN, Door.GONE),
            ),
            (Door.GONE,),
            "states locked cannot be reached from .*'closed'",
            id="unreachable state",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("Knock", Door.CLOSED, Door.CLOSED)),
            (Door.GONE,),
            "command 'Knock' is not a lower-case identifier",
            id="bad command name",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("knock knock", Door.CLOSED, Door.CLOSED)),
            (Door.GONE,),
            "is not a lower-case identifier",
            id="command name with a space",
        ),
        pytest.param(
            (*GOOD_ROWS, Transition("knock", (), Door.CLOSED)),
            (Door.GONE,),
            "command 'knock' has no source state",
            id="no source state",
        ),
    ],
)
def test_every_definition_error_is_caught_at_definition(
    rows: tuple[Transition[Door], ...], final: tuple[Door, ...], message: str
) -> None:
    with pytest.raises(LifecycleDefinitionError, match=message) as info:
        door(*rows, final=final)
    assert str(info.value).startswith("lifecycle 'door': ")


def test_an_unknown_initial_state_is_caught() -> None:
    with pytest.raises(LifecycleDefinitionError, match="initial state"):
        Lifecycle("door", Door, Other.ELSEWHERE, GOOD_ROWS, final=[Door.GONE])  # type: ignore[arg-type]


def test_target_refuses_naming_aggregate_state_and_command() -> None:
    lifecycle = door(*GOOD_ROWS)
    for state in Door:
        for command in (*lifecycle.commands, "fly"):
            if lifecycle.can(state, command):
                continue
            with pytest.raises(InvalidTransition) as info:
                lifecycle.target(state, command)
            error = info.value
            assert (error.aggregate, error.state, error.command) == ("door", state.value, command)
            assert error.reason is None
            assert str(error) == f"door in state {state.value!r} cannot {command!r}"


def test_refuse_carries_the_guard_reason() -> None:
    error = door(*GOOD_ROWS).refuse(Door.CLOSED, "lock", "no key")
    assert (error.aggregate, error.state, error.command, error.reason) == (
        "door",
        "closed",
        "lock",
        "no key",
    )
    assert str(error).endswith(": no key")


def _expected_mermaid_lines(lifecycle: Lifecycle[Door]) -> list[str]:
    lines = ["stateDiagram-v2", f"    [*] --> {lifecycle.initial.value}"]
    for row in lifecycle.transitions:
        label = row.command if row.guard is None else f"{row.command} [{row.guard}]"
        lines += [f"    {s.value} --> {row.target.value}: {label}" for s in row.sources]
    lines += [f"    {s.value} --> [*]" for s in lifecycle.states if lifecycle.is_final(s)]
    return lines


@pytest.mark.parametrize("lifecycle", [door(*GOOD_ROWS), *LIFECYCLES], ids=lambda lc: lc.name)
def test_mermaid_is_generated_from_the_table(lifecycle: Lifecycle[Door]) -> None:
    diagram = lifecycle.to_mermaid().splitlines()
    assert diagram == _expected_mermaid_lines(lifecycle)
    # Every allowed (state, command) pair appears exactly once as an edge.
    edges = [line for line in diagram if ": " in line]
    pairs = [(s, cmd) for s in lifecycle.states for cmd in lifecycle.next_states(s)]
    assert len(edges) == len(pairs)
    for state, command in pairs:
        target = lifecycle.target(state, command)
        matching = [e for e in edges if e.startswith(f"    {state.value} --> {target.value}: ")]
        assert any(e.split(": ", 1)[1].split(" [")[0] == command for e in matching)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.name)
def test_the_default_lifecycles_are_fully_reachable(lifecycle: Lifecycle[Door]) -> None:
    assert lifecycle.reachable() == frozenset(lifecycle.states)
    assert lifecycle.initial in lifecycle.states
