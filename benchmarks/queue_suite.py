"""The ``queue`` suite: one rep's work queue (``uow.work_queue.today``) on SQLite (no peer).

A fresh subprocess builds a SQLite file (untimed): N contacts owned by 100
reps (a rep owns 1%), ten activities per contact (seven logged calls with
outcomes over the last ten weeks, two done tasks, one planned call or task due
within ten days either side of now), a lead per five contacts (a third of
them on a contact), a service case with an SLA clock per five contacts (some
at risk, some breached), a contract per ten contacts (ending within the next
five months) and channel preferences for one contact in ten. Records are
built from templates with ``_evolve`` (no validators rerun) and saved through
units of work of `BATCH` records, so the file is what crmkit writes.

Another fresh subprocess opens the file, builds one rep's queue once to warm
up, then times `RUNS` builds, each in its own unit of work, and reports the
median; its peak resident memory (`measure.peak_mb`) is the row's ``peak_mb``.
Then a subprocess runs SQLite's ``ANALYZE`` on the file, and a last one times
the queue again: the SQLite adapter never runs ``ANALYZE``, and without its
statistics SQLite answers ``owner_id = ? ORDER BY id LIMIT 500`` by walking the
primary key (whole tables) instead of the owner index. The two rows show both.

Run as a script (``python queue_suite.py --build CONTACTS PATH``,
``--analyze PATH`` or ``--time CONTACTS PATH``) it does one step and prints its
figures as JSON.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from measure import Row, peak_mb

SIZE = 100_000
"""Contacts of the full run (ten activities each: 1,000,000 activities)."""
QUICK_SIZE = 1_000
REPS = 100
"""Reps owning the contacts round robin: each owns 1%."""
REP = "u-007"
"""The rep whose queue is timed."""
BATCH = 10_000
"""Records saved per unit of work while building."""
RUNS = 7
"""Timed queue builds; the median is reported."""
LIMIT = 50
"""Items in the queue, as a rep's screen shows them."""
NOW = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
"""A Tuesday morning: the clock of both steps."""
ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo")
OUTCOMES = ("connected", "no_answer", "no_answer", "voicemail", "busy", "connected")


def _rep(i: int) -> str:
    return f"u-{i % REPS:03d}"


def _open(path: Path) -> Any:
    from crmkit.adapters.sqlite import SqliteStore
    from crmkit.app.crm import Crm
    from crmkit.kernel.clock import FixedClock
    from crmkit.kernel.ids import SequentialIds

    return Crm(SqliteStore(path), clock=FixedClock(NOW), ids=SequentialIds("e"))


def _templates() -> dict[str, Any]:
    """One validated record of each kind; the build copies them with ``_evolve``."""
    from crmkit.activities.activity import Activity, RecordRef
    from crmkit.interactions.preferences import ChannelPreferences
    from crmkit.kernel.events import Stamp
    from crmkit.kernel.money import Money
    from crmkit.parties.contact import Contact
    from crmkit.sales.capture import LeadInput
    from crmkit.sales.contract import Contract
    from crmkit.sales.lead import Lead
    from crmkit.sales.terms import Term
    from crmkit.service.case import ServiceCase

    stamp = Stamp(NOW - timedelta(days=400), "u-admin")
    ref = (RecordRef("contact", "c-0000000"),)
    contract = Contract.draft(
        "ct-0000000",
        "CT-0",
        stamp,
        account_id="a-0",
        contact_id="c-0000000",
        start_date=date(2025, 4, 1),
        term=Term(years=1),
        billing_period="monthly",
        amount=Money.of("100", "EUR"),
        notice_period=Term(months=1),
    )[0]
    return {
        "contact": Contact.create("c-0000000", stamp, last_name="Muster", first_name="Max")[0],
        "call": Activity.log(
            "a-0", "call", "Call", ref, stamp, outcome="connected", duration_minutes=5
        )[0],
        "task": Activity.plan("a-0", "task", "Follow up", ref, NOW, stamp)[0],
        "lead": Lead.capture("l-0", LeadInput(last_name="Lee", company="Lee Ltd"), stamp)[0],
        "case": ServiceCase.open(
            "k-0",
            "CS-0",
            stamp,
            subject="Printer",
            description="Error 42",
            type="incident",
            priority="normal",
            severity="moderate",
            contact_id="c-0000000",
        )[0],
        "contract": contract.send(stamp)[0].sign(stamp)[0],
        "prefs": ChannelPreferences(),
    }


