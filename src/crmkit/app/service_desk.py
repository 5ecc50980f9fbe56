"""Service use cases: complaints, service cases with their SLA clocks, knowledge articles.

Each service belongs to one unit of work (``uow.complaints``, ``uow.cases``,
``uow.articles``). The SLA clock of a case is kept by `Cases`: it starts with
the case (the most specific `SlaPolicy` for its priority, type and customer
tier), pauses while the case waits on the customer, records responses and the
resolution, and is evaluated by `Cases.tick`, a job the host's scheduler runs.
Warnings and breaches raise the case's escalation level, as `ServiceSettings`
says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from crmkit.app.customising import Customising
from crmkit.app.notifier import Refusal
from crmkit.app.records import ARTICLES, CASES, COMPLAINTS
from crmkit.app.services import _Service
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import to_micros
from crmkit.ports.query import Eq, In, Order, Range
from crmkit.service.calendar import BusinessCalendar
from crmkit.service.case import CaseStatus, ServiceCase
from crmkit.service.case_values import Csat
from crmkit.service.complaint import Complaint, acknowledgement
from crmkit.service.complaint_events import IntakeChannel, Resolution, RootCause
from crmkit.service.knowledge import KnowledgeArticle, rank, search_terms
from crmkit.service.routing import pick_agent, route
from crmkit.service.sla import SlaBreached, SlaClock, SlaFact, SlaMetric, SlaWarning
from crmkit.service.sla_policy import Priority, Severity

if TYPE_CHECKING:
    pass

_OPEN = tuple(s.value for s in CaseStatus if s not in (CaseStatus.CLOSED, CaseStatus.MERGED))
_SEVERITY_PRIORITY = {
    Severity.MINOR: Priority.LOW,
    Severity.MODERATE: Priority.NORMAL,
    Severity.MAJOR: Priority.HIGH,
    Severity.CRITICAL: Priority.URGENT,
}
ClockChange = Callable[[SlaClock, BusinessCalendar], tuple[SlaClock, tuple[SlaFact, ...]]]


@attrs.frozen
class TickReport:
    """What one run of `Cases.tick` did.

    Attributes:
        evaluated: Cases whose SLA clocks were evaluated.
        warnings: SLA warnings raised.
        breaches: SLA breaches raised.
        more: Whether more cases were due than the run's limit took.
    """

    evaluated: int
    warnings: int
    breaches: int
    more: bool


class Cases(Customising[ServiceCase], _Service[ServiceCase]):
    """Service case commands and queries of one unit of work."""

    _type = CASES

    def open(
        self,
        subject: str,
        description: str,
        *,
        type: str,
        priority: Priority | str = Priority.NORMAL,
        severity: Severity | str = Severity.MODERATE,
        contact_id: str | None = None,
        account_id: str | None = None,
        customer_tier: str | None = None,
        complaint_id: str | None = None,
        skills_needed: Iterable[str] = (),
        number: str | None = None,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> ServiceCase:
        """Open a case, route it to a queue and start its SLA clock (if a policy applies)."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        if contact_id is not None:
            self._uow.contacts.get(contact_id)
        if account_id is not None:
            self._uow.accounts.get(account_id)
        stamp = self._uow.stamp()
        id = self._uow.new_id()
        fields = {
            "subject": subject,
            "description": description,
            "type": type,
            "priority": priority,
            "severity": severity,
            "contact_id": contact_id,
            "account_id": account_id,
            "customer_tier": customer_tier,
            "complaint_id": complaint_id,
            "skills_needed": tuple(skills_needed),
        }
        number = number or f"CS-{id.replace('-', '')[-10:].upper()}"
        case, opened = ServiceCase.open(id, number, stamp, **fields)  # type: ignore[arg-type]
        # Routing reads the case as validated (its type and skills normalised), so the
        # case is built once to route it, then opened in its queue.
        queue = route(case, self._uow.service.queues)
        if queue is not None:
            case, opened = ServiceCase.open(
                id,
                number,
                stamp,
                queue=queue.name,
                **fields,  # type: ignore[arg-type]
            )
        case = self._created(case, custom, opened, idempotency_key=idempotency_key)
        policy = self._uow.service.sla_policies.match(case.priority, case.type, case.customer_tier)
        if policy is None:
            return case
        calendar = self._uow.service.calendar(policy.calendar_name)
        clock = SlaClock.start(policy, calendar, case.created_at)
        tracked, event = case.track_sla(clock, stamp)
        return self._uow.save(CASES, tracked, event)

    def _clock(self, case: ServiceCase, change: ClockChange) -> ServiceCase:
        """Apply ``change`` to the case's SLA clock, record it, and escalate on its facts."""
        return self._clock_facts(case, change)[0]

    def _clock_facts(
        self, case: ServiceCase, change: ClockChange
    ) -> tuple[ServiceCase, tuple[SlaFact, ...]]:
        if case.sla is None:
            return case, ()
        calendar = self._uow.service.calendar(case.sla.calendar_name)
        clock, facts = change(case.sla, calendar)
        stamp = self._uow.stamp()
        case, event = case.track_sla(clock, stamp, facts)
        case = self._uow.save(CASES, case, event)
        level = max(
            (
                self._uow.service.escalate_on_breach
                if isinstance(fact, SlaBreached)
                else self._uow.service.escalate_on_warning
                for fact in facts
            ),
            default=0,
        )
        if level > case.escalation_level and case.is_open:
            breached = level == self._uow.service.escalate_on_breach
            case, escalated = case.escalate(
                level, stamp, "SLA breached" if breached else "SLA at risk"
            )
            case = self._uow.save(CASES, case, escalated)
        return case, facts

    def _has(self, case: ServiceCase, metric: SlaMetric) -> bool:
        return case.sla is not None and any(run.metric is metric for run in case.sla.runs)

    def assign(
        self, id: str, owner_id: str | None = None, *, team: str | None = None
    ) -> ServiceCase:
        """Assign a case to ``owner_id``, or else pick an agent from the directory.

        Picking takes agents with every skill the case needs, under their capacity,
        the least loaded first, then in turn.
        """
        case = self.get(id)
        if owner_id is None:
            directory = self._uow.service.directory
            candidates = [user.id for user in directory.active()]
            load = {
                user: len(self.find(Eq("owner_id", user), In("status", _OPEN), limit=1000))
                for user in candidates
            }
            owner_id = pick_agent(
                candidates, directory, skills=case.skills_needed, open_counts=load
            )
            if owner_id is None:
                raise ValidationError("owner_id", "no agent with the skills and room is free")
        assigned, event = case.assign(owner_id, self._uow.stamp(), team=team)
        return self._uow.save(CASES, assigned, event)

    def start(self, id: str) -> ServiceCase:
        """Start working a case."""
        case, event = self.get(id).start(self._uow.stamp())
        return self._uow.save(CASES, case, event)

    def respond(self, id: str) -> ServiceCase:
        """Record a response to the customer: it meets the first- or next-response target."""
        case, event = self.get(id).respond(self._uow.stamp())
        case = self._uow.save(CASES, case, event)
        at = event.occurred_at
        metric = SlaMetric.FIRST_RESPONSE if event.first else SlaMetric.NEXT_RESPONSE
        if not self._has(case, metric):
            return case
        return self._clock(case, lambda clock, _: (clock.met(metric, at), ()))

    def wait_on_customer(self, id: str) -> ServiceCase:
        """Wait for the customer: the SLA clock pauses."""
        case, event = self.get(id).wait_on_customer(self._uow.stamp())
        case = self._uow.save(CASES, case, event)
        return self._clock(case, lambda clock, _: (clock.pause(event.occurred_at), ()))

    def customer_replied(self, id: str) -> ServiceCase:
        """The customer replied: the clock resumes and the next-response target restarts."""
        case, event = self.get(id).customer_replied(self._uow.stamp())
        case = self._uow.save(CASES, case, event)
        at = event.occurred_at
        case = self._clock(case, lambda clock, calendar: (clock.resume(at, calendar), ()))
        if self._has(case, SlaMetric.NEXT_RESPONSE):
            case = self._clock(
                case, lambda clock, calendar: clock.restart(SlaMetric.NEXT_RESPONSE, at, calendar)
            )
        return case

    def resolve(self, id: str, note: str) -> ServiceCase:
        """Resolve a case: the resolution target is met."""
        case, event = self.get(id).resolve(note, self._uow.stamp())
        case = self._uow.save(CASES, case, event)
        at = event.occurred_at
        return self._clock(case, lambda clock, _: (clock.met(SlaMetric.RESOLUTION, at), ()))

    def reopen(self, id: str) -> ServiceCase:
        """Reopen a resolved case within the configured window; resolution is due again."""
        case, event = self.get(id).reopen(self._uow.stamp(), self._uow.service.reopen_within)
        case = self._uow.save(CASES, case, event)
        at = event.occurred_at
        if not self._has(case, SlaMetric.RESOLUTION):
            return case
        return self._clock(
            case, lambda clock, calendar: clock.restart(SlaMetric.RESOLUTION, at, calendar)
        )

    def close(self, id: str) -> ServiceCase:
        """Close a resolved case."""
        case, event = self.get(id).close(self._uow.stamp())
        return self._uow.save(CASES, case, event)

    def escalate(self, id: str, level: int, reason: str, *, by_hand: bool = True) -> ServiceCase:
        """Set a case's escalation level by hand (any level, with a reason)."""
        case, event = self.get(id).escalate(level, self._uow.stamp(), reason, by_hand=by_hand)
        return self._uow.save(CASES, case, event)

    def link_article(self, id: str, article_id: str) -> ServiceCase:
        """Link a knowledge article to a case."""
        self._uow.articles.get(article_id)
        case, event = self.get(id).link_article(article_id, self._uow.stamp())
        return self._uow.save(CASES, case, event)

    def set_parent(self, id: str, parent_id: str) -> ServiceCase:
        """Make case ``id`` a child of ``parent_id`` (both records say so)."""
        stamp = self._uow.stamp()
        child, event = self.get(id).set_parent(parent_id, stamp)
        parent, added = self.get(parent_id).add_child(id, stamp)
        self._uow.save(CASES, parent, added)
        return self._uow.save(CASES, child, event)

    def merge(self, duplicate_id: str, survivor_id: str) -> ServiceCase:
        """Merge a duplicate case into a survivor; returns the survivor."""
        stamp = self._uow.stamp()
        duplicate, merged = self.get(duplicate_id).merge_into(survivor_id, stamp)
        survivor, absorbed = self.get(survivor_id).absorb(duplicate_id, stamp)
        self._uow.save(CASES, duplicate, merged)
        return self._uow.save(CASES, survivor, absorbed)

    def rate(self, id: str, score: int, comment: str | None = None) -> ServiceCase:
        """Record the customer's satisfaction (1 to 5) with a resolved or closed case."""
        case, event = self.get(id).rate(Csat(score, comment), self._uow.stamp())
        return self._uow.save(CASES, case, event)

    def tick(self, *, limit: int = 500) -> TickReport:
        """Evaluate the SLA clocks of open cases that have something due now (a scheduled job).

        Only cases whose clock is due are read (an index holds when each is
        next due), at most ``limit`` of them; run it again while ``more``.
        """
        now = self._uow.stamp().at
        # The most overdue first; ordering by the indexed field keeps a tick's cost
        # independent of the backlog (sorting every due case by id made ticks quadratic).
        page = self.find(
            Range("sla_due_at", lte=to_micros(now)), order_by=(Order("sla_due_at"),), limit=limit
        )
        warnings = breaches = 0
        for due in page.items:
            _, facts = self._clock_facts(
                self.get(due.id), lambda clock, calendar: clock.evaluate(now, calendar)
            )
            warnings += sum(isinstance(fact, SlaWarning) for fact in facts)
            breaches += sum(isinstance(fact, SlaBreached) for fact in facts)
        return TickReport(len(page.items), warnings, breaches, page.next_cursor is not None)

    def close_due(self, *, limit: int = 500) -> tuple[ServiceCase, ...]:
        """Close the cases resolved longer ago than the configured auto-close delay (a job)."""
        stamp = self._uow.stamp()
        before = stamp.at - self._uow.service.auto_close_after
        page = self.find(
            Eq("status", CaseStatus.RESOLVED.value),
            Range("resolved_at", lte=to_micros(before)),
            limit=limit,
        )
        closed = []
        for due in page.items:
            case, event = self.get(due.id).close(stamp, automatic=True)
            closed.append(self._uow.save(CASES, case, event))
        return tuple(closed)


