"""The ``crmkit`` command: ``crmkit demo`` and ``crmkit diagram NAME``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from crmkit._demo_marketing import build_marketing
from crmkit._demo_sales import build_sales
from crmkit._demo_service import build_service
from crmkit.activities.activity import ACTIVITY_LIFECYCLE, ActivityKind, RecordRef
from crmkit.app.crm import Crm, open as open_crm
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.errors import CrmError
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.lifecycle import Lifecycle
from crmkit.kernel.principal import Principal
from crmkit.marketing.campaign import CAMPAIGN_LIFECYCLE
from crmkit.marketing.member import MEMBER_LIFECYCLE
from crmkit.parties.account import ACCOUNT_LIFECYCLE
from crmkit.parties.contact import CONTACT_LIFECYCLE
from crmkit.parties.merge_record import MERGE_LIFECYCLE
from crmkit.parties.values import Address, Email, Phone
from crmkit.ports.query import Eq
from crmkit.sales.contract import CONTRACT_LIFECYCLE
from crmkit.sales.lead import LEAD_LIFECYCLE
from crmkit.sales.opportunity import OPPORTUNITY_LIFECYCLE
from crmkit.sales.product import PRODUCT_LIFECYCLE
from crmkit.sales.quote import QUOTE_LIFECYCLE
from crmkit.service.case import CASE_LIFECYCLE
from crmkit.service.complaint import COMPLAINT_LIFECYCLE
from crmkit.service.knowledge import ARTICLE_LIFECYCLE

LIFECYCLES: dict[str, Lifecycle[Any]] = {
    "account": ACCOUNT_LIFECYCLE,
    "activity": ACTIVITY_LIFECYCLE,
    "article": ARTICLE_LIFECYCLE,
    "campaign": CAMPAIGN_LIFECYCLE,
    "campaign_member": MEMBER_LIFECYCLE,
    "case": CASE_LIFECYCLE,
    "complaint": COMPLAINT_LIFECYCLE,
    "contact": CONTACT_LIFECYCLE,
    "contract": CONTRACT_LIFECYCLE,
    "lead": LEAD_LIFECYCLE,
    "merge": MERGE_LIFECYCLE,
    "opportunity": OPPORTUNITY_LIFECYCLE,
    "product": PRODUCT_LIFECYCLE,
    "quote": QUOTE_LIFECYCLE,
}
"""The lifecycles ``crmkit diagram`` knows, by name."""

DEFAULT_DEMO_DB = "crmkit-demo.db"
"""Where ``crmkit demo`` writes its SQLite file, relative to the current directory."""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="crmkit", description="crmkit, a CRM domain library.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build a small company in SQLite and show a customer")
    demo.add_argument(
        "--db", default=DEFAULT_DEMO_DB, help=f"SQLite file (default {DEFAULT_DEMO_DB})"
    )
    demo.add_argument("--replace", action="store_true", help="replace the file if it exists")
    diagram = commands.add_parser("diagram", help="print a lifecycle as a Mermaid state diagram")
    diagram.add_argument("name", choices=sorted(LIFECYCLES))
    args = parser.parse_args(argv)
    try:
        if args.command == "diagram":
            print(LIFECYCLES[args.name].to_mermaid(), file=out)
            return 0
        return run_demo(Path(args.db), replace=args.replace, out=out)
    except CrmError as exc:
        print(f"crmkit: {exc}", file=sys.stderr)
        return 1


def run_demo(path: Path, *, replace: bool = False, out: TextIO) -> int:
    """Build the demo company in the SQLite file at ``path`` and print one customer's view."""
    if path.exists():
        if not replace:
            print(f"crmkit: {path} exists; pass --replace to overwrite it", file=sys.stderr)
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    # A fixed, ticking clock makes the demo's output the same on every run.
    clock = FakeClock(datetime(2026, 3, 2, 8, 30, tzinfo=UTC), tick=timedelta(minutes=7))
    with open_crm(f"sqlite:///{path}", clock=clock, ids=SequentialIds("demo")) as crm:
        account_id = _build_company(crm)
        _print_view(crm, account_id, out)
        build_sales(crm, account_id, out)
        build_service(crm, account_id, clock, out)
        build_marketing(crm, account_id, clock, out)
    print(f"\nThe demo data is in {path.resolve()}", file=out)
    return 0


