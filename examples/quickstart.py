"""Quickstart: a CRM in a SQLite file, one customer, their 360-degree view.

Run it with ``python examples/quickstart.py [PATH]``; it writes ``quickstart.db``
in a temporary directory unless given a path.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import crmkit
from crmkit import ActivityKind, Email, Phone, Principal, RecordRef


def main(path: Path) -> None:
    """Create an account, a contact and a few interactions, then print the timeline."""
    rep = Principal("u-anna", roles={"sales_rep"})
    with crmkit.open(f"sqlite:///{path}") as crm:
        with crm.unit_of_work(rep) as uow:
            acme = uow.accounts.create("ACME GmbH", industry="Manufacturing", tags=["key"])
            bob = uow.contacts.create(
                "Berg",
                first_name="Bob",
                emails=[Email("bob@acme.example")],
                phones=[Phone("+49 30 1234567")],
                account_id=acme.id,
                role="buyer",
            )
            uow.contacts.record_consent(
                bob.id, "email", "marketing", granted=True, source="trade fair sign-up"
            )
            about_bob = [RecordRef("contact", bob.id)]
            uow.activities.log(ActivityKind.CALL, "Intro call", about_bob, duration_minutes=20)
            uow.activities.plan(
                ActivityKind.TASK,
                "Send the price list",
                about_bob,
                due_at=datetime.now(UTC) + timedelta(days=1),
            )
        for entry in crm.timeline(acme.id, rep):
            print(f"{entry.occurred_at:%Y-%m-%d %H:%M:%S}  {entry.summary}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "quickstart.db")
