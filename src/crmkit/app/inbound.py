"""Inbound messages on the store: thread or route them, create what the route says, log them.

`Inbox.receive` (``uow.inbound.receive``) takes an email, call, chat or social
message (`InboundMessage`) and, inside the caller's unit of work:

1. returns the earlier result when an email with the same ``Message-ID`` was
   already logged (mail servers and webhooks deliver twice);
2. matches the sender to a contact: ``contact_id`` when given, else an active
   contact with the sender's email address or phone number, found through the
   duplicate-detection index (the oldest one when several match);
3. for an email, resolves its thread (`crmkit.interactions.threading.resolve`)
   against the store: a message id is looked up among the ids of logged
   activities (their own ``Message-ID`` and their references), a subject ticket
   tag (``[Case #CS-12]``) among case numbers, then case ids;
4. routes it (`crmkit.interactions.routing.route`) with the contact's open
   cases and open opportunities read from the store;
5. attaches it to the routed record, or creates a lead (duplicates reused), a
   complaint or a case; a reply to a case waiting on the customer resumes its
   SLA clock (`Cases.customer_replied`). A complaint needs a customer: an
   unknown sender's complaint first creates a contact from the sender (as help
   desks create a requester);
6. logs an inbound activity (kind ``email``, ``call``, ``chat`` or ``social``)
   linked to the record, the contact and the contact's accounts, so it is on
   each one's timeline, with the email's ``Message-ID`` and references stored
   for the next reply to find.

Lookups run trusted (routing considers every open record of the sender, as
duplicate detection does); writes are checked against the principal. Every
write is staged in the unit of work: they all commit, or none does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmkit.activities.activity import Activity, ActivityKind, Direction, RecordRef
from crmkit.app._inbound_types import (
    InboundMessage as InboundMessage,
    InboundResult as InboundResult,
)
from crmkit.app.leads import OnDuplicate
from crmkit.app.record_type import RecordType
from crmkit.app.records import ACTIVITIES, CASES, COMPLAINTS, CONTACTS, LEADS, OPPORTUNITIES
from crmkit.interactions.routing import (
    DEFAULT_ROUTING,
    Channel,
    Context,
    Inbound,
    OpenRecord,
    Route,
    Rule,
    Target,
    route,
)
from crmkit.interactions.threading import NOT_FOUND, Resolution, resolve
from crmkit.kernel.errors import ValidationError
from crmkit.parties.contact import Contact
from crmkit.parties.dedupe import blocking_keys
from crmkit.parties.matching import Candidate
from crmkit.parties.party import PartyStatus
from crmkit.parties.values import Email, Phone
from crmkit.ports.query import Eq, In, Order
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead_values import LeadSource
from crmkit.sales.opportunity import OpportunityStatus
from crmkit.service.case import CaseStatus
from crmkit.service.complaint_events import IntakeChannel

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

__all__ = ["InboundMessage", "InboundResult", "Inbox"]

_KINDS = {
    Channel.EMAIL: ActivityKind.EMAIL,
    Channel.CALL: ActivityKind.CALL,
    Channel.CHAT: ActivityKind.CHAT,
    Channel.SOCIAL: ActivityKind.SOCIAL,
}
_INTAKE = {
    Channel.EMAIL: IntakeChannel.EMAIL,
    Channel.CALL: IntakeChannel.PHONE,
    Channel.CHAT: IntakeChannel.WEB,
    Channel.SOCIAL: IntakeChannel.SOCIAL,
}
_LEAD_CHANNEL = {Channel.EMAIL: "email", Channel.CALL: "phone", Channel.CHAT: "chat"}
_TYPES: dict[Target, RecordType[Any]] = {
    Target.CASE: CASES,
    Target.OPPORTUNITY: OPPORTUNITIES,
    Target.LEAD: LEADS,
    Target.COMPLAINT: COMPLAINTS,
}
_OPEN_CASES = (
    CaseStatus.NEW.value,
    CaseStatus.ASSIGNED.value,
    CaseStatus.IN_PROGRESS.value,
    CaseStatus.WAITING_ON_CUSTOMER.value,
)
_LOOKUP_LIMIT = 200  # open records of one sender considered by routing


def _main(activity: Activity) -> RecordRef:
    """The record an activity belongs to: its first routable link, else its first link."""
    for ref in activity.links:
        if ref.kind in Target._value2member_map_:
            return ref
    return activity.links[0]


def _contact_of(activity: Activity) -> str | None:
    return next((ref.id for ref in activity.links if ref.kind == "contact"), None)


def _email_key(sender: str) -> str | None:
    try:
        return Email(sender).key
    except ValidationError:
        return None


def _phone_number(sender: str) -> str | None:
    try:
        return Phone(sender).number
    except ValidationError:
        return None


class Inbox:
    """Inbound emails, calls, chats and social messages of one unit of work (``uow.inbound``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def receive(
        self,
        message: InboundMessage,
        *,
        rules: Iterable[Rule] | None = None,
        case_type: str = "inbound",
        complaint_category: str = "general",
        acknowledge: bool = True,
    ) -> InboundResult:
        """Thread or route ``message``, create what the route says and log it (see the module).

        ``rules`` replace `DEFAULT_ROUTING`. A new case gets type ``case_type``;
        a new complaint gets ``complaint_category`` and, with ``acknowledge``,
        an acknowledgement in the outbox (`Complaints.receive`). Raises
        `ValidationError` naming the field on bad input, also when no rule
        routes the message (field ``rules``) or a rule asks for a new opportunity
        (field ``route``); `NotFound` when ``contact_id`` or a routed record does not exist.
        """
        if not isinstance(message, InboundMessage):
            raise ValidationError("message", "must be an InboundMessage", type(message).__name__)
        earlier = self._logged(message)
        if earlier is not None:
            return earlier
        contact = self._contact(message)
        contact_id = None if contact is None else contact.id
        thread, via = self._thread(message)
        inbound = Inbound(
            message.channel,
            message.sender,
            contact_id,
            thread if thread.found else None,
            "\n".join(part for part in (message.subject, message.body) if part),
        )
        chosen = route(inbound, self._context(contact), DEFAULT_ROUTING if rules is None else rules)
        if chosen is None:
            raise ValidationError("rules", "no rule routed the message")
        new_contact = chosen.target is Target.COMPLAINT and chosen.creates and contact is None
        if new_contact:
            contact = self._new_contact(message)  # a complaint needs a customer
            contact_id = contact.id
        record, created = self._target(
            chosen, message, contact, case_type, complaint_category, acknowledge
        )
        activity = self._log(message, record, contact)
        return InboundResult(
            activity, record, created, chosen.rule, chosen.reason, contact_id, thread, via,
            contact_created=new_contact,
        )  # fmt: skip

    # --- lookups (trusted) ------------------------------------------------------------

    def _logged(self, message: InboundMessage) -> InboundResult | None:
        """The result for an email already logged with the same ``Message-ID``, or None."""
        own = None if message.email is None else message.email.message_id
        if own is None:
            return None
        with self._uow.trusted():
            page = self._uow.find(ACTIVITIES, (Eq("message_id", own),), limit=1)
        if not page.items:
            return None
        activity = page.items[0]
        reason = "already logged (same Message-ID)"
        return InboundResult(
            activity, _main(activity), False, None, reason, _contact_of(activity), duplicate=True
        )

    def _contact(self, message: InboundMessage) -> Contact | None:
        """The sender's contact: the one given, else one with the sender's email or phone."""
        if message.contact_id is not None:
            return self._uow.contacts.get(message.contact_id)
        email, phone = _email_key(message.sender), _phone_number(message.sender)
        if email is None and phone is None:
            return None
        probe = Candidate(
            "inbound",
            "contact",
            "",
            () if email is None else (email,),
            () if phone is None else (phone,),
            created_at=self._uow.stamp().at,
        )
        where = (In("dedupe_keys", blocking_keys(probe)), Eq("status", PartyStatus.ACTIVE.value))
        with self._uow.trusted():
            page = self._uow.find(CONTACTS, where, limit=_LOOKUP_LIMIT)
        # Blocking keys are fuzzy (a Gmail address without dots, the last 9 digits of a
        # phone): only an exact email or number makes the sender this contact.
        exact = [
            contact
            for contact in page.items
            if contact.merged_into is None
            and (
                email in {e.key for e in contact.emails}
                or phone in {p.number for p in contact.phones}
            )
        ]
        return min(exact, key=lambda contact: contact.id) if exact else None

    def _thread(self, message: InboundMessage) -> tuple[Resolution, str | None]:
        """The email's thread, and the earlier activity it was found through."""
        if message.email is None:
            return NOT_FOUND, None
        via: dict[str, str] = {}

        def known(key: str) -> RecordRef | None:
            if key.startswith("<"):
                activity = self._by_message_id(key)
                if activity is None:
                    return None
                via[key] = activity.id
                return _main(activity)
            return self._by_ticket(key)

        with self._uow.trusted():
            found = resolve(message.email, known)
        return found, via.get(found.matched_id or "")

    def _by_message_id(self, key: str) -> Activity | None:
        """The activity logged for the email ``key``, else the latest referring to it."""
        own = self._uow.find(ACTIVITIES, (Eq("message_id", key),), limit=1)
        if own.items:
            return own.items[0]
        order = (Order("occurred_at", descending=True),)
        later = self._uow.find(ACTIVITIES, (Eq("message_ids", key),), order, limit=1)
        return later.items[0] if later.items else None

    def _by_ticket(self, key: str) -> RecordRef | None:
        """The case a ticket tag names: by number (as written, then upper case), then by id."""
        for number in dict.fromkeys((key, key.upper())):
            page = self._uow.find(CASES, (Eq("number", number),), limit=1)
            if page.items:
                return RecordRef("case", page.items[0].id)
        case = self._uow.get_or_none(CASES, key)
        return None if case is None else RecordRef("case", case.id)

    def _context(self, contact: Contact | None) -> Context:
        """The sender's open cases and open opportunities, read from the store."""
        if contact is None:
            return Context()
        cases = (Eq("contact_id", contact.id), In("status", _OPEN_CASES))
        deals = (Eq("contact_ids", contact.id), Eq("status", OpportunityStatus.OPEN.value))
        with self._uow.trusted():
            open_cases = self._uow.find(CASES, cases, limit=_LOOKUP_LIMIT).items
            open_deals = self._uow.find(OPPORTUNITIES, deals, limit=_LOOKUP_LIMIT).items
        return Context(
            open_cases=[OpenRecord(case.id, case.updated_at) for case in open_cases],
            open_opportunities=[OpenRecord(deal.id, deal.updated_at) for deal in open_deals],
            contact_id=contact.id,
            account_id=contact.account_ids[0] if contact.account_ids else None,
        )

    # --- writes -----------------------------------------------------------------------

    def _target(
        self,
        chosen: Route,
        message: InboundMessage,
        contact: Contact | None,
        case_type: str,
        complaint_category: str,
        acknowledge: bool,
    ) -> tuple[RecordRef, bool]:
        """The routed record, created when the route says so."""
        uow = self._uow
        contact_id = None if contact is None else contact.id
        account_id = contact.account_ids[0] if contact and contact.account_ids else None
        subject = message.subject or f"Inbound {message.channel.value}"
        description = message.body or subject
        if chosen.record_id is not None:
            record = uow.get(_TYPES[chosen.target], chosen.record_id)
            if chosen.target is Target.CASE and record.status is CaseStatus.WAITING_ON_CUSTOMER:
                uow.cases.customer_replied(record.id)  # the SLA clock resumes
            return RecordRef(chosen.target.value, record.id), False
        if chosen.target is Target.LEAD:
            before = {lead.id for lead in uow.staged(LEADS)}
            lead = uow.leads.capture(self._lead_input(message), on_duplicate=OnDuplicate.REUSE)
            # A reused lead (the same unknown sender wrote before) is read, not staged.
            created = lead.id not in before and any(s.id == lead.id for s in uow.staged(LEADS))
            return RecordRef("lead", lead.id), created
        if chosen.target is Target.COMPLAINT:
            complaint = uow.complaints.receive(
                subject,
                description,
                channel=_INTAKE[message.channel],
                category=complaint_category,
                contact_id=contact_id,
                account_id=account_id,
                acknowledge=acknowledge,
            )
            return RecordRef("complaint", complaint.id), True
        if chosen.target is Target.CASE:
            case = uow.cases.open(
                subject, description, type=case_type, contact_id=contact_id, account_id=account_id
            )
            return RecordRef("case", case.id), True
        raise ValidationError("route", "an opportunity is not created from a message", chosen.rule)

    def _new_contact(self, message: InboundMessage) -> Contact:
        """A contact for an unknown sender, as help desks create a requester."""
        email, phone = _email_key(message.sender), _phone_number(message.sender)
        if not message.sender and message.name is None:
            raise ValidationError("sender", "a complaint needs a sender or a name to file it under")
        handle = message.sender if email is None and phone is None else None
        return self._uow.contacts.create(
            message.name or handle or message.sender,
            emails=() if email is None else (Email(message.sender),),
            phones=() if phone is None else (Phone(phone),),
        )

    def _lead_input(self, message: InboundMessage) -> LeadInput:
        email, phone = _email_key(message.sender), _phone_number(message.sender)
        handle = message.sender if email is None and phone is None else None
        channel = message.channel
        return LeadInput(
            last_name=message.name or handle or f"Unknown {channel.value} sender",
            email=None if email is None else message.sender,
            phone=phone,
            description=message.body or message.subject or None,
            source=LeadSource(_LEAD_CHANNEL.get(channel, channel.value)),
        )

    def _log(self, message: InboundMessage, record: RecordRef, contact: Contact | None) -> Activity:
        """Log the inbound activity on the record, the contact and the contact's accounts."""
        refs = [record]
        if contact is not None:
            refs.append(RecordRef("contact", contact.id))
            refs.extend(RecordRef("account", id) for id in contact.account_ids)
        email = message.email
        references: tuple[str, ...] = ()
        if email is not None:
            references = tuple(dict.fromkeys((*email.references, *email.in_reply_to)))
        activity, event = Activity.log(
            self._uow.new_id(),
            _KINDS[message.channel],
            message.subject or f"Inbound {message.channel.value}",
            tuple(dict.fromkeys(refs)),
            self._uow.stamp(),
            occurred_at=message.occurred_at,
            body=message.body,
            direction=Direction.INBOUND,
            message_id=None if email is None else email.message_id,
            references=references,
        )
        return self._uow.save(ACTIVITIES, activity, event)
