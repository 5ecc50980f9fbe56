"""The ``crmkit`` command: ``demo``, ``diagram``, ``report``, ``import`` and ``export``."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crmkit._cli_csv import add_parsers as add_csv_parsers, run_export, run_import
from crmkit._demo_marketing import build_marketing
from crmkit._demo_rep_day import build_rep_day
from crmkit._demo_reports import print_reports
from crmkit._demo_sales import build_sales
from crmkit._demo_service import build_service
from crmkit._tables import report_text
from crmkit.activities.activity import ACTIVITY_LIFECYCLE, ActivityKind, RecordRef
from crmkit.adapters.fixed_rates import FixedRates, Rate
from crmkit.analytics.report import to_json
from crmkit.analytics.sales_pipeline import PipelineReport
from crmkit.app.crm import Crm, open as open_crm
from crmkit.charts import forecast_bars, pipeline_funnel, rfm_grid, sla_trend
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.errors import CrmError, ValidationError
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

if TYPE_CHECKING:
    from crmkit.app.unit_of_work import UnitOfWork

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
    _add_report_parser(commands)
    add_csv_parsers(commands)
    args = parser.parse_args(argv)
    if args.command == "report":
        return run_report(args, out)
    if args.command in ("import", "export"):
        return (run_import if args.command == "import" else run_export)(args, out)
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
        print_reports(crm, out)
        build_rep_day(crm, account_id, clock, out)
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


# --- crmkit report -----------------------------------------------------------------------

REPORTS = ("pipeline", "forecast", "rfm", "sla", "campaigns")
"""The reports ``crmkit report`` runs, by name."""

CHARTS: dict[str, Callable[[Any, str], Path]] = {
    "pipeline": pipeline_funnel,
    "forecast": forecast_bars,
    "rfm": rfm_grid,
    "sla": sla_trend,
}
"""The reports ``crmkit report --chart`` can draw, with their chart."""

READER = Principal("cli-report", roles={"report_reader"})
"""The principal ``crmkit report`` reads as; it never writes."""


def _add_report_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="print a report on a store as a table or JSON (optionally draw it)"
    )
    report.add_argument("name", choices=REPORTS)
    report.add_argument(
        "--db", required=True, metavar="URL", help="the store, e.g. sqlite:///crm.db"
    )
    report.add_argument("--currency", default="EUR", help="the reporting currency (default EUR)")
    report.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="SRC:DST=RATE",
        help="an exchange rate, e.g. USD:EUR=0.92 (repeat for more)",
    )
    report.add_argument("--by", help="pipeline only: stage, owner and/or period (default stage)")
    report.add_argument(
        "--period",
        help="month or quarter (pipeline, forecast); week, month, quarter or year (sla)",
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument(
        "--chart", metavar="PATH", help="also draw the report into PATH (.png or .svg)"
    )


def parse_rates(texts: Sequence[str]) -> FixedRates:
    """Exchange rates from ``SRC:DST=RATE`` texts, for example ``USD:EUR=0.92``."""
    rows: list[Rate] = []
    for text in texts:
        pair, equals, rate = text.partition("=")
        source, colon, target = pair.partition(":")
        if not (equals and colon and source and target and rate):
            raise ValidationError("--rate", "must look like USD:EUR=0.92", text)
        rows.append(Rate(source.strip(), target.strip(), rate.strip()))
    return FixedRates(rows)


def _check_url(url: str) -> str:
    # Opening a SQLite URL creates a missing file: a report must not.
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ValidationError("--db", "no such SQLite file", str(path))
    return url


def _run(uow: UnitOfWork, args: argparse.Namespace, rates: FixedRates) -> object:
    if args.by is not None and args.name != "pipeline":
        raise ValidationError("--by", "applies to the pipeline report only", args.by)
    if args.name == "pipeline":
        by = tuple(part.strip() for part in (args.by or "stage").split(","))
        return uow.reports.pipeline(
            currency=args.currency, rates=rates, by=by, period=args.period or "month"
        )
    if args.name == "forecast":
        return uow.reports.forecast(
            currency=args.currency, rates=rates, period=args.period or "quarter"
        )
    if args.name == "rfm":
        return uow.reports.rfm(currency=args.currency)
    if args.name == "sla":
        return uow.reports.sla(period=args.period)
    return uow.reports.campaigns()


def _columns(report: object) -> tuple[str, ...] | None:
    # A pipeline shows the columns it was grouped by, even where all are None (unowned).
    if isinstance(report, PipelineReport):
        return (*(d.value for d in report.by), "count", "amount", "weighted")
    return None


def run_report(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``crmkit report``; a bad input prints one line to stderr and returns 2."""
    try:
        rates = parse_rates(args.rate)
        if args.chart is not None and args.name not in CHARTS:
            raise ValidationError("--chart", f"the {args.name} report has no chart", args.chart)
        with open_crm(_check_url(args.db)) as crm, crm.unit_of_work(READER) as uow:
            report = _run(uow, args, rates)
        if args.chart is not None:
            CHARTS[args.name](report, args.chart)
    except (CrmError, OSError, sqlite3.Error) as exc:
        print(f"crmkit report: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.json:
        print(to_json(report), file=out)
    else:
        print(report_text(report, _columns(report)), file=out)
        if args.chart is not None:
            print(f"chart written to {args.chart}", file=out)
    return 0