def _build_company(crm: Crm) -> str:
    anna = Principal("u-anna", roles={"sales_rep"})
    with crm.unit_of_work(anna) as uow:
        acme = uow.accounts.create(
            "ACME Maschinenbau GmbH",
            website="https://acme.example",
            industry="Manufacturing",
            addresses=[Address(["Hafenstraße 12"], "Hamburg", "DE", postal_code="20457")],
            owner_id=anna.id,
            tags=["key account", "manufacturing"],
        )
        globex = uow.accounts.create("Globex Ltd", industry="Logistics", tags=["prospect"])
        bob = uow.contacts.create(
            "Berg",
            first_name="Bob",
            title="Head of Purchasing",
            emails=[Email("bob.berg@acme.example")],
            phones=[Phone("+49 40 1234 5678")],
            account_id=acme.id,
            role="buyer",
            time_zone="Europe/Berlin",
        )
        cleo = uow.contacts.create(
            "Chen",
            first_name="Cleo",
            title="CFO",
            emails=[Email("cleo.chen@acme.example")],
            account_id=acme.id,
            role="decision maker",
        )
        uow.contacts.create(
            "Diaz",
            first_name="Dana",
            emails=[Email("dana@globex.example")],
            account_id=globex.id,
            role="operations",
        )
        uow.contacts.record_consent(bob.id, "email", "marketing", granted=True, source="web form")
    with crm.unit_of_work(anna) as uow:
        about_bob = [RecordRef("contact", bob.id)]
        uow.activities.log(
            ActivityKind.CALL,
            "Discovery call: spare parts",
            about_bob,
            duration_minutes=25,
            direction="outbound",
            body="Needs quotes for 40 pumps per quarter.",
        )
        uow.activities.log(
            ActivityKind.EMAIL,
            "Product sheet sent",
            about_bob,
            direction="outbound",
            message_id="<sheet-1@crmkit.example>",
        )
        meeting = uow.activities.plan(
            ActivityKind.MEETING,
            "On-site visit in Hamburg",
            [RecordRef("contact", cleo.id)],
            due_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
        )
        uow.activities.log(
            ActivityKind.NOTE, "Budget approved for Q2", [RecordRef("account", acme.id)]
        )
    with crm.unit_of_work(anna) as uow:
        uow.activities.complete(meeting.id, outcome="Walked the plant; pilot order likely.")
        uow.contacts.record_consent(
            bob.id, "email", "marketing", granted=False, source="unsubscribe link"
        )
    return acme.id


def _print_view(crm: Crm, account_id: str, out: TextIO) -> None:
    viewer = Principal("u-anna")
    with crm.unit_of_work(viewer) as uow:
        account = uow.accounts.get(account_id)
        contacts = uow.contacts.find(Eq("account_ids", account_id))
        print(f"360-degree view of {account.name}", file=out)
        print(f"  industry: {account.industry}   tags: {', '.join(account.tags)}", file=out)
        print(f"  owner: {account.owner_id}   website: {account.website}", file=out)
        print("\nContacts", file=out)
        for contact in contacts:
            role = next(r.role for r in contact.accounts if r.account_id == account_id)
            email = contact.email.address if contact.email else "-"
            consent = contact.consent_for("email", "marketing")
            print(
                f"  {contact.name:<12} {role:<15} {email:<26} marketing email: {consent}", file=out
            )
    print("\nTimeline (newest first)", file=out)
    cursor: str | None = None
    while True:
        page = crm.timeline(account_id, viewer, limit=5, cursor=cursor)
        for entry in page:
            print(f"  {entry.occurred_at:%Y-%m-%d %H:%M}  {entry.summary}", file=out)
        cursor = page.next_cursor
        if cursor is None:
            break
