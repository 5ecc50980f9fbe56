"""Fault injection for atomicity tests: fail a unit of work at its n-th staged event.

Policies run as each event is staged, so a policy that raises on the n-th
event stops a command at exactly that step, after the earlier steps were
staged. `every_step_is_atomic` runs a command once per step and checks that
each failure leaves the store exactly as it was: documents of every kind and
the event log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmkit.app.crm import Crm
from crmkit.app.records import RECORD_TYPES
from crmkit.app.unit_of_work import UnitOfWork
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.principal import Principal
from crmkit.ports.query import MAX_LIMIT, Query

_ACTOR = Principal("u-faults", roles={"admin"})


class InjectedFault(Exception):
    """The fault `FailAt` raises."""


class FailAt:
    """A policy on every event class the CRM knows, raising `InjectedFault` at the n-th event.

    Attributes:
        at: The step to fail at (1 is the first event staged); None never fails.
        seen: Events seen in the current run.
    """

    def __init__(self, crm: Crm) -> None:
        self.at: int | None = None
        self.seen = 0
        self.policies = crm.policies.including((cls, self) for cls in crm.event_types)

    def __call__(self, event: DomainEvent, uow: UnitOfWork) -> None:
        """Count the event; fail when it is the chosen one."""
        self.seen += 1
        if self.seen == self.at:
            raise InjectedFault(f"fault at step {self.at}: {event.event_type}")


def snapshot(crm: Crm) -> dict[str, Any]:
    """Every document of every kind crmkit stores, and the event log, of the CRM's tenant.

    Meant for test-sized stores: more than `MAX_LIMIT` documents of a kind raise
    `AssertionError` rather than compare a part.
    """
    state: dict[str, Any] = {}
    for rtype in RECORD_TYPES:
        docs = crm.store.query(crm.tenant, Query(rtype.kind, limit=MAX_LIMIT))
        if len(docs) == MAX_LIMIT:
            raise AssertionError(f"too many {rtype.kind} documents to snapshot")
        state[rtype.kind] = docs
    state["events"] = crm.store.read_events(crm.tenant, limit=MAX_LIMIT)
    return state


def every_step_is_atomic(crm: Crm, command: Callable[[UnitOfWork], object]) -> int:
    """Run ``command`` failing at each of its steps in turn; each failure must leave no trace.

    The CRM's own policies keep running; the fault comes after them. The
    last run succeeds; returns the number of steps, that is of events staged.
    Raises `AssertionError` naming the first step that left the store changed.
    """
    fail = FailAt(crm)
    kept, crm.policies = crm.policies, fail.policies
    try:
        step = 0
        while True:
            step += 1
            before = snapshot(crm)
            fail.at, fail.seen = step, 0
            try:
                with crm.unit_of_work(_ACTOR) as uow:
                    command(uow)
            except InjectedFault:
                if snapshot(crm) != before:
                    raise AssertionError(f"a fault at step {step} left the store changed") from None
                continue
            return step - 1
    finally:
        crm.policies = kept
