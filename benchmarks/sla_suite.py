"""The ``sla`` suite: the host scheduler's SLA tick over open service cases (rows without a peer).

For each size a fresh subprocess builds a SQLite file of open cases with SLA
clocks (untimed: the cases are built as domain objects and staged 5,000 per
unit of work), then another fresh subprocess times the tick loop a host runs,
``uow.cases.tick(limit=500)`` in a unit of work until nothing more is due,
with the fake clock moved on so that every case has a warning or a breach
due. It then times the same tick when nothing is due (the index query alone).
Its peak resident memory is the ``peak_mb`` of both rows: a fresh process per
size, because a process's peak only ever rises.

Run as a script (``python sla_suite.py --build COUNT PATH`` or
``python sla_suite.py --tick COUNT PATH REPEAT``) it does one step and prints
its figures as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from measure import Row, Side, peak_mb, per_op

SIZES = (10_000, 100_000)
"""Sizes of the default run; 1,000,000 takes too long here (see README) and runs on request."""
QUICK_SIZES = (10_000,)
ALL_SIZES = (10_000, 100_000, 1_000_000)
REPEAT = {10_000: 3}
"""Timed tick loops per size (each on a fresh copy of the file); one for larger sizes and
with --quick."""
BATCH = 5_000
"""Cases staged per unit of work while building the file."""
LIMIT = 500
"""The tick's page size, as a host would run it."""
IDLE_TICKS = 200
"""Ticks per timed batch when nothing is due."""

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday at 09:00 UTC: cases open over the next hour, in the default office calendar."""
SPREAD = 3_600
"""Cases open one second apart, wrapping every hour, so their due instants differ."""
DUE = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
"""Tuesday 09:30: every first-response (or urgent resolution) warning is due, no deadline
but the urgent first response (1 business hour) has passed; after one evaluation nothing
is due until 10:00."""
URGENT_EVERY = 10
"""One case in ten is high priority (the urgent policy); the others normal (standard)."""


@dataclass
class SlaRow(Row):
    """A suite row with the figures that show how the tick's work grows.

    Attributes:
        cases: Open cases in the store.
        evaluated: Cases the tick loop evaluated (all of them, once); 0 in the
            nothing-due row, which writes none of the loop's figures.
        ticks: Units of work the loop ran, the last one finding nothing (due rows only).
        warnings: SLA warnings raised.
        breaches: SLA breaches raised.
        total_s: Seconds of the whole loop (the best run).
        build_s: Seconds to build the file (untimed part).
    """

    cases: int = 0
    evaluated: int = 0
    ticks: int = 0
    warnings: int = 0
    breaches: int = 0
    total_s: float = 0.0
    build_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The row as written by ``--json``, with the tick figures."""
        data = super().to_json()
        data.update(cases=self.cases, build_s=self.build_s)
        if self.evaluated:
            data.update(
                evaluated=self.evaluated,
                ticks=self.ticks,
                warnings=self.warnings,
                breaches=self.breaches,
                total_s=self.total_s,
            )
        return data


def _principal() -> Any:
    from crmkit.kernel.principal import Principal

    return Principal("u-scheduler")


def _open(path: Path, at: datetime, id_prefix: str) -> Any:
    import crmkit
    from crmkit.kernel.clock import FakeClock
    from crmkit.kernel.ids import SequentialIds

    return crmkit.open(f"sqlite:///{path}", clock=FakeClock(at), ids=SequentialIds(id_prefix))


def _build(count: int, path: Path) -> None:
    """``count`` open cases with SLA clocks, as `Cases.open` makes them, in a new file."""
    from crmkit.app.records import CASES
    from crmkit.kernel.events import Stamp
    from crmkit.service.case import ServiceCase
    from crmkit.service.sla import SlaClock
    from crmkit.service.sla_policy import Priority, Severity

    started = time.perf_counter()
    crm = _open(path, OPENED, "e")
    principal = _principal()
    service = crm.service
    clocks: dict[tuple[Priority, datetime], Any] = {}  # clocks are immutable: share them

    def new_case(i: int) -> tuple[Any, ...]:
        stamp = Stamp(OPENED + timedelta(seconds=i % SPREAD), principal.id)
        priority = Priority.HIGH if i % URGENT_EVERY == 0 else Priority.NORMAL
        case, opened = ServiceCase.open(
            f"case-{i:07d}",
            f"CS-{i:07d}",
            stamp,
            subject=f"Printer {i} does not print",
            description="The printer shows error 42 after every job.",
            type="incident",
            priority=priority,
            severity=Severity.MODERATE,
            contact_id=f"c-{i % 5_000:07d}",
        )
        key = (case.priority, case.created_at)
        clock = clocks.get(key)
        if clock is None:
            policy = service.sla_policies.match(case.priority, case.type, case.customer_tier)
            calendar = service.calendar(policy.calendar_name)
            clock = clocks[key] = SlaClock.start(policy, calendar, case.created_at)
        tracked, event = case.track_sla(clock, stamp)
        return tracked, opened, event

    for first in range(0, count, BATCH):
        with crm.unit_of_work(principal) as uow:
            for i in range(first, min(first + BATCH, count)):
                uow.save(CASES, *new_case(i))
    crm.close()
    print(json.dumps({"build_s": time.perf_counter() - started}))


