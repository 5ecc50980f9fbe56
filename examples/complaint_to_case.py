"""From complaint to resolved case: a complaint, its case, the SLA clock, in a SQLite file.

Run it with ``python examples/complaint_to_case.py [PATH]``; it writes
``complaint_to_case.db`` in a temporary directory unless given a path. The
tutorial "From complaint to resolved case" in the docs walks through the same steps.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import crmkit
from crmkit import (
    BusinessCalendar,
    Email,
    FakeClock,
    Money,
    Principal,
    Resolution,
    ResolutionType,
    RootCause,
    ServiceSettings,
    Shift,
    SlaMetric,
    WeeklyHours,
)


def main(path: Path) -> None:
    """Receive, acknowledge, escalate, work (with a pause), tick, resolve and close."""
    office = BusinessCalendar(
        "office",
        "Europe/Berlin",
        WeeklyHours.weekdays(Shift(time(9), time(12)), Shift(time(13), time(17))),
    )
    clock = FakeClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    agent = Principal("u-sam", roles={"service_agent"})
    settings = ServiceSettings(calendars=(office,))
    with crmkit.open(f"sqlite:///{path}", clock=clock, service=settings) as crm:
        with crm.unit_of_work(agent) as uow:
            acme = uow.accounts.create("ACME GmbH")
            bob = uow.contacts.create(
                "Berg", first_name="Bob", emails=[Email("bob@acme.example")], account_id=acme.id
            )
            complaint = uow.complaints.receive(
                "Pump arrived broken",
                "The housing is cracked.",
                channel="phone",
                category="delivery",
                severity="major",
                contact_id=bob.id,
            )
            uow.complaints.investigate(complaint.id)
            case = uow.complaints.escalate(complaint.id)
        assert case.sla is not None
        due = case.sla.run(SlaMetric.RESOLUTION).deadline.astimezone(office.time_zone)
        print(f"complaint {complaint.status}; case {case.number} ({case.priority})")
        print(f"resolution due {due:%a %H:%M} Berlin time (8 business hours)")

        clock.advance(timedelta(minutes=30))
        with crm.unit_of_work(agent) as uow:
            uow.cases.assign(case.id, "u-sam")
            uow.cases.start(case.id)
            uow.cases.respond(case.id)
            uow.cases.wait_on_customer(case.id)
        clock.advance(timedelta(days=1))
        with crm.unit_of_work(agent) as uow:
            case = uow.cases.customer_replied(case.id)
            uow.cases.respond(case.id)
        assert case.sla is not None
        due = case.sla.run(SlaMetric.RESOLUTION).deadline.astimezone(office.time_zone)
        print(f"after a day waiting on the customer the case is due {due:%a %H:%M}")

        clock.advance(timedelta(hours=7))
        with crm.unit_of_work(agent) as uow:
            report = uow.cases.tick()
            level = uow.cases.get(case.id).escalation_level
        print(f"tick: {report.warnings} warning, {report.breaches} breaches; escalation {level}")

        with crm.unit_of_work(agent) as uow:
            uow.cases.resolve(case.id, "Replacement delivered")
            uow.cases.rate(case.id, 4, "Fast")
            uow.complaints.resolve(
                complaint.id,
                Resolution(ResolutionType.REFUND, Money.of("120.00", "EUR")),
                RootCause("packaging"),
            )
        clock.advance(timedelta(days=8))
        with crm.unit_of_work(agent) as uow:
            closed = uow.cases.close_due()
        print(f"auto-closed {len(closed)} case a week after resolution")

        print("\nThe contact's timeline, newest first:")
        for entry in crm.timeline(bob.id, agent, limit=8):
            print(f"  {entry.occurred_at:%Y-%m-%d %H:%M}  {entry.summary}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "complaint_to_case.db")
