"""From lead to contract: one customer through the whole sales process, in a SQLite file.

Run it with ``python examples/lead_to_contract.py [PATH]``; it writes
``lead_to_contract.db`` in a temporary directory unless given a path. The
tutorial "From lead to contract" in the docs walks through the same steps.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import crmkit
from crmkit import Eq, FakeClock, Money, Principal
from crmkit.sales.pricing import TaxRate

BANT = {"budget": "50000", "authority": "decision_maker", "need": "pumps", "timeline": "now"}


def main(path: Path) -> None:
    """Capture, qualify and convert a lead, quote, approve, accept, sign and renew."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=timedelta(minutes=5))
    rep = Principal("u-anna", roles={"sales_rep"})
    manager = Principal("u-max", roles={"sales_manager"})
    with crmkit.open(f"sqlite:///{path}", clock=clock) as crm:
        with crm.unit_of_work(rep) as uow:
            lead = uow.leads.capture_web_form(
                {
                    "firstname": "Bob",
                    "lastname": "Berg",
                    "email": "bob.berg@acme.example",
                    "company": "ACME Maschinenbau GmbH",
                    "utm_source": "newsletter",
                }
            )
            uow.leads.work(lead.id)
            score = uow.leads.score(lead.id)
            uow.leads.qualify(lead.id, **BANT)
        print(f"lead {lead.name} ({lead.company}) scored {score.value}: {score.explain()}")

        with crm.unit_of_work(rep) as uow:
            conversion = uow.leads.convert(
                lead.id, amount=Money.of("9600", "EUR"), close_date=date(2026, 4, 30)
            )
            deal = conversion.opportunity
            assert deal is not None
            uow.opportunities.move(deal.id, "proposal")
            plan = uow.products.create(
                "MAINT-PUMP",
                "Pump maintenance plan",
                recurring="monthly",
                tax=TaxRate("DE-19", Decimal("0.19")),
            )
            prices = uow.price_lists.create("Germany", "EUR")
            uow.price_lists.set_price(prices.id, plan.id, Money.of("300.00", "EUR"))
            line = uow.price_lists.line(prices.id, plan.id, quantity=40, discount=20)
            quote = uow.quotes.draft(
                conversion.account.id,
                "EUR",
                lines=[line],
                contact_id=conversion.contact.id,
                opportunity_id=deal.id,
            )
            uow.quotes.submit(quote.id)
        print(
            f"converted into {conversion.account.name}; quote {quote.number}: {quote.totals.total}"
        )

        with crm.unit_of_work(manager) as uow:
            uow.quotes.approve(quote.id)
            uow.quotes.present(quote.id)
            uow.quotes.accept(quote.id)
            uow.opportunities.win(deal.id)
        with crm.unit_of_work(rep) as uow:
            contract = uow.contracts.find(Eq("quote_id", quote.id)).items[0]
            uow.contracts.send(contract.id)
            contract = uow.contracts.sign(contract.id)
        first = [bill.date.isoformat() for bill in contract.bills()[:3]]
        print(f"contract {contract.number}: {contract.amount} a month, bills {first} ...")

        clock.advance(timedelta(days=280))
        with crm.unit_of_work(rep) as uow:
            flagged = uow.contracts.run_due()
            successor = uow.contracts.renew(contract.id)
        print(f"{len(flagged)} contract up for renewal; renewed from {successor.start_date}")

        print("\nThe account's timeline, newest first:")
        for entry in crm.timeline(conversion.account.id, rep, limit=8):
            print(f"  {entry.occurred_at:%Y-%m-%d %H:%M}  {entry.summary}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "lead_to_contract.db")
