"""Campaigns and their members: plan, target, send, record responses as leads, measure.

``uow.campaigns`` runs a campaign through its lifecycle, targets contacts
(one by one or a whole segment), sends it through the notifier and reports
its results. ``uow.members`` records what each member did: a response (from
any channel) becomes a lead whose source names the campaign, an opt-out
unsubscribes the contact from the campaign, a hard bounce stops all
marketing to the address.

Attribution: when an opportunity is won, `credit_won_deal` (a projection the
unit of work always runs) credits its revenue to the campaigns that touched
its buyer before the win (responses of its contacts and of its lead, and the
campaign its lead was captured from) under every model, in a
`crmkit.marketing.credit.DealCredit`. A campaign's revenue won sums its
credits in the campaign's currency; deals in other currencies are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from crmkit.app.audiences import add_purchase
from crmkit.app.marketing_records import CAMPAIGNS, CREDITS, MEMBERS
from crmkit.app.notifier import Refusal, Template
from crmkit.app.records import ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES
from crmkit.app.services import _Service
from crmkit.kernel.checks import items, to_enum
from crmkit.kernel.errors import NotFound, ValidationError
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel, CampaignResults, Touch, results
from crmkit.marketing.campaign import Campaign, CampaignStatus, CampaignType
from crmkit.marketing.credit import DealCredit
from crmkit.marketing.guards import refusals
from crmkit.marketing.member import BounceKind, CampaignMember, MemberStatus, ResponseChannel
from crmkit.parties.consent import as_channel
from crmkit.ports.query import Eq
from crmkit.sales.capture import LeadInput, from_campaign_response
from crmkit.sales.lead import Lead
from crmkit.sales.opportunity_events import OpportunityReopened, OpportunityWon

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

_to_model = to_enum(AttributionModel, "model")
_to_status = to_enum(MemberStatus, "status")

__all__ = [
    "CREDIT_PROJECTIONS",
    "Campaigns",
    "Members",
    "Response",
    "SendReport",
    "credit_won_deal",
]


@attrs.frozen
class SendReport:
    """What `Campaigns.send` did.

    Attributes:
        sent: Members sent to.
        refused: Members not sent to, each with the reason (no personal data).
    """

    sent: tuple[CampaignMember, ...]
    refused: tuple[tuple[str, str], ...]


@attrs.frozen
class Response:
    """A member's response and the lead made from it.

    Attributes:
        member: The member, converted when a lead was made.
        lead: The lead, or None when none was asked for.
    """

    member: CampaignMember
    lead: Lead | None


class Campaigns(_Service[Campaign]):
    """Campaign commands and queries of one unit of work (``uow.campaigns``)."""

    _type = CAMPAIGNS

    def plan(
        self,
        name: str,
        type: CampaignType | str,
        *,
        currency: str,
        owner_id: str | None = None,
        parent_id: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
        budget: Money | None = None,
        expected_revenue: Money | None = None,
        idempotency_key: str | None = None,
    ) -> Campaign:
        """Plan a campaign (owned by the acting user unless ``owner_id`` says otherwise)."""
        earlier = self._earlier(idempotency_key)
        if earlier is not None:
            return earlier
        if parent_id is not None:
            self.get(check_id(parent_id, "parent_id"))
        campaign, event = Campaign.plan(
            self._uow.new_id(),
            name,
            type,
            self._uow.principal.id if owner_id is None else owner_id,
            self._uow.stamp(),
            currency=currency,
            parent_id=parent_id,
            starts_on=starts_on,
            ends_on=ends_on,
            budget=budget,
            expected_revenue=expected_revenue,
        )
        return self._uow.save(CAMPAIGNS, campaign, event, idempotency_key=idempotency_key)

    def _run(
        self, id: str, command: Callable[[Campaign], tuple[Campaign, DomainEvent]]
    ) -> Campaign:
        campaign, event = command(self.get(id))
        return self._uow.save(CAMPAIGNS, campaign, event)

    def activate(self, id: str) -> Campaign:
        """Start the campaign."""
        return self._run(id, lambda c: c.activate(self._uow.stamp()))

    def pause(self, id: str) -> Campaign:
        """Pause an active campaign."""
        return self._run(id, lambda c: c.pause(self._uow.stamp()))

    def resume(self, id: str) -> Campaign:
        """Resume a paused campaign."""
        return self._run(id, lambda c: c.resume(self._uow.stamp()))

    def complete(self, id: str) -> Campaign:
        """Finish the campaign."""
        return self._run(id, lambda c: c.complete(self._uow.stamp()))

    def abort(self, id: str, reason: str) -> Campaign:
        """Stop the campaign for good, saying why."""
        return self._run(id, lambda c: c.abort(reason, self._uow.stamp()))

    def record_cost(self, id: str, amount: Money) -> Campaign:
        """Add ``amount`` to what the campaign has cost."""
        return self._run(id, lambda c: c.record_cost(amount, self._uow.stamp()))

    def update(
        self,
        id: str,
        *,
        name: str | None = None,
        starts_on: date | None = None,
        ends_on: date | None = None,
        budget: Money | None = None,
        expected_revenue: Money | None = None,
    ) -> Campaign:
        """Change the given fields."""
        return self._run(
            id,
            lambda c: c.update(
                self._uow.stamp(),
                name=name,
                starts_on=starts_on,
                ends_on=ends_on,
                budget=budget,
                expected_revenue=expected_revenue,
            ),
        )

    def children(self, id: str) -> tuple[Campaign, ...]:
        """The campaigns whose parent is ``id``."""
        self.get(id)
        return tuple(self._uow.find_all(CAMPAIGNS, (Eq("parent_id", id),)))

    # --- audience ----------------------------------------------------------------------

    def target(
        self, id: str, *, contact_ids: Iterable[str] = (), lead_ids: Iterable[str] = ()
    ) -> tuple[CampaignMember, ...]:
        """Add contacts and leads to the campaign; those already in it are left as they are.

        Returns the members added.
        """
        campaign = self.get(id)
        if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.ABORTED):
            raise ValidationError("campaign_id", f"is {campaign.status.value}", campaign.id)
        added: list[CampaignMember] = []
        for index, raw in enumerate(items(contact_ids, "contact_ids")):
            contact = self._uow.get(CONTACTS, check_id(raw, f"contact_ids[{index}]"))
            self._add(campaign, f"{campaign.id}:{contact.id}", added, contact_id=contact.id)
        for index, raw in enumerate(items(lead_ids, "lead_ids")):
            lead = self._uow.get(LEADS, check_id(raw, f"lead_ids[{index}]"))
            self._add(campaign, f"{campaign.id}:lead:{lead.id}", added, lead_id=lead.id)
        return tuple(added)

    def _add(self, campaign: Campaign, key: str, added: list[CampaignMember], **who: str) -> None:
        if self._member(key) is None:
            member, event = CampaignMember.target(
                self._uow.new_id(), campaign.id, self._uow.stamp(), **who
            )
            added.append(self._uow.save(MEMBERS, member, event))

    def _member(self, key: str) -> CampaignMember | None:
        for member in self._uow.staged(MEMBERS):
            if MEMBERS.index(member)["member_key"] == key:
                return member
        found = self._uow.find(MEMBERS, (Eq("member_key", key),), limit=1)
        return found.items[0] if found.items else None

    def members(self, id: str, *, status: MemberStatus | str | None = None) -> list[CampaignMember]:
        """The campaign's members (optionally of one status), committed ones first."""
        self.get(id)
        where: tuple[Eq, ...] = (Eq("campaign_id", id),)
        if status is not None:
            where += (Eq("status", _to_status(status).value),)
        found = {m.id: m for m in self._uow.find_all(MEMBERS, where)}
        for member in self._uow.staged(MEMBERS):
            if member.campaign_id == id and (status is None or member.status == status):
                found[member.id] = member
        return list(found.values())

    # --- sending -----------------------------------------------------------------------

    def send(
        self,
        id: str,
        template: Template,
        *,
        channel: str = "email",
        list_id: str | None = None,
        data: Callable[[CampaignMember], Mapping[str, str]] | None = None,
        not_before: datetime | None = None,
        limit: int = 500,
    ) -> SendReport:
        """Send the campaign to up to ``limit`` targeted members, through the notifier.

        A member is refused (and stays targeted) when the contact is
        suppressed, hard-bounced, unsubscribed from all marketing, from
        ``list_id`` or from this campaign, or has not granted marketing
        consent for ``channel``; lead members are refused, since leads keep
        no consent ledger (convert them first). ``data`` gives per-member
        template fields such as a coupon code. Each message's key is
        ``campaign:<campaign>:<member>``, so a member is sent to once.
        """
        campaign = self.get(id)
        if campaign.status is not CampaignStatus.ACTIVE:
            raise ValidationError("campaign_id", "must be active to send", campaign.status.value)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValidationError("limit", "must be 1 to 10000", limit)
        wanted = as_channel(channel)
        sent: list[CampaignMember] = []
        refused: list[tuple[str, str]] = []
        for member in self.members(id, status=MemberStatus.TARGETED)[:limit]:
            if member.contact_id is None:
                refused.append((member.id, "lead_without_consent"))
                continue
            recipient = self._uow.audiences.recipient(member.contact_id)
            reasons = refusals(recipient, wanted, list_id=list_id, campaign_id=campaign.id)
            if reasons:
                refused.append((member.id, reasons[0].value))
                continue
            metadata = {"campaign_id": campaign.id, **({"list_id": list_id} if list_id else {})}
            outcome = self._uow.notifications.send(
                channel=wanted.value,
                purpose="marketing",
                key=f"campaign:{campaign.id}:{member.id}",
                party_id=member.contact_id,
                template=template,
                data={} if data is None else data(member),
                metadata=metadata,
                not_before=not_before,
            )
            if isinstance(outcome, Refusal):
                refused.append((member.id, outcome.reason))
                continue
            done, event = member.send(self._uow.stamp())
            sent.append(self._uow.save(MEMBERS, done, event))
        return SendReport(tuple(sent), tuple(refused))

    # --- results -----------------------------------------------------------------------

    def revenue_won(
        self, id: str, model: AttributionModel | str = AttributionModel.LAST_TOUCH
    ) -> Money:
        """Revenue credited to the campaign under ``model``, in its currency."""
        campaign = self.get(id)
        chosen = _to_model(model)
        total = Money.zero(campaign.currency)
        for credit in self._uow.find_all(CREDITS, (Eq("campaign_ids", campaign.id),)):
            amount = credit.credited(campaign.id, chosen)
            if amount is not None and amount.currency == campaign.currency:
                total = total + amount
        return total

    def results(
        self, id: str, model: AttributionModel | str = AttributionModel.LAST_TOUCH
    ) -> CampaignResults:
        """Sent, delivered, responded, converted, cost per lead, revenue won and ROI."""
        campaign = self.get(id)
        return results(campaign, self.members(id), self.revenue_won(id, model))