def _sla(rng: random.Random) -> Any:
    from crmkit.service.sla import SlaClock, SlaMetric, SlaRun

    deadline = NOW + timedelta(hours=rng.uniform(-24, 48))
    run = SlaRun(
        SlaMetric.RESOLUTION,
        8 * 3600,
        deadline - timedelta(hours=8),
        deadline,
        deadline - timedelta(hours=2),
    )
    return SlaClock("standard", "always", "0.75", (run,))


def _build(count: int, path: Path) -> None:
    """``count`` contacts and their records (see the module), seed 7, in a new file."""
    from crmkit.activities.activity import ActivityStatus, RecordRef
    from crmkit.app.records import (
        ACTIVITIES,
        CASES,
        CONTACTS,
        CONTRACTS,
        LEADS,
        PREFERENCES,
        PreferencesRecord,
    )
    from crmkit.sales.terms import Term

    started = time.perf_counter()
    rng = random.Random(7)
    t = _templates()
    crm = _open(path)
    principal = _principal()
    staged: list[tuple[Any, Any]] = []
    written = {"activities": 0, "leads": 0, "cases": 0, "contracts": 0}

    def flush() -> None:
        with crm.unit_of_work(principal) as uow:
            for rtype, obj in staged:
                uow.save(rtype, obj)
        staged.clear()

    def stage(rtype: Any, obj: Any) -> None:
        staged.append((rtype, obj))
        if len(staged) >= BATCH:
            flush()

    for i in range(count):
        cid, rep = f"c-{i:07d}", _rep(i)
        ref = (RecordRef("contact", cid),)
        zone = ZONES[i % len(ZONES)]
        stage(CONTACTS, t["contact"]._evolve(id=cid, owner_id=rep, time_zone=zone))
        for j in range(10):
            aid = f"a-{i:07d}-{j}"
            if j < 7:
                at = NOW - timedelta(days=rng.randrange(1, 70), hours=rng.randrange(0, 24))
                outcome = rng.choice(OUTCOMES)
                minutes = 5 if outcome in ("connected", "voicemail") else None
                activity = t["call"]._evolve(
                    id=aid,
                    links=ref,
                    occurred_at=at,
                    owner_id=rep,
                    outcome=outcome,
                    duration_minutes=minutes,
                )
            elif j < 9:
                at = NOW - timedelta(days=rng.randrange(1, 60))
                activity = t["task"]._evolve(
                    id=aid, links=ref, occurred_at=at, owner_id=rep, status=ActivityStatus.DONE
                )
            else:
                due = NOW + timedelta(hours=rng.uniform(-240, 240))
                kind = t["call"].kind if rng.random() < 0.5 else t["task"].kind
                activity = t["task"]._evolve(
                    id=aid, kind=kind, links=ref, occurred_at=due, owner_id=rep
                )
            stage(ACTIVITIES, activity)
            written["activities"] += 1
        if rng.random() < 0.2:
            lead = t["lead"]._evolve(
                id=f"l-{i:07d}",
                owner_id=rep,
                score=rng.randrange(0, 101),
                contact_id=cid if rng.random() < 0.33 else None,
            )
            stage(LEADS, lead)
            written["leads"] += 1
        if rng.random() < 0.2:
            case = t["case"]._evolve(
                id=f"k-{i:07d}", number=f"CS-{i}", contact_id=cid, sla=_sla(rng)
            )
            stage(CASES, case)
            written["cases"] += 1
        if rng.random() < 0.1:
            start = date(2025, 3, 1) + timedelta(days=rng.randrange(0, 150))
            end = Term(years=1).end(start)
            contract = t["contract"]._evolve(
                id=f"ct-{i:07d}",
                number=f"CT-{i}",
                contact_id=cid,
                start_date=start,
                end_date=end,
            )
            stage(CONTRACTS, contract)
            written["contracts"] += 1
        if rng.random() < 0.1:
            stage(PREFERENCES, PreferencesRecord(cid, 1, t["prefs"]))
    flush()
    crm.close()
    print(json.dumps({"build_s": time.perf_counter() - started, "contacts": count, **written}))


