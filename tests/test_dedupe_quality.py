"""Dedupe quality on 100,000 generated contacts with 5% planted duplicates.

The run's time is printed (``pytest -s``), never asserted: timed bars belong
in benchmarks/ (``python benchmarks/run.py dedupe``).
"""

import time

import pytest

from crmkit.parties.dedupe import find_duplicates
from crmkit.testing.dedupe_data import generate_contacts


def quality(n: int, seed: int) -> tuple[float, float, float]:
    data = generate_contacts(n, duplicate_rate=0.05, seed=seed)
    started = time.perf_counter()
    result = find_duplicates(data.candidates)
    seconds = time.perf_counter() - started
    found = {match.ids for match in result.matches}
    right = len(found & data.duplicate_pairs)
    recall = right / len(data.duplicate_pairs)
    precision = right / len(found) if found else 1.0
    print(
        f"\ndedupe {n:,}: recall {recall:.4f}, precision {precision:.4f}, {seconds:.1f} s,"
        f" {result.stats.comparisons:,} comparisons ({result.stats.pair_fraction} of n²/2)"
    )
    return recall, precision, seconds


def test_generator_is_deterministic_and_plants_the_rate() -> None:
    a = generate_contacts(2_000, duplicate_rate=0.05, seed=3)
    assert a == generate_contacts(2_000, duplicate_rate=0.05, seed=3)
    assert len(a.candidates) == 2_000
    assert len(a.duplicate_pairs) == 100
    assert len({c.id for c in a.candidates}) == 2_000


@pytest.mark.parametrize("seed", [11])
def test_quality_on_100k_contacts(seed: int) -> None:
    recall, precision, _ = quality(100_000, seed)
    assert recall >= 0.95
    assert precision >= 0.98
