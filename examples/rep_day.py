"""A rep's day: the work queue, a call, an email reply, snooze and done, best times, search.

Anna sells pumps. Her morning on a CRM in a SQLite file: she opens her work
queue and reads why each customer is on it, calls the top one and logs how
it went, sees a customer's email reply land on its service case, snoozes
one item and completes another, asks when a contact picks up, and finds a
customer whose name she misspells.

Run it with ``python examples/rep_day.py [PATH]``; it writes ``rep_day.db``
in a temporary directory unless given a path. A fixed clock makes the output
the same on every run.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import crmkit
from crmkit import Email, FakeClock, Phone, Principal, RecordRef
from crmkit.adapters.smtp import message_id
from crmkit.app.crm import Crm
from crmkit.app.inbound import InboundMessage
from crmkit.interactions.threading import from_headers
from crmkit.kernel.ids import SequentialIds

BERLIN = ZoneInfo("Europe/Berlin")
ANNA = Principal("u-anna", roles={"sales_rep"})
MORNING = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)  # Tuesday, 08:30 in Berlin


def setup(crm: Crm, clock: FakeClock) -> dict[str, str]:
    """Anna's book as it stands on Tuesday morning: customers, past calls, a case."""
    with crm.unit_of_work(ANNA) as uow:
        acme = uow.accounts.create("ACME Maschinenbau GmbH", owner_id=ANNA.id)
        bob = uow.contacts.create(
            "Berg",
            first_name="Bob",
            emails=[Email("bob.berg@acme.example")],
            phones=[Phone("+49 40 1234 5678")],
            account_id=acme.id,
            owner_id=ANNA.id,
            time_zone="Europe/Berlin",
        )
        cleo = uow.contacts.create(
            "Chen",
            first_name="Cleo",
            emails=[Email("cleo.chen@acme.example")],
            account_id=acme.id,
            owner_id=ANNA.id,
            time_zone="Europe/Berlin",
        )
        dana = uow.contacts.create("Diaz", first_name="Dana", time_zone="America/New_York")
        uow.contacts.assign(dana.id, ANNA.id)
    with crm.unit_of_work(ANNA) as uow:
        # Four weeks of calls: people at ACME pick up on Tuesday mornings, not on Mondays.
        for week in range(1, 5):
            tuesday = datetime(2026, 3, 3, 9, 15, tzinfo=UTC) - timedelta(weeks=week)
            for person in (bob, cleo):
                for at, outcome in (
                    (tuesday, "connected"),
                    (tuesday - timedelta(hours=20), "no_answer"),
                ):
                    uow.activities.log(
                        "call",
                        "Check-in",
                        [RecordRef("contact", person.id)],
                        occurred_at=at,
                        outcome=outcome,
                        owner_id=ANNA.id,
                    )
    clock.set(MORNING - timedelta(days=2))  # Sunday: Bob reports a leaking pump
    with crm.unit_of_work(ANNA) as uow:
        case = uow.cases.open(
            "Pump leaks", "Seal failed after a week.", type="incident", contact_id=bob.id
        )
        ack = uow.activities.log(
            "email",
            f"[Case #{case.number}] We are on it",
            [RecordRef("case", case.id)],
            direction="outbound",
            message_id=message_id(f"case-{case.number}-ack", "crm.example"),
        )
    clock.set(MORNING - timedelta(hours=16))  # yesterday afternoon
    with crm.unit_of_work(ANNA) as uow:
        follow_up = uow.activities.plan(
            "call",
            "Follow up on the pump quote",
            [RecordRef("contact", bob.id)],
            MORNING - timedelta(hours=15),
            owner_id=ANNA.id,
        )
        uow.activities.plan(
            "task",
            "Send the maintenance price list",
            [RecordRef("contact", cleo.id)],
            MORNING + timedelta(hours=6),
            owner_id=ANNA.id,
        )
        uow.activities.plan(
            "call",
            "Introduce the new pump range",
            [RecordRef("contact", dana.id)],
            MORNING + timedelta(hours=8),
            owner_id=ANNA.id,
        )
    assert ack.message_id is not None
    return {
        "bob": bob.id,
        "cleo": cleo.id,
        "dana": dana.id,
        "follow_up": follow_up.id,
        "case": case.id,
        "case_number": case.number,
        "ack": ack.message_id,
    }


