"""The ``reports`` suite: the pipeline report on SQLite against the GROUP BY a developer writes.

crmkit: ``uow.reports.pipeline(currency="EUR", rates=FixedRates.of({}), by=("stage",))``,
which `crmkit.ports.aggregate` answers with one ``GROUP BY`` over the
opportunity table's index columns. Peer: ``SELECT stage, currency, count(*),
sum(amount_minor), sum(weighted_minor) FROM doc_opportunity WHERE tenant = ?
AND status = 'open' GROUP BY stage, currency`` over the same file, the sums
turned into `Money` with ``Money.from_minor``. Both are asserted to give the
same figures before timing.

Run as a script (``python reports_suite.py --peak crmkit|raw PATH``) it runs one
side's report once in a fresh process and prints that process's peak memory as JSON.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from measure import Row, Side, compare, peak_mb
from raw_sqlite import table_digests
from samples import STAMP

from crmkit.adapters.fixed_rates import FixedRates
from crmkit.adapters.sqlite import SqliteStore
from crmkit.analytics.sales_pipeline import PipelineReport
from crmkit.app.crm import Crm
from crmkit.app.records import OPPORTUNITIES
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.events import DomainEvent
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.kernel.principal import Principal
from crmkit.kernel.serialization import dumps, make_converter
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import DEFAULT_PIPELINE

PRINCIPAL = Principal(STAMP.actor)
BATCH = 20_000
"""Opportunities per unit of work while seeding."""

_OPEN_STAGES = tuple(stage.key for stage in DEFAULT_PIPELINE.open_stages)
_OWNERS = tuple(f"u-{i}" for i in range(50))
_FIRST_CLOSE = date(2026, 3, 1)

RAW_PIPELINE = (
    "SELECT stage, currency, count(*), sum(amount_minor), sum(weighted_minor)"
    """ FROM "doc_opportunity" WHERE tenant = ? AND status = 'open' GROUP BY stage, currency"""
)

# (stage, count, amount, weighted) per stage, sorted by stage; then the totals.
Figures = tuple[tuple[tuple[str | None, int, Money, Money], ...], int, Money, Money]


def open_crm(path: Path) -> Crm:
    """crmkit on a SQLite file, its clock at the samples' time."""
    return Crm(SqliteStore(path), clock=FixedClock(STAMP.at), ids=SequentialIds("e"))


def deal(rng: random.Random, i: int) -> tuple[Opportunity, tuple[DomainEvent, ...]]:
    """Opportunity number ``i``: a random open stage, amount, owner and close date.

    One in ten is closed (won or lost) again, so the report's ``status = 'open'``
    filter has something to leave out.
    """
    opp, opened = Opportunity.open(
        f"o-{i:07d}",
        f"Deal {i}",
        DEFAULT_PIPELINE,
        STAMP,
        amount=Money.from_minor(rng.randrange(10_000, 5_000_000), "EUR"),
        close_date=_FIRST_CLOSE + timedelta(days=rng.randrange(365)),
        stage=rng.choice(_OPEN_STAGES),
        owner_id=rng.choice(_OWNERS),
    )
    roll = rng.random()
    if roll < 0.05:
        opp, won = opp.win(DEFAULT_PIPELINE, STAMP)
        return opp, (opened, won)
    if roll < 0.1:
        opp, lost = opp.lose("price", DEFAULT_PIPELINE, STAMP)
        return opp, (opened, lost)
    return opp, (opened,)


def seed_uow(path: Path, count: int) -> None:
    """Fill a new crmkit file through units of work, `BATCH` opportunities each (seed 42).

    About 0.5 ms an opportunity here (events and timeline entries included):
    8 minutes for a million, so `seed` writes the documents directly instead,
    and this one checks, on a small file, that it writes the same documents.
    """
    rng = random.Random(42)
    crm = open_crm(path)
    try:
        for start in range(0, count, BATCH):
            deals = [deal(rng, i) for i in range(start, min(start + BATCH, count))]
            with crm.unit_of_work(PRINCIPAL) as uow:
                for opp, events in deals:
                    uow.save(OPPORTUNITIES, opp, *events)
    finally:
        crm.close()


def seed(path: Path, count: int) -> float:
    """Fill a new crmkit file with ``count`` opportunities (seed 42); return the seconds taken.

    crmkit creates the file and its schema; the opportunity documents (body,
    ``_index`` and index columns, as `OPPORTUNITIES` computes them) go in with
    ``executemany``, `BATCH` a transaction. Events and timeline entries are
    left out: the report reads neither. `check_seed` holds this to `seed_uow`.
    """
    started = time.perf_counter()
    open_crm(path).close()
    conv = make_converter()
    columns = [field.name for field in OPPORTUNITIES.spec().indexes if not field.multi]
    insert = (
        'INSERT INTO "doc_opportunity" (tenant, id, version, body, _index'
        + "".join(f', "{name}"' for name in columns)
        + f") VALUES ({', '.join('?' * (5 + len(columns)))})"
    )
    rng = random.Random(42)
    conn = connect(path)
    try:
        for start in range(0, count, BATCH):
            rows = []
            for i in range(start, min(start + BATCH, count)):
                opp, _ = deal(rng, i)
                index = OPPORTUNITIES.index(opp)
                if index["contact_ids"]:  # the deals have none, so no crm_multi rows
                    raise AssertionError("seed writes no crm_multi rows")
                rows.append(
                    (
                        "default",
                        opp.id,
                        opp.version,
                        dumps(conv.unstructure(opp)),
                        dumps(index),
                        *(index.get(name) for name in columns),
                    )
                )
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, rows)
            conn.execute("COMMIT")
    finally:
        conn.close()
    return time.perf_counter() - started


