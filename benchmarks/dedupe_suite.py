"""The ``dedupe`` suite: duplicate detection over generated contacts (rows without a peer).

For each size a fresh subprocess generates the contacts with
`crmkit.testing.dedupe_data.generate_contacts` (5% planted duplicates,
untimed), times `find_duplicates` (best of a few runs for the small sizes),
and reports the time, the comparisons made, comparisons / (n²/2), recall and
precision against the planted pairs, and its peak resident memory: a fresh
process per size, because a process's peak only ever rises.

Run as a script (``python dedupe_suite.py --child N REPEAT``) it does one size
and prints the figures as JSON.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from measure import Row, peak_mb

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000,)
REPEAT = {10_000: 3, 100_000: 2, 1_000_000: 1}


@dataclass
class DedupeRow(Row):
    """A suite row with the figures that show how the work grows.

    Attributes:
        records: Contacts compared.
        comparisons: Pairs scored.
        pair_fraction: comparisons / (records² / 2).
        recall: Planted pairs found / planted pairs.
        precision: Planted pairs found / pairs found.
        generate_s: Seconds to generate the contacts (untimed part).
    """

    records: int = 0
    comparisons: int = 0
    pair_fraction: float = 0.0
    recall: float = 0.0
    precision: float = 0.0
    generate_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``, with the dedupe figures."""
        data = super().to_json()
        data.update(
            records=self.records,
            comparisons=self.comparisons,
            pair_fraction=self.pair_fraction,
            recall=self.recall,
            precision=self.precision,
            generate_s=self.generate_s,
        )
        return data


def _child(n: int, repeat: int) -> None:
    from crmkit.parties.dedupe import find_duplicates
    from crmkit.testing.dedupe_data import generate_contacts

    started = time.perf_counter()
    data = generate_contacts(n, duplicate_rate=0.05, seed=42)
    generate_s = time.perf_counter() - started
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = find_duplicates(data.candidates)
        best = min(best, time.perf_counter() - started)
    found = {match.ids for match in result.matches}
    right = len(found & data.duplicate_pairs)
    figures = {
        "seconds": best,
        "generate_s": generate_s,
        "comparisons": result.stats.comparisons,
        "pair_fraction": float(result.stats.pair_fraction),
        "skipped_blocks": result.stats.skipped_blocks,
        "recall": right / len(data.duplicate_pairs),
        "precision": right / len(found) if found else 1.0,
        "peak_mb": peak_mb(),
    }
    print(json.dumps(figures))


def measure(n: int) -> DedupeRow:
    """One size, measured in a fresh subprocess."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), str(REPEAT.get(n, 1))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    got = json.loads(out)
    row = DedupeRow(
        f"dedupe: find_duplicates, {n:,} contacts",
        got["seconds"],
        peak_mb=got["peak_mb"],
        records=n,
        comparisons=got["comparisons"],
        pair_fraction=got["pair_fraction"],
        recall=got["recall"],
        precision=got["precision"],
        generate_s=got["generate_s"],
    )
    print(
        f"dedupe {n:>9,}: {got['seconds']:7.2f} s, {got['comparisons']:>10,} comparisons,"
        f" {got['pair_fraction']:.3g} of n²/2, recall {got['recall']:.4f},"
        f" precision {got['precision']:.4f}, peak {got['peak_mb']:.0f} MB"
        f" (generating took {got['generate_s']:.1f} s)",
        flush=True,
    )
    return row


def run(quick: bool) -> list[Row]:
    """Every row of the suite: one per size (10k with --quick)."""
    return [measure(n) for n in (QUICK_SIZES if quick else SIZES)]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: dedupe_suite.py --child COUNT REPEAT (run benchmarks/run.py instead)")
