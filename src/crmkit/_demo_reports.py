"""The last part of ``crmkit demo``: the open pipeline by stage and the campaign's ROI."""

from __future__ import annotations

from typing import TextIO

from crmkit._tables import cell_text, report_text
from crmkit.adapters.fixed_rates import FixedRates
from crmkit.app.crm import Crm
from crmkit.kernel.principal import Principal


def print_reports(crm: Crm, out: TextIO) -> None:
    """Print the demo's open pipeline by stage and one line per campaign's ROI."""
    max_ = Principal("u-max", roles={"sales_manager"})
    with crm.unit_of_work(max_) as uow:
        # Every demo deal is in euros: no exchange rate is needed.
        pipeline = uow.reports.pipeline(currency="EUR", rates=FixedRates())
        campaigns = uow.reports.campaigns()
    print("\nReports (see `crmkit report --help`)", file=out)
    print("  Open pipeline by stage", file=out)
    for line in report_text(pipeline, ("stage", "count", "amount", "weighted")).splitlines():
        print(f"  {line}", file=out)
    for row in campaigns.rows:
        print(
            f"  campaign {row.name!r}: cost {row.cost}, revenue won {row.revenue_won},"
            f" ROI {cell_text(row.roi)}",
            file=out,
        )
