"""The ``segment`` suite: ``uow.segments.members`` against a hand-written ``sqlite3`` query.

A SQLite file holds N contacts' segment profiles (`crmkit.app.marketing_records.PROFILES`),
seeded with a fixed random generator and saved through units of work (untimed).
Two segments are asked for their member ids, in id order:

* **pushable**: every criterion becomes an index condition, so crmkit runs one
  storage query (keyset pages of 500) and checks nothing in Python;
* **residual**: `InactiveFor` cannot be pushed down, so crmkit fetches every
  profile the other criteria select and checks it in Python.

The peer is the query a developer writes by hand against crmkit's tables:
typed columns of ``doc_segment_profile``, joins on ``crm_multi`` for tags and
consent, ``ORDER BY id``, ids only. Both sides are asserted to return the same
ids before timing. ``peak_mb`` is measured in a fresh subprocess per side.

Run as a script (``python segment_suite.py --peak crmkit|raw SEGMENT PATH``) it
runs one query in a fresh process and prints that process's peak memory as JSON.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from measure import Row, Side, compare, peak_mb

from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.app.marketing_records import PROFILES, ProfileRecord
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.money import Money
from crmkit.kernel.principal import Principal
from crmkit.marketing.segment import (
    ActiveWithin,
    All,
    Consented,
    HasTags,
    InactiveFor,
    InCountry,
    Profile,
    Segment,
    SpendAtLeast,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The instant both sides evaluate at (crmkit's clock; the peer's cut-offs)."""
PRINCIPAL = Principal("u-bench")
BATCH = 10_000
"""Profiles saved per unit of work while seeding."""
TENANT = "default"

PUSHABLE = Segment(
    "seg-de-newsletter",
    "DACH newsletter buyers, active",
    All(
        (
            InCountry(("DE", "AT")),
            HasTags(("newsletter",)),
            Consented("email", "marketing"),
            SpendAtLeast(Money.of("500", "EUR")),
            ActiveWithin(90),
        )
    ),
)
"""Fully pushable: one storage query, no Python check."""

RESIDUAL = Segment(
    "seg-de-winback",
    "DACH win-back",
    All((InCountry(("DE", "AT")), Consented("email", "marketing"), InactiveFor(180))),
)
"""`InactiveFor` stays in the residual: crmkit checks every DACH, consenting profile."""

SEGMENTS = {"pushable": PUSHABLE, "residual": RESIDUAL}
PEERS = {"pushable": ("pushable", "pushable, planner steered"), "residual": ("residual",)}
"""The hand-written queries each segment is timed against; the first one's peak is measured."""
PEER_LABELS = {
    "pushable": "raw sqlite3 hand-written join",
    "residual": "raw sqlite3 hand-written join",
    "pushable, planner steered": "raw sqlite3 join, +spend +activity",
}

_MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cutoff(days: int) -> int:
    """``NOW`` minus ``days`` as UTC microseconds, as the peer's developer computes it."""
    return (NOW - timedelta(days=days) - _EPOCH) // timedelta(microseconds=1)


# The peer: what a developer writes against crmkit's layout (see crmkit.adapters.sqlite).
# Multi-valued fields (tags, granted consents) live in crm_multi, one row per value.
RAW_SQL = {
    "pushable": (
        "SELECT p.id FROM doc_segment_profile AS p"
        " JOIN crm_multi AS t ON t.tenant = p.tenant AND t.kind = 'segment_profile'"
        " AND t.name = 'tags' AND t.value = ? AND t.id = p.id"
        " JOIN crm_multi AS c ON c.tenant = p.tenant AND c.kind = 'segment_profile'"
        " AND c.name = 'consent_granted' AND c.value = ? AND c.id = p.id"
        " WHERE p.tenant = ? AND p.active = 'yes' AND p.country IN ('DE', 'AT')"
        " AND p.total_spend_currency = 'EUR' AND p.total_spend_minor >= ?"
        " AND p.last_activity_at >= ?"
        " ORDER BY p.id",
        ("newsletter", "email:marketing", TENANT, 50_000, _cutoff(90)),
    ),
    # Without ANALYZE statistics SQLite drives the query above from the spend index
    # (a range that keeps most rows). Unary ``+`` keeps a column off its index, so this
    # variant walks the primary key in id order instead: the plan ANALYZE would pick.
    "pushable, planner steered": (
        "SELECT p.id FROM doc_segment_profile AS p"
        " JOIN crm_multi AS t ON t.tenant = p.tenant AND t.kind = 'segment_profile'"
        " AND t.name = 'tags' AND t.value = ? AND t.id = p.id"
        " JOIN crm_multi AS c ON c.tenant = p.tenant AND c.kind = 'segment_profile'"
        " AND c.name = 'consent_granted' AND c.value = ? AND c.id = p.id"
        " WHERE p.tenant = ? AND p.active = 'yes' AND p.country IN ('DE', 'AT')"
        " AND p.total_spend_currency = 'EUR' AND +p.total_spend_minor >= ?"
        " AND +p.last_activity_at >= ?"
        " ORDER BY p.id",
        ("newsletter", "email:marketing", TENANT, 50_000, _cutoff(90)),
    ),
    "residual": (
        "SELECT p.id FROM doc_segment_profile AS p"
        " JOIN crm_multi AS c ON c.tenant = p.tenant AND c.kind = 'segment_profile'"
        " AND c.name = 'consent_granted' AND c.value = ? AND c.id = p.id"
        " WHERE p.tenant = ? AND p.active = 'yes' AND p.country IN ('DE', 'AT')"
        " AND (p.last_activity_at IS NULL OR p.last_activity_at < ?)"
        " ORDER BY p.id",
        ("email:marketing", TENANT, _cutoff(180)),
    ),
}