class Members(_Service[CampaignMember]):
    """What campaign members did (``uow.members``)."""

    _type = MEMBERS

    def _save(self, pair: tuple[CampaignMember, DomainEvent]) -> CampaignMember:
        return self._uow.save(MEMBERS, pair[0], pair[1])

    def of(
        self, campaign_id: str, contact_id: str | None = None, *, lead_id: str | None = None
    ) -> CampaignMember:
        """The member of ``campaign_id`` for ``contact_id`` (or ``lead_id``); `NotFound` if none."""
        check_id(campaign_id, "campaign_id")
        if (contact_id is None) == (lead_id is None):
            raise ValidationError("contact_id", "exactly one of contact_id and lead_id is needed")
        who = (
            check_id(contact_id, "contact_id")
            if contact_id is not None
            else f"lead:{check_id(lead_id, 'lead_id')}"
        )
        key = f"{campaign_id}:{who}"
        found = self._uow.campaigns._member(key)
        if found is None:
            raise NotFound("campaign_member", key)
        return found

    def respond(
        self,
        id: str,
        channel: ResponseChannel | str,
        *,
        note: str | None = None,
        lead: LeadInput | bool | None = True,
    ) -> Response:
        """Record a response; unless ``lead=False``, capture a lead from it and convert the member.

        The lead comes from ``lead`` when a `LeadInput` is given, else from the
        member's contact (name, email, phone, company of the primary account);
        its source names the campaign either way. A lead member is converted
        to its own lead.
        """
        member = self._save(self.get(id).respond(channel, self._uow.stamp(), note=note))
        if lead is False:
            return Response(member, None)
        if member.lead_id is not None:
            made = self._uow.get(LEADS, member.lead_id)
        else:
            data = lead if isinstance(lead, LeadInput) else self._lead_input(member)
            if data.source.campaign_id != member.campaign_id:
                data = attrs.evolve(
                    data, source=attrs.evolve(data.source, campaign_id=member.campaign_id)
                )
            made = self._uow.leads.capture(data)
        member = self._save(member.convert(made.id, self._uow.stamp()))
        return Response(member, made)

    def _lead_input(self, member: CampaignMember) -> LeadInput:
        assert member.contact_id is not None
        contact = self._uow.get(CONTACTS, member.contact_id)
        primary = sorted(contact.accounts, key=lambda role: not role.primary)
        company = self._uow.get(ACCOUNTS, primary[0].account_id).name if primary else None
        return from_campaign_response(
            member.campaign_id,
            email=contact.email,
            first_name=contact.first_name,
            last_name=contact.last_name,
            phone=contact.phones[0] if contact.phones else None,
            company=company,
        )

    def opt_out(self, id: str) -> CampaignMember:
        """The member asks to hear no more from this campaign: it unsubscribes the contact too."""
        member = self._save(self.get(id).opt_out(self._uow.stamp()))
        if member.contact_id is not None:
            self._uow.audiences.unsubscribe(member.contact_id, "campaign", ref=member.campaign_id)
        return member

    def bounce(self, id: str, kind: BounceKind | str) -> CampaignMember:
        """A send bounced; a hard bounce stops all marketing to the contact's address."""
        member = self._save(self.get(id).bounce(kind, self._uow.stamp()))
        if member.bounce_kind is BounceKind.HARD and member.contact_id is not None:
            self._uow.audiences.hard_bounce(member.contact_id)
        return member


