"""The service part of ``crmkit demo``: a complaint, its case and the SLA clock."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from crmkit.app.crm import Crm
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Eq
from crmkit.service.complaint_events import Resolution, ResolutionType, RootCause
from crmkit.service.sla_policy import SlaMetric


def build_service(crm: Crm, account_id: str, clock: FakeClock, out: TextIO) -> None:
    """Run the service story on the demo company and print what it made."""
    sam = Principal("u-sam", roles={"service_agent"})
    with crm.unit_of_work(sam) as uow:
        bob = uow.contacts.find(Eq("account_ids", account_id), limit=1).items[0]
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
        uow.cases.assign(case.id, sam.id)
        uow.cases.start(case.id)
        case = uow.cases.respond(case.id)
    clock.advance(timedelta(hours=7))
    with crm.unit_of_work(sam) as uow:
        report = uow.cases.tick()
        case = uow.cases.resolve(case.id, "Replacement pump delivered")
        complaint = uow.complaints.resolve(
            complaint.id, Resolution(ResolutionType.REPLACEMENT), RootCause("packaging")
        )
        articles = uow.articles.draft(
            "Packing pumps for transport", body="Corner protection on every pump housing."
        )
        uow.articles.publish(articles.id)
    assert case.sla is not None
    assert complaint.resolution is not None
    assert complaint.root_cause is not None
    resolution = case.sla.run(SlaMetric.RESOLUTION)
    print("\nService", file=out)
    print(
        f"  complaint from {bob.name}: {complaint.status} by {complaint.resolution.type}"
        f" (root cause {complaint.root_cause.category})",
        file=out,
    )
    print(
        f"  case {case.number}: {case.priority} priority, SLA policy {case.sla.policy_id},"
        f" resolution due {resolution.deadline:%Y-%m-%d %H:%M} UTC",
        file=out,
    )
    print(
        f"  SLA tick: {report.warnings} warning(s), {report.breaches} breach(es);"
        f" escalation level {case.escalation_level}; now {case.status}",
        file=out,
    )