class Complaints(Customising[Complaint], _Service[Complaint]):
    """Complaint commands and queries of one unit of work."""

    _type = COMPLAINTS

    def receive(
        self,
        subject: str,
        description: str,
        *,
        channel: IntakeChannel | str,
        category: str,
        severity: Severity | str = Severity.MODERATE,
        contact_id: str | None = None,
        account_id: str | None = None,
        product_id: str | None = None,
        order_ref: str | None = None,
        contract_id: str | None = None,
        acknowledge: bool = True,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
    ) -> Complaint:
        """Receive a complaint from any channel and, by default, acknowledge it by email.

        The acknowledgement goes through the outbox with the unit of work; the
        complaint is marked acknowledged only when the message could be queued
        (the contact has an email address and has not withdrawn consent).
        """
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        if contact_id is not None:
            self._uow.contacts.get(contact_id)
        if account_id is not None:
            self._uow.accounts.get(account_id)
        complaint, received = Complaint.receive(
            self._uow.new_id(),
            self._uow.stamp(),
            channel=channel,
            subject=subject,
            description=description,
            category=category,
            severity=severity,
            contact_id=contact_id,
            account_id=account_id,
            product_id=product_id,
            order_ref=order_ref,
            contract_id=contract_id,
        )
        complaint = self._created(complaint, custom, received, idempotency_key=idempotency_key)
        if acknowledge and contact_id is not None:
            sent = self._uow.notifications.send(
                channel="email",
                purpose="service",
                key=f"complaint-acknowledgement-{complaint.id}",
                party_id=contact_id,
                template=self._uow.service.acknowledgement,
                data=acknowledgement(complaint),
            )
            if not isinstance(sent, Refusal):
                complaint, acknowledged = complaint.acknowledge(self._uow.stamp())
                complaint = self._uow.save(COMPLAINTS, complaint, acknowledged)
        return complaint

    def acknowledge(self, id: str) -> Complaint:
        """Mark a complaint acknowledged (when the host acknowledged it another way)."""
        complaint, event = self.get(id).acknowledge(self._uow.stamp())
        return self._uow.save(COMPLAINTS, complaint, event)

    def investigate(self, id: str) -> Complaint:
        """Start investigating a complaint."""
        complaint, event = self.get(id).investigate(self._uow.stamp())
        return self._uow.save(COMPLAINTS, complaint, event)

    def escalate(
        self, id: str, *, priority: Priority | str | None = None, skills_needed: Iterable[str] = ()
    ) -> ServiceCase:
        """Escalate a complaint into a service case (type ``complaint``); returns the case.

        The case's priority follows the complaint's severity unless given.
        """
        complaint = self.get(id)
        case = self._uow.cases.open(
            complaint.subject,
            complaint.description,
            type="complaint",
            priority=priority or _SEVERITY_PRIORITY[Severity(complaint.severity)],
            severity=complaint.severity,
            contact_id=complaint.contact_id,
            account_id=complaint.account_id,
            complaint_id=complaint.id,
            skills_needed=skills_needed,
        )
        escalated, event = self.get(id).escalate(case.id, self._uow.stamp())
        self._uow.save(COMPLAINTS, escalated, event)
        return case

    def resolve(self, id: str, resolution: Resolution, root_cause: RootCause) -> Complaint:
        """Resolve a complaint with how it was put right and why it happened."""
        complaint, event = self.get(id).resolve(resolution, root_cause, self._uow.stamp())
        return self._uow.save(COMPLAINTS, complaint, event)

    def reject(self, id: str, reason: str) -> Complaint:
        """Reject a complaint, saying why."""
        complaint, event = self.get(id).reject(reason, self._uow.stamp())
        return self._uow.save(COMPLAINTS, complaint, event)

    def assign(self, id: str, owner_id: str | None) -> Complaint:
        """Give a complaint an owner, or none."""
        complaint, event = self.get(id).assign(owner_id, self._uow.stamp())
        return self._uow.save(COMPLAINTS, complaint, event)