# --- attribution ---------------------------------------------------------------------------


def _touches(uow: UnitOfWork, contact_ids: tuple[str, ...], lead_id: str | None) -> list[Touch]:
    wheres = [(Eq("contact_id", c),) for c in contact_ids]
    if lead_id is not None:
        wheres += [(Eq("lead_id", lead_id),), (Eq("converted_lead_id", lead_id),)]
    seen: dict[str, CampaignMember] = {}
    for where in wheres:
        for member in uow.find_all(MEMBERS, where):
            seen.setdefault(member.id, member)
    for member in uow.staged(MEMBERS):
        by_lead = lead_id is not None and lead_id in (member.lead_id, member.converted_lead_id)
        if member.contact_id in contact_ids or by_lead:
            seen[member.id] = member
    touches = {
        (m.campaign_id, m.responded_at): Touch(m.campaign_id, m.responded_at)
        for m in seen.values()
        if m.responded_at is not None
    }
    if lead_id is not None:
        # The campaign the lead was captured from is a touch, unless a member's response of
        # that campaign made the lead: then it is that same touch, already counted.
        lead = uow.get_or_none(LEADS, lead_id)
        source = None if lead is None else lead.source.campaign_id
        made_by = {m.campaign_id for m in seen.values() if m.converted_lead_id == lead_id}
        if lead is not None and source is not None and source not in made_by:
            touches.setdefault((source, lead.created_at), Touch(source, lead.created_at))
    return list(touches.values())