def _principal() -> Any:
    from crmkit.kernel.principal import Principal

    return Principal("u-bench")


def _time(path: Path) -> None:
    """Build REP's queue once to warm up, then `RUNS` times; the median and the peak."""
    crm = _open(path)
    principal = _principal()

    def build() -> tuple[Any, ...]:
        with crm.unit_of_work(principal) as uow:
            return uow.work_queue.today(REP, limit=LIMIT)  # type: ignore[no-any-return]

    items = build()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        again = build()
        times.append(time.perf_counter() - started)
        if again != items:
            raise AssertionError("the queue changed between runs")
    crm.close()
    reasons = sorted({r.kind.value for item in items for r in item.reasons})
    print(
        json.dumps(
            {
                "median_s": statistics.median(times),
                "best_s": min(times),
                "peak_mb": peak_mb(),
                "items": len(items),
                "reasons": reasons,
                "top_score": str(items[0].score) if items else None,
            }
        )
    )


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"queue_suite.py {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@dataclass
class QueueRow(Row):
    """A suite row with the sizes behind it.

    Attributes:
        contacts: Contacts in the store.
        activities: Activities in the store.
        items: Items in the rep's queue.
        build_s: Seconds to build the file (untimed part).
    """

    contacts: int = 0
    activities: int = 0
    items: int = 0
    build_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``, with the sizes."""
        data = super().to_json()
        data.update(
            contacts=self.contacts,
            activities=self.activities,
            items=self.items,
            build_s=self.build_s,
        )
        return data


def _analyze(path: Path) -> None:
    conn = sqlite3.connect(str(path))
    started = time.perf_counter()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    print(json.dumps({"analyze_s": time.perf_counter() - started}))


def run(quick: bool) -> list[Row]:
    """Two rows: one rep's queue (median time, peak memory), before and after ``ANALYZE``."""
    count = QUICK_SIZE if quick else SIZE
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-queue-") as folder:
        path = Path(folder) / "queue.db"
        built = _child("--build", str(count), str(path))
        for label in ("as built", "after ANALYZE"):
            if label == "after ANALYZE":
                _child("--analyze", str(path))
            got = _child("--time", str(count), str(path))
            print(
                f"queue {count:,} contacts, {built['activities']:,} activities, {label}:"
                f" one rep's queue {got['median_s'] * 1e3:.1f} ms median of {RUNS}"
                f" (best {got['best_s'] * 1e3:.1f} ms), {got['items']} items,"
                f" reasons {', '.join(got['reasons'])}; peak {got['peak_mb']:.0f} MB"
                f" (building took {built['build_s']:.1f} s)",
                flush=True,
            )
            rows.append(
                QueueRow(
                    f"queue: one rep's queue, {count:,} contacts,"
                    f" {built['activities']:,} activities, {label}",
                    got["median_s"],
                    peak_mb=got["peak_mb"],
                    contacts=count,
                    activities=built["activities"],
                    items=got["items"],
                    build_s=built["build_s"],
                )
            )
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--build":
        _build(int(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--analyze":
        _analyze(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--time":
        _time(Path(sys.argv[3]))
    else:
        sys.exit(
            "usage: queue_suite.py --build CONTACTS PATH | --analyze PATH"
            " | --time CONTACTS PATH"
            " (or run benchmarks/run.py queue)"
        )
