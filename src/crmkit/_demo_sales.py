"""The sales part of ``crmkit demo``: leads in, one converted, quoted, accepted and contracted."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import TextIO

from crmkit.app.crm import Crm
from crmkit.kernel.money import Money
from crmkit.kernel.principal import Principal
from crmkit.ports.query import Eq
from crmkit.sales.pricing import TaxRate

_CSV = """first_name,last_name,email,company,country
Dana,Diaz,dana@globex.example,Globex Ltd,GB
Eve,Ernst,eve.ernst@initech.example,Initech AG,DE
Frank,Fox,not-an-email,Fox & Co,US
Dana,Diaz,Dana@Globex.example,Globex Ltd,GB
"""

_BANT = {"budget": "60000", "authority": "decision_maker", "need": "pumps", "timeline": "now"}


def build_sales(crm: Crm, account_id: str, out: TextIO) -> None:
    """Run the sales story on the demo company and print what it made."""
    anna = Principal("u-anna", roles={"sales_rep"})
    max_ = Principal("u-max", roles={"sales_manager"})
    with crm.unit_of_work(anna) as uow:
        imported = uow.leads.import_csv(_CSV)
        web = uow.leads.capture_web_form(
            {
                "firstname": "Cleo",
                "lastname": "Chen",
                "email": "cleo.chen@acme.example",
                "company": "ACME Maschinenbau GmbH",
                "title": "CFO",
                "utm_source": "trade-fair",
            }
        )
        uow.leads.work(web.id)
        score = uow.leads.score(web.id)
        uow.leads.qualify(web.id, **_BANT)
    with crm.unit_of_work(anna) as uow:
        # Cleo is already a contact at ACME: conversion links both and fills only gaps.
        conversion = uow.leads.convert(
            web.id, amount=Money.of("9600", "EUR"), close_date=date(2026, 4, 30)
        )
        deal = conversion.opportunity
        assert deal is not None
        uow.opportunities.move(deal.id, "proposal")
        uow.opportunities.open(
            "Globex: fleet pumps",
            amount=Money.of("25000", "EUR"),
            close_date=date(2026, 6, 30),
            stage="qualification",
        )
        plan = uow.products.create(
            "MAINT-PUMP",
            "Pump maintenance plan",
            unit="pump",
            recurring="monthly",
            tax=TaxRate("DE-19", Decimal("0.19")),
        )
        prices = uow.price_lists.create("Germany", "EUR")
        uow.price_lists.set_price(prices.id, plan.id, Money.of("300.00", "EUR"))
        quote = uow.quotes.draft(
            conversion.account.id,
            "EUR",
            lines=[uow.price_lists.line(prices.id, plan.id, 40, discount=20)],
            contact_id=conversion.contact.id,
            opportunity_id=deal.id,
        )
        uow.quotes.submit(quote.id)
    with crm.unit_of_work(max_) as uow:
        uow.quotes.approve(quote.id)
        uow.quotes.present(quote.id)
        uow.quotes.accept(quote.id)
        uow.opportunities.win(deal.id)
    with crm.unit_of_work(anna) as uow:
        contract = uow.contracts.find(Eq("quote_id", quote.id)).items[0]
        uow.contracts.send(contract.id)
        contract = uow.contracts.sign(contract.id)
        deals = uow.opportunities.find(limit=100).items
        duplicates = uow.duplicates.scan("lead")

    print("\nSales", file=out)
    bad = imported.rejected[0]
    print(
        f"  CSV import: {len(imported.leads)} leads, {len(imported.rejected)} row rejected"
        f" (line {bad.line}: {bad.error})",
        file=out,
    )
    print(f"  duplicate leads found: {len(duplicates.clusters)} cluster(s)", file=out)
    print(f"  web lead Cleo Chen scored {score.value}: {'; '.join(score.explain())}", file=out)
    linked = "linked" if not conversion.new_contact else "created"
    print(f"  converted: contact {linked}, account {conversion.account.name}", file=out)
    by_stage = Counter(d.stage for d in deals)
    print(f"  pipeline: {dict(sorted(by_stage.items()))}", file=out)
    totals = quote.totals
    print(
        f"  quote {quote.number}: {totals.subtotal} less {totals.discount} plus {totals.tax} tax"
        f" = {totals.total}, approved by {max_.id}",
        file=out,
    )
    print(
        f"  contract {contract.number}: {contract.status}, {contract.amount}"
        f" {contract.billing_period} from {contract.start_date} to {contract.end_date},"
        f" up for renewal from {contract.notice_from}",
        file=out,
    )