_COUNTRIES = (
    ("DE", 20, ("Berlin", "Hamburg", "München", "Köln")),
    ("AT", 5, ("Wien", "Graz")),
    ("CH", 5, ("Zürich", "Basel")),
    ("FR", 15, ("Paris", "Lyon")),
    ("NL", 8, ("Amsterdam", "Utrecht")),
    ("GB", 15, ("London", "Leeds")),
    ("US", 20, ("New York", "Austin")),
    ("IT", 6, ("Milano", "Roma")),
    ("ES", 6, ("Madrid", "Sevilla")),
)
_TAGS = (("newsletter", 0.4), ("vip", 0.05), ("webinar", 0.2), ("trial", 0.1), ("events", 0.15))
_ACCOUNT_TAGS = ("enterprise", "smb", "strategic", "reseller")
_INDUSTRIES = ("Software", "Manufacturing", "Retail", "Finance", "Health")
_RFM = ("champion", "loyal", "at_risk", "hibernating", "new")


def _profile(rng: random.Random, i: int) -> ProfileRecord:
    """Contact number ``i``'s profile, drawn from ``rng``."""
    country, _, cities = rng.choices(_COUNTRIES, weights=[c[1] for c in _COUNTRIES])[0]
    tags = tuple(tag for tag, share in _TAGS if rng.random() < share)
    days = rng.random() * 400
    roll = rng.random()
    spend = (
        None
        if roll < 0.1
        else Money.of(str(rng.randrange(0, 500_000) / 100), "EUR" if roll < 0.9 else "USD")
    )
    consent = {"email:marketing": rng.choices(("granted", "withdrawn", "unknown"), (6, 1, 3))[0]}
    if rng.random() < 0.3:
        consent["sms:marketing"] = "granted"
    profile = Profile(
        f"c-{i:07d}",
        country=country,
        city=rng.choice(cities),
        latitude=Decimal(f"{rng.uniform(35, 60):.4f}"),
        longitude=Decimal(f"{rng.uniform(-10, 20):.4f}"),
        tags=tags,
        account_tags=tuple(rng.sample(_ACCOUNT_TAGS, rng.randrange(0, 3))),
        account_industry=rng.choice(_INDUSTRIES),
        last_activity_at=None if rng.random() < 0.1 else NOW - timedelta(days=days),
        last_purchase_at=None if spend is None else NOW - timedelta(days=days + 30),
        total_spend=spend,
        rfm_class=rng.choice(_RFM),
        consent=consent,
    )
    return ProfileRecord(profile.contact_id, 1, profile, active=rng.random() < 0.97)


def open_crm(path: Path) -> Crm:
    """crmkit on the SQLite file, its clock at `NOW`."""
    return Crm(SqliteStore(path), clock=FixedClock(NOW), ids=SequentialIds("e"))


def seed(path: Path, count: int) -> None:
    """``count`` profiles (seed 42), saved ``BATCH`` per unit of work."""
    rng = random.Random(42)
    crm = open_crm(path)
    try:
        for first in range(0, count, BATCH):
            with crm.unit_of_work(PRINCIPAL) as uow:
                for i in range(first, min(first + BATCH, count)):
                    uow.save(PROFILES, _profile(rng, i))
    finally:
        crm.close()


