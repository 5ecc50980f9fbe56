"""Lead use cases: capture with a duplicate check, work, qualify, score and convert.

Conversion turns a qualified lead into an account, a contact and (by
default) an opportunity, in the caller's unit of work. It looks for each
record first: an account with a matching company name and a contact with a
matching email, phone or name are linked instead of created, and only their
empty fields are filled from the lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import attrs

from crmkit.app.customising import Customising
from crmkit.app.records import ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES, lead_candidate
from crmkit.app.services import _Service
from crmkit.kernel.errors import DuplicateRecord, ValidationError
from crmkit.kernel.money import Money
from crmkit.parties.account import Account
from crmkit.parties.contact import Contact
from crmkit.parties.dedupe import Candidate, Match
from crmkit.parties.merge import absorb
from crmkit.sales.capture import CsvRow, LeadInput, from_web_form, read_csv
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.scoring import Score

if TYPE_CHECKING:
    pass

_PROBE = "new"  # the id of a record being checked before it exists

POSSIBLE_DUPLICATE = "possible-duplicate"
"""The tag a lead captured with ``on_duplicate="flag"`` gets when it matches a record."""


class OnDuplicate(StrEnum):
    """What `Leads.capture` does when the lead matches a stored lead or contact."""

    FLAG = "flag"
    """Capture it, tagged `POSSIBLE_DUPLICATE`, for a person to review."""
    REUSE = "reuse"
    """Capture nothing: return the oldest matching lead (a resubmitted web form)."""
    REFUSE = "refuse"
    """Capture nothing: raise `DuplicateRecord`."""


@attrs.frozen
class LeadImport:
    """The outcome of a CSV import.

    Attributes:
        leads: The leads captured (or reused), in file order.
        rejected: The rows that gave no lead, each with its line number and error.
    """

    leads: tuple[Lead, ...]
    rejected: tuple[CsvRow, ...]


@attrs.frozen
class Conversion:
    """What converting a lead made or found.

    Attributes:
        lead: The converted lead, linked to the records below.
        account: The account, new or existing.
        contact: The contact, new or existing, with a role at the account.
        opportunity: The new opportunity, if one was asked for.
        new_account: Whether the account was created (not found).
        new_contact: Whether the contact was created (not found).
    """

    lead: Lead
    account: Account
    contact: Contact
    opportunity: Opportunity | None
    new_account: bool
    new_contact: bool


class Leads(Customising[Lead], _Service[Lead]):
    """Lead commands and queries of one unit of work (``uow.leads``)."""

    _type = LEADS

    # --- capture -----------------------------------------------------------------------

    def capture(
        self,
        data: LeadInput | None = None,
        *,
        on_duplicate: OnDuplicate | str = OnDuplicate.FLAG,
        custom: Mapping[str, object] = {},
        idempotency_key: str | None = None,
        **fields: object,
    ) -> Lead:
        """Capture a lead from a `LeadInput` or from its fields given as keywords.

        The stored leads and contacts are checked for duplicates first, and
        ``on_duplicate`` says what a match does. A retry with the same
        ``idempotency_key`` returns the first lead.
        """
        if data is None:
            data = LeadInput(**fields)  # type: ignore[arg-type]
        elif fields:
            raise ValidationError(sorted(fields)[0], "is not allowed beside data")
        if not isinstance(data, LeadInput):
            raise ValidationError("data", "must be a LeadInput", type(data).__name__)
        policy = _on_duplicate(on_duplicate)
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        matches = self._matches(data)
        if matches:
            if policy is OnDuplicate.REFUSE:
                raise DuplicateRecord("lead", "email, phone or name")
            if policy is OnDuplicate.REUSE:
                reused = self._reusable(matches)
                if reused is not None:
                    return reused
            data = attrs.evolve(data, tags=(*data.tags, POSSIBLE_DUPLICATE))
        lead, event = Lead.capture(self._uow.new_id(), data, self._uow.stamp())
        return self._created(lead, custom, event, idempotency_key=idempotency_key)

    def capture_web_form(
        self,
        payload: Mapping[str, object],
        *,
        field_map: Mapping[str, str] | None = None,
        on_duplicate: OnDuplicate | str = OnDuplicate.REUSE,
        idempotency_key: str | None = None,
    ) -> Lead:
        """Capture a submitted web form; by default a resubmission returns the earlier lead."""
        data = from_web_form(payload, field_map=field_map)
        return self.capture(data, on_duplicate=on_duplicate, idempotency_key=idempotency_key)

    def import_csv(
        self,
        text_or_lines: Iterable[str] | str,
        *,
        field_map: Mapping[str, str] | None = None,
        on_duplicate: OnDuplicate | str = OnDuplicate.FLAG,
    ) -> LeadImport:
        """Capture every good row of a CSV file; bad rows are reported, not captured.

        The import commits with the unit of work: all its leads or none.
        """
        leads: list[Lead] = []
        rejected: list[CsvRow] = []
        for row in read_csv(text_or_lines, field_map=field_map):
            if row.lead is None:
                rejected.append(row)
                continue
            try:
                leads.append(self.capture(row.lead, on_duplicate=on_duplicate))
            except DuplicateRecord as exc:
                error = ValidationError("row", f"duplicates a stored record ({exc})")
                rejected.append(CsvRow(row.line, None, error))
        return LeadImport(tuple(leads), tuple(rejected))

    def _matches(self, data: LeadInput) -> tuple[Match, ...]:
        candidate = Candidate(
            _PROBE,
            "lead",
            " ".join(n for n in (data.first_name, data.last_name) if n),
            () if data.email is None else (data.email.key,),
            () if data.phone is None else (data.phone.number,),
            data.company,
            created_at=self._uow.stamp().at,
        )
        with self._uow.trusted():  # duplicates are found across every owner's records
            found = [
                *self._uow.duplicates.matches("lead", candidate),
                *self._uow.duplicates.matches("contact", candidate),
            ]
        return tuple(sorted(found, key=lambda m: (-m.score, _other(m))))

    def _reusable(self, matches: tuple[Match, ...]) -> Lead | None:
        for match in sorted(matches, key=_other):  # the oldest match: the original lead
            other, kind = (
                (match.b_id, match.b_kind) if match.a_id == _PROBE else (match.a_id, match.a_kind)
            )
            if kind == "lead":
                lead = self._uow.get(LEADS, other)
                if lead.merged_into is None:
                    return lead
        return None

    def duplicates(self, id: str) -> tuple[Match, ...]:
        """The stored leads and contacts that lead ``id`` likely duplicates, best first."""
        candidate = lead_candidate(self.get(id))
        found = [
            *self._uow.duplicates.matches("lead", candidate),
            *self._uow.duplicates.matches("contact", candidate),
        ]
        return tuple(sorted(found, key=lambda m: m.score, reverse=True))

    # --- lifecycle ---------------------------------------------------------------------

    def work(self, id: str) -> Lead:
        """Start working a lead."""
        lead, event = self.get(id).work(self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def nurture(self, id: str) -> Lead:
        """Put a lead into nurturing."""
        lead, event = self.get(id).nurture(self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def qualify(self, id: str, /, **answers: str) -> Lead:
        """Qualify a lead against the configured criteria, with any further answers."""
        criteria = self._uow.settings.qualification
        lead, event = self.get(id).qualify(criteria, self._uow.stamp(), answers or None)
        return self._uow.save(LEADS, lead, event)

    def disqualify(self, id: str, reason: str) -> Lead:
        """Disqualify a lead, saying why."""
        lead, event = self.get(id).disqualify(reason, self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def recycle(self, id: str) -> Lead:
        """Hand a lead back to marketing."""
        lead, event = self.get(id).recycle(self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def answer(self, id: str, /, **answers: str) -> Lead:
        """Record qualification answers."""
        lead, event = self.get(id).answer(answers, self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def assign(self, id: str, owner_id: str | None) -> Lead:
        """Give a lead an owner, or none."""
        lead, event = self.get(id).assign(owner_id, self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def tag(self, id: str, *tags: str) -> Lead:
        """Add tags."""
        lead, event = self.get(id).tag(tags, self._uow.stamp())
        return self._uow.save(LEADS, lead, event)

    def score(self, id: str) -> Score:
        """Score a lead with the configured scorer and keep the score; returns the explanation."""
        lead = self.get(id)
        score = self._uow.settings.scorer.score(lead.features())
        if score.value != lead.score:
            scored, event = lead.rescore(score.value, self._uow.stamp())
            self._uow.save(LEADS, scored, event)
        return score

    # --- conversion --------------------------------------------------------------------

    def convert(
        self,
        id: str,
        *,
        account_id: str | None = None,
        contact_id: str | None = None,
        opportunity: bool = True,
        opportunity_name: str | None = None,
        amount: Money | None = None,
        close_date: date | None = None,
        pipeline_id: str | None = None,
        currency: str = "EUR",
    ) -> Conversion:
        """Convert a qualified lead into an account, a contact and an opportunity.

        ``account_id`` and ``contact_id`` name records to link; without them a
        matching record is found by duplicate detection, or created. The
        opportunity (unless ``opportunity=False``) is opened in the first stage
        of the pipeline, for ``amount`` (default zero in ``currency``), closing
        on ``close_date`` (default in 30 days).
        """
        lead = self.get(id)
        stamp = self._uow.stamp()
        account, new_account = self._account_for(lead, account_id)
        contact, new_contact = self._contact_for(lead, contact_id, account)
        deal: Opportunity | None = None
        if opportunity:
            pipeline = self._uow.settings.pipeline(pipeline_id)
            deal, opened = Opportunity.open(
                self._uow.new_id(),
                opportunity_name or f"{account.name}: {lead.description or 'new business'}"[:200],
                pipeline,
                stamp,
                amount=Money.zero(currency) if amount is None else amount,
                close_date=close_date or stamp.at.date() + timedelta(days=30),
                account_id=account.id,
                contact_ids=(contact.id,),
                lead_id=lead.id,
                owner_id=lead.owner_id,
            )
            self._uow.save(OPPORTUNITIES, deal, opened)
        converted, event = lead.convert(
            stamp,
            account_id=account.id,
            contact_id=contact.id,
            opportunity_id=None if deal is None else deal.id,
        )
        self._uow.save(LEADS, converted, event)
        return Conversion(converted, account, contact, deal, new_account, new_contact)

    def _account_for(self, lead: Lead, account_id: str | None) -> tuple[Account, bool]:
        stamp = self._uow.stamp()
        name = lead.company or lead.name or "unknown"
        if account_id is None:
            probe = Candidate(_PROBE, "account", name, (), (), name, created_at=stamp.at)
            with self._uow.trusted():
                found = self._uow.duplicates.matches("account", probe)
            account_id = _other(found[0]) if found else None
        if account_id is not None:
            account = self._uow.accounts.get(account_id)
            if lead.website and not account.website:
                account = self._uow.accounts.update(account.id, website=lead.website)
            return account, False
        created, event = Account.create(
            self._uow.new_id(), name, stamp, website=lead.website, owner_id=lead.owner_id
        )
        return self._uow.save(ACCOUNTS, created, event), True

    def _contact_for(
        self, lead: Lead, contact_id: str | None, account: Account
    ) -> tuple[Contact, bool]:
        stamp = self._uow.stamp()
        fresh, created = Contact.create(
            self._uow.new_id(),
            stamp,
            last_name=lead.last_name or lead.company or "unknown",
            first_name=lead.first_name or "",
            title=lead.title,
            emails=() if lead.email is None else (lead.email,),
            phones=() if lead.phone is None else (lead.phone,),
            owner_id=lead.owner_id,
        )
        if contact_id is None:
            with self._uow.trusted():
                found = self._uow.duplicates.matches("contact", Candidate.of_contact(fresh))
            contact_id = _other(found[0]) if found else None
        if contact_id is None:
            contact = self._uow.save(CONTACTS, fresh, created)
            is_new = True
        else:
            existing = self._uow.contacts.get(contact_id)
            contact, changed = absorb(existing, [fresh], stamp)  # fills only what it lacks
            if changed is not None:
                self._uow.save(CONTACTS, contact, changed)
            is_new = False
        if account.id not in contact.account_ids:
            linked, event = contact.link(account.id, "contact", stamp, primary=not contact.accounts)
            contact = self._uow.save(CONTACTS, linked, event)
        return contact, is_new


def _other(match: Match) -> str:
    return match.b_id if match.a_id == _PROBE else match.a_id


def _on_duplicate(value: object) -> OnDuplicate:
    try:
        return OnDuplicate(str(value))
    except ValueError:
        raise ValidationError("on_duplicate", "must be flag, reuse or refuse", value) from None