def morning(crm: Crm, clock: FakeClock, ids: dict[str, str]) -> None:
    """Anna's morning, printed step by step."""
    print("1. The work queue at 08:30 (Berlin)")
    with crm.unit_of_work(ANNA) as uow:
        queue = uow.work_queue.today(ANNA.id, zone="Europe/Berlin", windows=True)
        names = {c: uow.contacts.get(ids[c]).name for c in ("bob", "cleo", "dana")}
    by_id = {ids[c]: name for c, name in names.items()}
    for item in queue:
        reasons = ", ".join(reason.kind.value for reason in item.reasons)
        best = f"{item.next_window:%a %H:%M %Z}" if item.next_window else "-"
        print(f"   {by_id[item.subject_id]:<10} score {item.score}  ({reasons}; best {best})")
    print(f"   Why {by_id[queue[0].subject_id]} comes first:")
    for line in queue[0].explain().splitlines():
        print(f"     {line}")

    print("2. Anna calls Bob; he picks up")
    clock.set(MORNING + timedelta(hours=1, minutes=35))  # 10:05 in Berlin
    with crm.unit_of_work(ANNA) as uow:
        call = uow.activities.complete(
            ids["follow_up"],
            outcome="connected",
            note="Quote accepted in principle; wants delivery in April.",
            duration_minutes=12,
        )
    print(f"   {call.subject}: {call.status.value}, {call.outcome}, {call.duration_minutes} min")

    print("3. Bob's email reply lands on his case")
    reply = InboundMessage.of_email(
        from_headers(
            {
                "Message-ID": "<r-77@acme.example>",
                "In-Reply-To": ids["ack"],
                "References": ids["ack"],
                "Subject": f"Re: [Case #{ids['case_number']}] We are on it",
                "From": "Bob Berg <bob.berg@acme.example>",
            }
        ),
        body="Photos of the seal attached.",
    )
    with crm.unit_of_work(ANNA) as uow:
        received = uow.inbound.receive(reply)
    assert received.thread.by is not None
    print(
        f"   threaded to {received.record.kind} {ids['case_number']}"
        f" by {received.thread.by.value} (rule {received.rule})"
    )

    print("4. Snooze Cleo until 14:00, mark Bob done")
    with crm.unit_of_work(ANNA) as uow:
        keys = {item.subject_id: item.key for item in queue}
        snoozed = uow.work_queue.snooze(keys[ids["cleo"]], MORNING + timedelta(hours=5, minutes=30))
        done = uow.work_queue.done(keys[ids["bob"]])
    assert snoozed.until is not None
    until = snoozed.until.astimezone(BERLIN)
    print(f"   Cleo snoozed until {until:%H:%M}; Bob done (remembers {', '.join(done.reasons)})")
    with crm.unit_of_work(ANNA) as uow:
        left = [by_id[item.subject_id] for item in uow.work_queue.today(ANNA.id)]
        later = [
            f"{by_id[item.subject_id]} ({', '.join(r.kind.value for r in item.reasons)})"
            for item in uow.work_queue.today(ANNA.id, now=MORNING + timedelta(hours=6))
        ]
    print(f"   queue now: {', '.join(left)}; at 14:30: {', '.join(later)}")

    print("5. When does Cleo pick up?")
    with crm.unit_of_work(ANNA) as uow:
        model = uow.best_times.learn()  # a host would cache this model
        windows = uow.best_times.windows(ids["cleo"], model=model, limit=2)
    for window in windows:
        print(f"   {window.start:%a %d %b %H:%M %Z}  rate {window.rate}  {window.evidence.text}")

    print("6. Find a customer by a misspelt name")
    with crm.unit_of_work(ANNA) as uow:
        hits = uow.search("cleo chne", kinds=("contact",))
    for hit in hits:
        print(f"   {hit.kind} {hit.title} (score {hit.score})")


def main(path: Path) -> None:
    """Build Anna's book in a SQLite file at ``path`` and print her morning."""
    clock = FakeClock(MORNING - timedelta(days=30))
    with crmkit.open(f"sqlite:///{path}", clock=clock, ids=SequentialIds("day")) as crm:
        ids = setup(crm, clock)
        clock.set(MORNING)
        morning(crm, clock, ids)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "rep_day.db")