def credit_won_deal(event: DomainEvent, uow: UnitOfWork) -> None:
    """Credit a won deal's revenue to the campaigns that touched its buyer; count the purchase."""
    assert isinstance(event, OpportunityWon)
    deal = uow.get(OPPORTUNITIES, event.aggregate_id)
    old = uow.get_or_none(CREDITS, deal.id)
    touches = _touches(uow, deal.contact_ids, deal.lead_id)
    credit = DealCredit.of(
        deal.id, 1 if old is None else old.version + 1, event.occurred_at, deal.amount, touches
    )
    uow.save(CREDITS, credit)
    for contact_id in deal.contact_ids:
        add_purchase(uow, contact_id, event.occurred_at, deal.amount)


def void_reopened_deal(event: DomainEvent, uow: UnitOfWork) -> None:
    """A won deal was reopened: its credits stop counting and its purchase is taken back."""
    old = uow.get_or_none(CREDITS, event.aggregate_id)
    if old is None or old.void:
        return
    uow.save(CREDITS, attrs.evolve(old, version=old.version + 1, void=True))
    deal = uow.get(OPPORTUNITIES, event.aggregate_id)
    for contact_id in deal.contact_ids:
        add_purchase(uow, contact_id, old.won_at, -old.revenue)


CREDIT_PROJECTIONS: tuple[tuple[type[DomainEvent], Any], ...] = (
    (OpportunityWon, credit_won_deal),
    (OpportunityReopened, void_reopened_deal),
)
"""The handlers that keep campaign credits and purchase facts in step (always run)."""
