"""Timing helpers and the result row shared by every suite.

Each side of a comparison prepares its input untimed, runs a batch of
operations timed with `time.perf_counter`, and reports seconds per operation.
Sides are interleaved (crmkit, peer, crmkit, peer ...) after a warm-up run, so
that drift in CPU frequency hits both alike; `gc.collect` runs before every
timed batch and the best batch wins. The garbage collector stays enabled
while timing, as it is in a real process. `peak_mb` is the one way every
suite reads a subprocess's peak memory.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def peak_mb() -> float:
    """This process's peak resident memory in MB (MiB), since it started its program.

    ``VmHWM`` from ``/proc/self/status``, not ``getrusage(RUSAGE_SELF).ru_maxrss``:
    Linux carries the peak of the address space a process had before ``exec``
    into it, so a child that ``subprocess`` starts (fork or vfork, then exec)
    reports its parent's peak when that is higher. ``VmHWM`` belongs to the
    current address space only. Where ``/proc`` is missing (macOS, BSD) the
    rusage figure is the fallback: KiB there, bytes on macOS.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # the line reads "VmHWM:  123456 kB"
    raise RuntimeError("no VmHWM in /proc/self/status")


@dataclass(frozen=True)
class Side:
    """One side of a comparison.

    Attributes:
        label: Who runs it, for example ``crmkit`` or ``pytransitions``.
        run: Does ``ops`` operations on what ``prepare`` returned; this is timed.
        ops: How many operations one ``run`` does.
        prepare: Builds the input of one run; not timed.
    """

    label: str
    run: Callable[[Any], object]
    ops: int
    prepare: Callable[[], Any] = lambda: None


def per_op(sides: list[Side], *, repeat: int, warmup: int = 1) -> list[float]:
    """Best seconds per operation of each side, over ``repeat`` interleaved runs."""
    for _ in range(warmup):
        for side in sides:
            side.run(side.prepare())
    best = [float("inf")] * len(sides)
    for _ in range(repeat):
        for i, side in enumerate(sides):
            data = side.prepare()
            gc.collect()
            start = time.perf_counter()
            side.run(data)
            elapsed = time.perf_counter() - start
            best[i] = min(best[i], elapsed / side.ops)
            del data
    gc.collect()
    return best


@dataclass
class Row:
    """One line of the report.

    Attributes:
        name: What is measured.
        crmkit_s: crmkit's seconds per operation.
        peer: The peer's name, or None when the row has no peer.
        peer_s: The peer's seconds per operation, or None.
        target: The ratio the project must stay at or under, if it has one.
        peak_mb: Peak resident memory of a subprocess doing crmkit's side, if measured.
        peer_peak_mb: The same for the peer's side.
    """

    name: str
    crmkit_s: float
    peer: str | None = None
    peer_s: float | None = None
    target: float | None = None
    peak_mb: float | None = None
    peer_peak_mb: float | None = None

    @property
    def ratio(self) -> float | None:
        """crmkit's time over the peer's (lower is better), or None without a peer."""
        return None if self.peer_s is None else self.crmkit_s / self.peer_s

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``."""
        data: dict[str, Any] = {
            "name": self.name,
            "crmkit_s": self.crmkit_s,
            "peer": self.peer,
            "peer_s": self.peer_s,
            "ratio": self.ratio,
        }
        if self.peak_mb is not None:
            data["peak_mb"] = self.peak_mb
        if self.peer_peak_mb is not None:
            data["peer_peak_mb"] = self.peer_peak_mb
        return data


def compare(
    name: str,
    crmkit: Side,
    peers: list[Side],
    *,
    repeat: int,
    warmup: int = 1,
    targets: dict[str, float] | None = None,
) -> list[Row]:
    """Time crmkit against each peer in one interleaved series: one row per peer."""
    times = per_op([crmkit, *peers], repeat=repeat, warmup=warmup)
    targets = targets or {}
    return [
        Row(name, times[0], peer.label, t, targets.get(peer.label))
        for peer, t in zip(peers, times[1:], strict=True)
    ]


def fmt_time(seconds: float | None) -> str:
    """A per-operation time with a readable unit."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table."""
    header = ("name", "crmkit", "peer", "peer time", "ratio", "target", "peak MB")
    lines = [header]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        if row.target is None:
            target = "-"
        else:
            met = row.ratio is not None and row.ratio <= row.target
            target = f"≤ {row.target:g} {'ok' if met else 'MISSED'}"
        peak = "-"
        if row.peak_mb is not None:
            peak = f"{row.peak_mb:.0f}"
            if row.peer_peak_mb is not None:
                peak += f" / {row.peer_peak_mb:.0f}"
        lines.append(
            (
                row.name,
                fmt_time(row.crmkit_s),
                row.peer or "-",
                fmt_time(row.peer_s),
                ratio,
                target,
                peak,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in out)