def check_seed(folder: Path, count: int = 2_000) -> None:
    """`seed` writes the same ``doc_opportunity`` rows as units of work do (`seed_uow`)."""
    fast, slow = folder / "seed-fast.db", folder / "seed-uow.db"
    seed(fast, count)
    seed_uow(slow, count)
    ours, theirs = table_digests(str(fast)), table_digests(str(slow))
    if ours["doc_opportunity"] != theirs["doc_opportunity"]:
        raise AssertionError("seed and seed_uow wrote different opportunity rows")
    if ours["doc_opportunity"][0] != count:
        raise AssertionError(f"expected {count} opportunities, found {ours['doc_opportunity']}")
    for path in (fast, slow):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def crmkit_pipeline(crm: Crm) -> PipelineReport:
    """crmkit's side: the pipeline report by stage, in EUR, in a unit of work."""
    with crm.unit_of_work(PRINCIPAL) as uow:
        return uow.reports.pipeline(currency="EUR", rates=FixedRates.of({}), by=("stage",))


def raw_pipeline(conn: sqlite3.Connection, tenant: str = "default") -> Figures:
    """The peer: one GROUP BY, then the sums in EUR as `Money`, per stage and in total.

    Every deal is in EUR and no rates are given (as for crmkit's side), so a
    sum in another currency is an error rather than something to convert.
    """
    stages: dict[str | None, tuple[int, Money, Money]] = {}
    zero = Money.from_minor(0, "EUR")
    for stage, currency, count, amount, weighted in conn.execute(RAW_PIPELINE, (tenant,)):
        if currency != "EUR":
            raise ValueError(f"no rate for {currency}")
        known = stages.get(stage, (0, zero, zero))
        stages[stage] = (
            known[0] + count,
            known[1] + Money.from_minor(amount, currency),
            known[2] + Money.from_minor(weighted, currency),
        )
    rows = tuple((stage, *stages[stage]) for stage in sorted(stages, key=str))
    return (
        rows,
        sum(row[1] for row in rows),
        sum((row[2] for row in rows), zero),
        sum((row[3] for row in rows), zero),
    )


def figures(report: PipelineReport) -> Figures:
    """crmkit's report in the peer's shape, to check that both give the same figures."""
    rows = tuple(
        sorted(
            ((r.stage, r.count, r.amount, r.weighted) for r in report.rows), key=lambda r: str(r[0])
        )
    )
    return rows, report.count, report.amount, report.weighted


def connect(path: Path) -> sqlite3.Connection:
    """A raw connection set up as `SqliteStore` sets up its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def size_row(count: int, repeat: int) -> Row:
    """Seed ``count`` opportunities, check both sides agree, time them, measure their peaks."""
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder:
        path = Path(folder) / "reports.db"
        built = seed(path, count)
        crm = open_crm(path)
        conn = connect(path)
        try:
            ours, theirs = figures(crmkit_pipeline(crm)), raw_pipeline(conn)
            if ours != theirs:
                raise AssertionError(f"the sides disagree: crmkit {ours} raw {theirs}")
            if not ours[0] or ours[1] == 0:
                raise AssertionError("the pipeline is empty")
            peer = Side("raw sqlite3 GROUP BY + Money", lambda _: raw_pipeline(conn), 1)
            (row,) = compare(
                f"reports: pipeline by stage, {count:,} opportunities",
                Side("crmkit", lambda _: crmkit_pipeline(crm), 1),
                [peer],
                repeat=repeat,
                targets={peer.label: 1.5},
            )
        finally:
            crm.close()
            conn.close()
        row.peak_mb = child_peak_mb("crmkit", path)
        row.peer_peak_mb = child_peak_mb("raw", path)
    print(
        f"reports: {count:,} opportunities ({ours[1]:,} open), seeded in {built:.1f} s;"
        f" crmkit {row.crmkit_s * 1e3:.1f} ms, raw {(row.peer_s or 0) * 1e3:.1f} ms,"
        f" peak {row.peak_mb:.0f} / {row.peer_peak_mb:.0f} MB",
        flush=True,
    )
    return row


def child_peak_mb(side: str, path: Path) -> float:
    """Peak resident memory of a fresh process that opens ``path`` and runs one report."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak", side, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["peak_mb"])


def _peak_child(side: str, path: Path) -> None:
    # Both sides import the same modules (this one imports crmkit), so the
    # difference between their peaks is the report's.
    if side == "crmkit":
        crm = open_crm(path)
        crmkit_pipeline(crm)
        crm.close()
    else:
        conn = connect(path)
        raw_pipeline(conn)
        conn.close()
    print(json.dumps({"peak_mb": peak_mb()}))


def run(quick: bool) -> list[Row]:
    """Every row of the suite: one per size."""
    sizes: tuple[tuple[int, int], ...] = ((5_000, 3),) if quick else ((100_000, 5), (1_000_000, 3))
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder:
        check_seed(Path(folder))
    return [size_row(count, repeat) for count, repeat in sizes]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peak" and sys.argv[2] in ("crmkit", "raw"):
        _peak_child(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit("usage: reports_suite.py --peak crmkit|raw PATH (run benchmarks/run.py instead)")
