"""The rep's-day part of ``crmkit demo``: Anna's work queue, a call and the best time to call.

A short version of ``examples/rep_day.py`` on the demo company.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from crmkit.activities.activity import RecordRef
from crmkit.app.crm import Crm
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Eq

_ZONE = "Europe/Berlin"


def build_rep_day(crm: Crm, account_id: str, clock: FakeClock, out: TextIO) -> None:
    """Give Anna the account's contacts, a few weeks of calls and today's plan; print her day."""
    anna = Principal("u-anna", roles={"sales_rep"})
    now = clock.now()
    with crm.unit_of_work(anna) as uow:
        people = uow.contacts.find(Eq("account_ids", account_id)).items
        names: dict[str, str] = {person.id: person.name for person in people}
        for person in people:
            uow.contacts.assign(person.id, anna.id)
        bob = next(person for person in people if person.time_zone == _ZONE)
        # Four weeks of calls to Bob: he picks up on Tuesdays at 10:15, not on Mondays at 14:15.
        tuesday = now.replace(hour=9, minute=15, second=0, microsecond=0)
        tuesday -= timedelta(days=(tuesday.weekday() - 1) % 7)
        for week in range(1, 5):
            for at, outcome in (
                (tuesday - timedelta(weeks=week), "connected"),
                (tuesday - timedelta(weeks=week, hours=20), "no_answer"),
            ):
                uow.activities.log(
                    "call",
                    "Check-in",
                    [RecordRef("contact", bob.id)],
                    occurred_at=at,
                    outcome=outcome,
                    owner_id=anna.id,
                )
        call = uow.activities.plan(
            "call",
            "Confirm the pilot order",
            [RecordRef("contact", bob.id)],
            now - timedelta(hours=1),
            owner_id=anna.id,
        )
        for person in [person for person in people if person.id != bob.id][:1]:
            uow.activities.plan(
                "task",
                "Send the pilot price list",
                [RecordRef("contact", person.id)],
                now + timedelta(hours=3),
                owner_id=anna.id,
            )
    with crm.unit_of_work(anna) as uow:
        queue = uow.work_queue.today(anna.id, zone=_ZONE)
    print("\nA rep's day (see examples/rep_day.py)", file=out)
    print(f"  work queue of {anna.id}:", file=out)
    for item in queue:
        reasons = ", ".join(reason.kind.value for reason in item.reasons)
        print(
            f"    {names.get(item.subject_id, item.subject_id)}: {item.score} ({reasons})", file=out
        )
    with crm.unit_of_work(anna) as uow:
        done = uow.activities.complete(call.id, outcome="connected", duration_minutes=8)
        uow.work_queue.done(next(i.key for i in queue if i.subject_id == bob.id))
    print(f"  called {bob.name}: {done.outcome}; queue item done", file=out)
    with crm.unit_of_work(anna) as uow:
        windows = uow.best_times.windows(bob.id, limit=2)
    for window in windows:
        print(
            f"  best time to call {bob.name}: {window.start:%a %H:%M %Z}"
            f" (rate {window.rate}; {window.evidence.text})",
            file=out,
        )
