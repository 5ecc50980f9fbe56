"""The ``lifecycle`` suite: crmkit's lifecycle engine against pytransitions,
python-statemachine and a hand-written attrs baseline (see `lead`)."""

from __future__ import annotations

import json
from typing import Any

from lead import (
    CYCLE,
    CYCLE_STATES,
    NEW,
    REASON,
    Lead,
    LeadMachine,
    PeerLead,
    PlainLead,
    pytransitions_machine,
)
from measure import Row, Side, compare, per_op
from samples import STAMP, rich_contact

from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.parties.contact import Contact

STEADY = "lifecycle: transition, steady state"
LOAD = "lifecycle: load, then transition"
DECODE = "lifecycle: decode contact JSON -> aggregate"
DECODE_TRUSTED = "lifecycle: decode contact JSON -> aggregate, trusted loader"

Request = tuple[Any, str, dict[str, str]]


def _aggregate_cycles(lead: Any, cycles: int) -> None:
    """Run `CYCLE` ``cycles`` times on an immutable aggregate (crmkit and the baseline)."""
    stamp = STAMP
    for _ in range(cycles):
        lead, _event = lead.work(stamp)
        lead, _event = lead.nurture(stamp)
        lead, _event = lead.qualify(stamp)
        lead, _event = lead.disqualify(stamp, reason=REASON)
        lead, _event = lead.recycle(stamp)


def _peer_cycles(machine: Any, cycles: int) -> None:
    """Run `CYCLE` ``cycles`` times through a peer's triggers (on a model or a machine)."""
    for _ in range(cycles):
        machine.work()
        machine.nurture()
        machine.qualify()
        machine.disqualify(reason=REASON)
        machine.recycle()


def _pytransitions_model() -> PeerLead:
    model = PeerLead("l-1")
    pytransitions_machine(model)
    return model


def steady_rows(cycles: int, peer_cycles: int, repeat: int) -> list[Row]:
    """A cycle of transitions on one entity in memory, per transition."""
    ops, peer_ops = 5 * cycles, 5 * peer_cycles
    crmkit = Side(
        "crmkit", lambda lead: _aggregate_cycles(lead, cycles), ops, lambda: Lead("l-1", 1)
    )
    peers = [
        Side(
            "pytransitions",
            lambda model: _peer_cycles(model, peer_cycles),
            peer_ops,
            _pytransitions_model,
        ),
        Side(
            "python-statemachine",
            lambda machine: _peer_cycles(machine, peer_cycles),
            peer_ops,
            lambda: LeadMachine(model=PeerLead("l-1")),
        ),
        Side(
            "baseline (attrs.evolve)",
            lambda lead: _aggregate_cycles(lead, cycles),
            ops,
            lambda: PlainLead("l-1", 1),
        ),
    ]
    targets = {"pytransitions": 0.6, "baseline (attrs.evolve)": 2.0}
    return compare(STEADY, crmkit, peers, repeat=repeat, targets=targets)


def _requests(count: int, make: Any) -> list[Request]:
    """``count`` loaded entities, spread over the cycle's states, each with its next command."""
    requests = []
    for i in range(count):
        step = i % len(CYCLE)
        command, kwargs = CYCLE[step]
        requests.append((make(f"l-{i}", CYCLE_STATES[step]), command, kwargs))
    return requests


def _crmkit_requests(requests: list[Request]) -> None:
    stamp = STAMP
    for lead, command, kwargs in requests:
        getattr(lead, command)(stamp, **kwargs)


def _pytransitions_requests(requests: list[Request]) -> None:
    machine = SHARED_MACHINE
    add, remove = machine.add_model, machine.remove_model
    for model, command, kwargs in requests:
        add(model, initial=model.state)
        getattr(model, command)(**kwargs)
        remove(model)


def _statemachine_requests(requests: list[Request]) -> None:
    for model, command, kwargs in requests:
        getattr(LeadMachine(model=model), command)(**kwargs)


SHARED_MACHINE = pytransitions_machine(None)
"""The one pytransitions `Machine` every request shares."""


def load_rows(batch: int, peer_batch: int, repeat: int) -> list[Row]:
    """One transition per loaded entity, as a request handler does it.

    Batches are small, as a server holds few requests at once: pytransitions
    leaves reference cycles on every model it binds, and many live models
    would inflate its garbage-collection cost beyond a real server's.
    """
    crmkit = Side(
        "crmkit",
        _crmkit_requests,
        batch,
        lambda: _requests(batch, lambda id, state: Lead(id, 3, state)),
    )
    peers = [
        Side(
            "pytransitions (shared Machine)",
            _pytransitions_requests,
            peer_batch,
            lambda: _requests(peer_batch, lambda id, state: PeerLead(id, state.value)),
        ),
        Side(
            "python-statemachine (new machine)",
            _statemachine_requests,
            peer_batch,
            lambda: _requests(peer_batch, lambda id, state: PeerLead(id, state.value)),
        ),
    ]
    targets = {"pytransitions (shared Machine)": 0.1}
    return compare(LOAD, crmkit, peers, repeat=repeat, targets=targets)


def decode_rows(count: int, repeat: int) -> list[Row]:
    """Stored JSON text -> a `Contact`: the strict converter, and the loader ``get`` uses."""
    conv = make_converter()
    loaders = Loaders()
    contact = rich_contact()
    text = dumps(conv.unstructure(contact))
    if structure(conv, json.loads(text), Contact) != contact:
        raise AssertionError("the converter does not read the sample contact back")
    if loaders.load(Contact, json.loads(text)) != contact:
        raise AssertionError("the loader does not read the sample contact back")

    def strict(_: object) -> None:
        for _ in range(count):
            structure(conv, json.loads(text), Contact)

    def trusted(_: object) -> None:
        for _ in range(count):
            loaders.load(Contact, json.loads(text))

    times = per_op(
        [Side("converter", strict, count), Side("loader", trusted, count)], repeat=repeat
    )
    return [Row(DECODE, times[0]), Row(DECODE_TRUSTED, times[1])]


def check_equivalent() -> None:
    """All four implementations agree on the states of a cycle and refuse the same command."""
    lead, plain = Lead("l-1", 1), PlainLead("l-1", 1)
    model = _pytransitions_model()
    machine_model = PeerLead("l-1")
    machine = LeadMachine(model=machine_model)
    for command, kwargs in CYCLE:
        lead, event = getattr(lead, command)(STAMP, **kwargs)
        plain, plain_event = getattr(plain, command)(STAMP, **kwargs)
        getattr(model, command)(**kwargs)
        getattr(machine, command)(**kwargs)
        states = {lead.status.value, plain.status.value, model.state, machine_model.state}
        if len(states) != 1 or event != plain_event:
            raise AssertionError(f"implementations disagree after {command}: {states}")
    if lead.status is not NEW or lead.version != 1 + len(CYCLE):
        raise AssertionError("the cycle does not return to new")


def run(quick: bool) -> list[Row]:
    """Every row of the suite."""
    check_equivalent()
    if quick:
        return [
            *steady_rows(cycles=400, peer_cycles=100, repeat=3),
            *load_rows(batch=500, peer_batch=100, repeat=3),
            *decode_rows(count=500, repeat=3),
        ]
    return [
        *steady_rows(cycles=20_000, peer_cycles=4_000, repeat=7),
        *load_rows(batch=1_000, peer_batch=500, repeat=25),
        *decode_rows(count=20_000, repeat=7),
    ]