def crmkit_members(crm: Crm, segment: Segment) -> list[str]:
    """crmkit's side: the segment's member ids, in id order."""
    with crm.unit_of_work(PRINCIPAL) as uow:
        return list(uow.segments.members(segment))


def raw_members(conn: sqlite3.Connection, name: str) -> list[str]:
    """The peer: the hand-written query, ids in id order."""
    sql, params = RAW_SQL[name]
    return [row[0] for row in conn.execute(sql, params)]


@dataclass
class SegmentRow(Row):
    """A suite row with the sizes behind it.

    Attributes:
        profiles: Profiles in the store.
        members: Ids the segment returned (both sides).
    """

    profiles: int = 0
    members: int = 0

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``, with the sizes."""
        data = super().to_json()
        data.update(profiles=self.profiles, members=self.members)
        return data


def segment_row(name: str, path: Path, count: int, repeat: int) -> list[SegmentRow]:
    """One segment's members, crmkit against the hand-written queries on the same file."""
    segment = SEGMENTS[name]
    crm = open_crm(path)
    conn = sqlite3.connect(str(path))
    try:
        ours = crmkit_members(crm, segment)
        if not ours:
            raise AssertionError(f"{name}: the segment is empty; the data does not exercise it")
        for query in PEERS[name]:
            theirs = raw_members(conn, query)
            if ours != theirs:
                raise AssertionError(
                    f"{query}: crmkit returned {len(ours)} ids, the raw query {len(theirs)};"
                    f" first difference at {_first_difference(ours, theirs)}"
                )
        crmkit = Side("crmkit", lambda _: crmkit_members(crm, segment), 1)
        peers = [_raw_side(conn, query) for query in PEERS[name]]
        rows = compare(f"segment: {name}, {count:,} profiles", crmkit, peers, repeat=repeat)
    finally:
        crm.close()
        conn.close()
    return [
        SegmentRow(row.name, row.crmkit_s, row.peer, row.peer_s, profiles=count, members=len(ours))
        for row in rows
    ]


def _raw_side(conn: sqlite3.Connection, query: str) -> Side:
    return Side(PEER_LABELS[query], lambda _: raw_members(conn, query), 1)


def _first_difference(ours: list[str], theirs: list[str]) -> int:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return i
    return min(len(ours), len(theirs))


def child_peak_mb(side: str, name: str, path: Path) -> float:
    """Peak resident memory of a fresh process that runs one side's query once."""
    out = subprocess.run(
        [sys.executable, __file__, "--peak", side, name, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["peak_mb"])


def _peak_child(side: str, name: str, path: Path) -> None:
    # Both children import the same modules (this file's), so the peaks differ by the query.
    if side == "crmkit":
        crm = open_crm(path)
        crmkit_members(crm, SEGMENTS[name])
        crm.close()
    else:
        conn = sqlite3.connect(str(path))
        raw_members(conn, name)
        conn.close()
    print(json.dumps({"peak_mb": peak_mb()}))


def run(quick: bool) -> list[Row]:
    """Every row of the suite."""
    count, repeat = (2_000, 3) if quick else (100_000, 7)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder:
        path = Path(folder) / "profiles.db"
        started = time.perf_counter()
        seed(path, count)
        seeded = time.perf_counter() - started
        for name in SEGMENTS:
            timed = segment_row(name, path, count, repeat)
            crmkit_peak = child_peak_mb("crmkit", name, path)
            raw_peak = child_peak_mb("raw", name, path)
            for row in timed:
                row.peak_mb = crmkit_peak
                if row.peer == PEER_LABELS[name]:
                    row.peer_peak_mb = raw_peak
                print(
                    f"segment {name}: {row.members:,} of {count:,} profiles;"
                    f" crmkit {row.crmkit_s * 1e3:.2f} ms, {row.peer}"
                    f" {(row.peer_s or 0) * 1e3:.2f} ms, ratio {row.ratio or 0:.2f}"
                )
            print(f"segment {name}: peak {crmkit_peak:.1f} MB crmkit, {raw_peak:.1f} MB raw")
            rows.extend(timed)
        print(f"segment: seeded {count:,} profiles in {seeded:.1f} s (untimed)")
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--peak" and sys.argv[2] in ("crmkit", "raw"):
        _peak_child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        sys.exit("usage: segment_suite.py --peak crmkit|raw SEGMENT PATH (run benchmarks/run.py)")
