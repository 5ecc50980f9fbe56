"""Run crmkit's benchmarks against their peers, in one process.

    python benchmarks/run.py [SUITE ...] [--json PATH] [--quick]

Prints one row per comparison: crmkit's time per operation, the peer's, and
their ratio (crmkit / peer; lower is better). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedupe_suite
import dispatch_suite
import import_suite
import lifecycle_suite
import postgres_suite
import queue_suite
import reports_suite
import search_suite
import segment_suite
import sla_suite
import sqlite_suite
from measure import Row, table

SUITES: dict[str, Callable[[bool], list[Row]]] = {
    "lifecycle": lifecycle_suite.run,
    "sqlite": sqlite_suite.run,
    "postgres": postgres_suite.run,
    "dispatch": dispatch_suite.run,
    "dedupe": dedupe_suite.run,
    "sla": sla_suite.run,
    "segment": segment_suite.run,
    "reports": reports_suite.run,
    "queue": queue_suite.run,
    "search": search_suite.run,
    "import": import_suite.run,
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites (all by default), print the table, write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"one of {', '.join(SUITES)}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke run")
    parser.add_argument("--postgres-url", help="server for the postgres suite (else env)")
    args = parser.parse_args(argv)
    postgres_suite.url = args.postgres_url
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    rows: list[Row] = []
    started = time.perf_counter()
    for name in args.suites or list(SUITES):
        rows.extend(SUITES[name](args.quick))
    print(table(rows))
    print(f"\n{len(rows)} rows in {time.perf_counter() - started:.1f} s; ratio = crmkit / peer")
    if args.json is not None:
        args.json.write_text(json.dumps([row.to_json() for row in rows], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
