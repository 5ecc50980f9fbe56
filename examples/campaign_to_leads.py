"""Run a campaign and turn responses into leads: segment, send, respond, win, measure, in SQLite.

Run it with ``python examples/campaign_to_leads.py [PATH]``; it writes
``campaign_to_leads.db`` in a temporary directory unless given a path. The
tutorial "Run a campaign and turn responses into leads" in the docs walks
through the same steps.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import crmkit
from crmkit import Address, Dispatcher, Email, FakeClock, Money, Principal, Template
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.marketing.journey import Journey
from crmkit.marketing.member import CampaignMember
from crmkit.marketing.segment import All, HasTags, InCountry, Segment
from crmkit.marketing.triggers import Birthday

BANT = {"budget": "50000", "authority": "decision_maker", "need": "pumps", "timeline": "now"}
# first name, last name, marketing consent given, time zone
PEOPLE = [
    ("Bob", "Berg", True, "Europe/Berlin"),
    ("Cleo", "Chen", True, "Europe/Berlin"),
    ("Dana", "Diaz", False, "Europe/Berlin"),
    ("Eve", "Ernst", True, "Europe/Berlin"),
    ("Finn", "Fox", True, "America/New_York"),
]
READERS = Segment(
    "seg-news",
    "Newsletter readers in Germany",
    All((InCountry(("DE",)), HasTags(("newsletter",)))),
)
OFFER = Template(
    "Spring offer for $first_name",
    "Hello $first_name, take 10% off your next order with code $coupon.",
)
BIRTHDAY = Journey(
    "j-bday", "Birthday greeting", Birthday("09:00"), "greeting", list_id="birthdays"
)
GREETING = Template("Happy birthday, $first_name", "A gift from ACME: $gift")


def main(path: Path) -> None:
    """Segment, plan, send with coupons, deliver, respond, convert, win, attribute, journey."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    marketer = Principal("u-mia", roles={"marketer"})
    rep = Principal("u-anna", roles={"sales_rep"})
    inbox = MemoryChannel("email")
    with crmkit.open(f"sqlite:///{path}", clock=clock) as crm:
        dispatcher = Dispatcher(crm, [inbox])
        ids: dict[str, str] = {}
        with crm.unit_of_work(marketer) as uow:
            acme = uow.accounts.create("ACME Maschinenbau GmbH", industry="Manufacturing")
            for first, last, consent, zone in PEOPLE:
                contact = uow.contacts.create(
                    last,
                    first_name=first,
                    emails=[Email(f"{first.lower()}@acme.example")],
                    addresses=[Address(["Hafenstraße 12"], "Hamburg", "DE")],
                    account_id=acme.id,
                    tags=["newsletter"],
                    time_zone=zone,
                )
                if consent:
                    uow.contacts.record_consent(
                        contact.id, "email", "marketing", granted=True, source="web form"
                    )
                ids[first] = contact.id
            uow.audiences.suppress(ids["Eve"], "asked by phone")
        name = {contact_id: first for first, contact_id in ids.items()}

        def coupon(member: CampaignMember) -> dict[str, str]:
            assert member.contact_id is not None
            return {"coupon": f"SPRING-{name[member.contact_id].upper()}"}

        # Segments read committed profiles: target in a unit of work after the contacts'.
        with crm.unit_of_work(marketer) as uow:
            spring = uow.campaigns.plan(
                "Spring pump offer", "email", currency="EUR", budget=Money.of("2000", "EUR")
            )
            uow.campaigns.activate(spring.id)
            uow.campaigns.record_cost(spring.id, Money.of("600", "EUR"))
            members = uow.campaigns.target(spring.id, contact_ids=uow.segments.members(READERS))
            report = uow.campaigns.send(spring.id, OFFER, data=coupon)
        who = {member.id: name[member.contact_id or ""] for member in members}
        print(f"campaign {spring.name!r}: {len(members)} contacts targeted from the segment")
        print(f"  sent to {', '.join(who[m.id] for m in report.sent)}")
        for member_id, reason in report.refused:
            print(f"  refused {who[member_id]}: {reason}")
        delivered = dispatcher.run_until_idle().delivered
        print(f"dispatcher delivered {delivered}; first message: {inbox.sent[0].text!r}")

        clock.advance(timedelta(hours=3))
        with crm.unit_of_work(marketer) as uow:
            response = uow.members.respond(uow.members.of(spring.id, ids["Bob"]).id, "web")
            uow.members.opt_out(uow.members.of(spring.id, ids["Finn"]).id)
            uow.members.bounce(uow.members.of(spring.id, ids["Cleo"]).id, "hard")
        lead = response.lead
        assert lead is not None
        print(f"Bob responded: lead {lead.name} ({lead.company}), source {lead.source.channel}")
        print("Finn opted out of the campaign; Cleo's address hard-bounced")

        clock.advance(timedelta(days=2))
        with crm.unit_of_work(rep) as uow:
            uow.leads.work(lead.id)
            uow.leads.qualify(lead.id, **BANT)
            conversion = uow.leads.convert(
                lead.id, amount=Money.of("12000", "EUR"), close_date=date(2026, 4, 30)
            )
            assert conversion.opportunity is not None
            deal = uow.opportunities.win(conversion.opportunity.id)
        linked = "created" if conversion.new_contact else "linked"
        print(f"lead converted (contact Bob {linked}) and deal won: {deal.amount}")

        with crm.unit_of_work(marketer) as uow:
            linear = uow.campaigns.revenue_won(spring.id, "linear")
            results = uow.campaigns.results(spring.id)
        print(
            f"results: sent {results.sent}, delivered {results.delivered},"
            f" responded {results.responded}, leads {results.leads};"
            f" cost per lead {results.cost_per_lead}; revenue won {results.revenue_won}"
            f" (linear {linear}); ROI {results.roi}"
        )

        with crm.unit_of_work(marketer) as uow:
            uow.audiences.update(ids["Bob"], birthday=date(1984, 3, 5))
            uow.audiences.update(ids["Finn"], birthday=date(1979, 3, 6))
        with crm.unit_of_work(marketer) as uow:
            run = uow.journeys.run(
                [BIRTHDAY],
                {"greeting": GREETING},
                horizon=timedelta(days=7),
                segment=READERS,
                data=lambda send: {"gift": "free delivery"},
            )
        for send in run.queued:
            at = f"{send.at:%Y-%m-%d %H:%M} UTC"
            print(f"birthday greeting for {name[send.contact_id]} queued for {at}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "campaign_to_leads.db")
