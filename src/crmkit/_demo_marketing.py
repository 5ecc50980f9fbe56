"""The marketing part of ``crmkit demo``: a segment, a campaign with coupons, a lead."""

from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.app.crm import Crm
from crmkit.app.dispatcher import Dispatcher
from crmkit.app.notifier import Template
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.money import Money
from crmkit.kernel.principal import Principal
from crmkit.marketing.member import CampaignMember
from crmkit.marketing.segment import AccountTag, Segment
from crmkit.parties.values import Email

_OFFER = Template(
    "Pump care for $first_name", "Hello $first_name, book a pump check with code $coupon."
)
_KEY_ACCOUNTS = Segment("seg-key", "Key-account contacts", AccountTag(("key account",)))


def build_marketing(crm: Crm, account_id: str, clock: FakeClock, out: TextIO) -> None:
    """Run the marketing story on the demo company and print what it made."""
    mia = Principal("u-mia", roles={"marketer"})
    with crm.unit_of_work(mia) as uow:
        for first, last in (("Gina", "Gross"), ("Hugo", "Hahn")):
            contact = uow.contacts.create(
                last,
                first_name=first,
                emails=[Email(f"{first.lower()}.{last.lower()}@acme.example")],
                account_id=account_id,
                role="maintenance",
            )
            uow.contacts.record_consent(
                contact.id, "email", "marketing", granted=True, source="trade fair"
            )
    # A segment reads committed profiles: target it in the next unit of work.
    with crm.unit_of_work(mia) as uow:
        names: dict[str, str] = {c.id: c.name for c in uow.contacts.find(limit=100).items}

        def coupon(member: CampaignMember) -> dict[str, str]:
            return {"coupon": f"CARE-{member.id.upper()}"}

        campaign = uow.campaigns.plan("Pump care week", "email", currency="EUR")
        uow.campaigns.activate(campaign.id)
        campaign = uow.campaigns.record_cost(campaign.id, Money.of("400", "EUR"))
        members = uow.campaigns.target(campaign.id, contact_ids=uow.segments.members(_KEY_ACCOUNTS))
        report = uow.campaigns.send(campaign.id, _OFFER, data=coupon)
    who: dict[str, str] = {m.id: names[m.contact_id or ""] for m in members}
    inbox = MemoryChannel("email")
    # The demo clock moves 7 minutes on every reading: a lease must outlast a few readings.
    delivered = Dispatcher(crm, [inbox], lease=timedelta(hours=1)).run_until_idle().delivered
    gina = next(m for m in report.sent if who[m.id].startswith("Gina"))
    clock.advance(timedelta(hours=2))  # Gina reads her mail
    with crm.unit_of_work(mia) as uow:
        response = uow.members.respond(gina.id, "web")
        results = uow.campaigns.results(campaign.id)
    assert response.lead is not None
    refused = ", ".join(f"{who[member_id]} ({reason})" for member_id, reason in report.refused)
    print("\nMarketing", file=out)
    print(
        f"  campaign {campaign.name!r} to segment {_KEY_ACCOUNTS.name!r}:"
        f" {len(members)} targeted, {len(report.sent)} sent",
        file=out,
    )
    print(f"  refused: {refused or 'none'}", file=out)
    offer = next(m for m in inbox.sent if m.key.startswith("campaign:"))
    print(f"  dispatcher delivered {delivered} message(s), e.g. {offer.text!r}", file=out)
    print(
        f"  {response.lead.name} responded on the web: lead {response.lead.status},"
        f" source {response.lead.source.channel}",
        file=out,
    )
    print(
        f"  results: {results.sent} sent, {results.delivered} delivered,"
        f" {results.responded} responded, {results.leads} lead(s),"
        f" cost per lead {results.cost_per_lead}",
        file=out,
    )