class Articles(_Service[KnowledgeArticle]):
    """Knowledge article commands, queries and search of one unit of work."""

    _type = ARTICLES

    def draft(self, title: str, *, body: str = "", tags: Iterable[str] = ()) -> KnowledgeArticle:
        """Draft an article."""
        article, event = KnowledgeArticle.draft(
            self._uow.new_id(), title, self._uow.stamp(), body=body, tags=tuple(tags)
        )
        return self._uow.save(ARTICLES, article, event)

    def edit(
        self,
        id: str,
        *,
        title: str | None = None,
        body: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> KnowledgeArticle:
        """Change an article's title, body or tags."""
        article, event = self.get(id).edit(
            self._uow.stamp(), title=title, body=body, tags=None if tags is None else tuple(tags)
        )
        return self._uow.save(ARTICLES, article, event)

    def publish(self, id: str) -> KnowledgeArticle:
        """Publish an article: search finds it."""
        article, event = self.get(id).publish(self._uow.stamp())
        return self._uow.save(ARTICLES, article, event)

    def archive(self, id: str) -> KnowledgeArticle:
        """Archive an article: search no longer finds it."""
        article, event = self.get(id).archive(self._uow.stamp())
        return self._uow.save(ARTICLES, article, event)

    def search(self, query: str, *, limit: int = 20) -> tuple[KnowledgeArticle, ...]:
        """Published articles matching any word of ``query``, best first.

        The store finds candidates through the keyword index; they are ranked
        here by how many words match, a word in the title counting double.
        """
        terms = search_terms(query)
        if not terms:
            return ()
        found = self.find(In("keywords", terms), Eq("status", "published"), limit=1000).items
        ranked = sorted(found, key=lambda a: (-rank(a, terms), a.title.casefold(), a.id))
        return tuple(ranked[:limit])