def _tick_loop(crm: Any) -> dict[str, int]:
    """The loop a host's scheduler runs: tick until nothing more is due."""
    principal = _principal()
    evaluated = warnings = breaches = ticks = 0
    while True:
        with crm.unit_of_work(principal) as uow:
            report = uow.cases.tick(limit=LIMIT)
        ticks += 1
        evaluated += report.evaluated
        warnings += report.warnings
        breaches += report.breaches
        if not report.more and not report.evaluated:
            break
    return {"evaluated": evaluated, "ticks": ticks, "warnings": warnings, "breaches": breaches}


def _copy(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        target_part = Path(f"{target}{suffix}")
        target_part.unlink(missing_ok=True)
        source_part = Path(f"{source}{suffix}")
        if source_part.exists():
            shutil.copyfile(source_part, target_part)


def _tick(count: int, path: Path, repeat: int) -> None:
    """Time the tick loop on fresh copies of ``path``, then the tick when nothing is due."""
    from crmkit.app.records import CASES

    opened: list[Any] = []
    figures: dict[str, int] = {}
    work = path.with_name(f"tick-{path.name}")

    def fresh() -> Any:
        for crm in opened:
            crm.close()
        opened.clear()
        if repeat > 1:
            _copy(path, work)
            crm = _open(work, DUE, "t")
        else:
            crm = _open(path, DUE, "t")
        with crm.unit_of_work(_principal()) as uow:  # build the loaders' and converter's hooks
            case = uow.get(CASES, "case-0000000")
            crm.converter.unstructure(case)
        opened.append(crm)
        return crm

    def run(crm: Any) -> None:
        figures.update(_tick_loop(crm))

    (per_case,) = per_op([Side("crmkit", run, count, fresh)], repeat=repeat, warmup=0)
    if figures["evaluated"] != count:
        raise AssertionError(f"the tick evaluated {figures['evaluated']} of {count} due cases")
    crm = opened[0]  # every case is evaluated now: nothing is due

    def idle(_: object) -> None:
        for _ in range(IDLE_TICKS):
            figures["idle"] = _tick_loop(crm)["evaluated"]

    (per_idle,) = per_op([Side("crmkit", idle, IDLE_TICKS)], repeat=5)
    if figures.pop("idle"):
        raise AssertionError("a tick found cases due after the loop evaluated them all")
    crm.close()
    peak = peak_mb()
    print(json.dumps({"per_case_s": per_case, "idle_s": per_idle, "peak_mb": peak, **figures}))


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"sla_suite.py {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def measure(count: int, repeat: int) -> list[Row]:
    """One size: build the file in one subprocess, tick ``repeat`` times in another."""
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-sla-") as folder:
        path = Path(folder) / "cases.db"
        built = _child("--build", str(count), str(path))
        got = _child("--tick", str(count), str(path), str(repeat))
    per_case, total = got["per_case_s"], got["per_case_s"] * count
    print(
        f"sla {count:>9,}: tick {total:7.2f} s, {per_case * 1e6:6.1f} µs per case,"
        f" {got['ticks']:,} ticks, {got['warnings']:,} warnings, {got['breaches']:,} breaches;"
        f" nothing due {got['idle_s'] * 1e6:.0f} µs per tick; peak {got['peak_mb']:.0f} MB"
        f" (building took {built['build_s']:.1f} s)",
        flush=True,
    )
    common = {"peak_mb": got["peak_mb"], "cases": count, "build_s": built["build_s"]}
    return [
        SlaRow(
            f"sla: tick, {count:,} cases due, per case",
            per_case,
            evaluated=got["evaluated"],
            ticks=got["ticks"],
            warnings=got["warnings"],
            breaches=got["breaches"],
            total_s=total,
            **common,
        ),
        SlaRow(f"sla: tick, nothing due, {count:,} cases, per tick", got["idle_s"], **common),
    ]


def run(quick: bool, sizes: tuple[int, ...] | None = None) -> list[Row]:
    """Two rows per size (10k with --quick), then the per-case time of each size against 10k."""
    rows: list[Row] = []
    for count in sizes or (QUICK_SIZES if quick else SIZES):
        rows.extend(measure(count, 1 if quick else REPEAT.get(count, 1)))
    due = [row for row in rows if isinstance(row, SlaRow) and row.evaluated]
    if len(due) > 1:
        base = due[0]
        growth = ", ".join(
            f"{row.cases:,}: {row.crmkit_s * 1e6:.1f} µs ({row.crmkit_s / base.crmkit_s:.2f}×)"
            for row in due
        )
        print(f"sla per-case time by size (× the {base.cases:,} figure): {growth}", flush=True)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--build":
        _build(int(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--tick":
        _tick(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--sizes":
        from measure import table

        print(table(run(False, tuple(int(n) for n in sys.argv[2].split(",")))))
    else:
        sys.exit(
            "usage: sla_suite.py --build COUNT PATH | --tick COUNT PATH REPEAT"
            " | --sizes 10000,100000,1000000 (or run benchmarks/run.py sla)"
        )
