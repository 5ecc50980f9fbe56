"""Workers for the storage concurrency tests.

They live in an importable module so that ``multiprocessing`` with the
``spawn`` start method can run them in a fresh interpreter.
"""

from __future__ import annotations

import json
import time
from typing import Any

from crmkit.kernel.errors import ConcurrencyConflict
from crmkit.ports.storage import ChangeSet, Document, DocumentStore, KindSpec, Put, StoreSchema

COUNTER_SCHEMA = StoreSchema((KindSpec("counter"),))
"""The schema the process workers open: one kind without index fields."""


def bump_counter(
    store: DocumentStore, tenant: str, kind: str, id: str, attempts: int, pause: float = 0.0
) -> tuple[int, int, list[str]]:
    """Read, increment and write back the counter ``{"n": ...}`` of a document.

    Makes ``attempts`` read-modify-write attempts, each expecting the version it
    read, sleeping ``pause`` seconds between the read and the write (a wider
    window for other writers). Returns (successes, conflicts, descriptions of
    any other error).
    """
    successes = conflicts = 0
    unexpected: list[str] = []
    for _ in range(attempts):
        try:
            doc = store.get(tenant, kind, id)
            if doc is None:
                raise LookupError(f"{kind} {id!r} is missing")
            count = json.loads(doc.body)["n"]
            if pause:
                time.sleep(pause)
            new = Document(kind, id, doc.version + 1, json.dumps({"n": count + 1}))
            store.commit(tenant, ChangeSet(writes=(Put(new, doc.version),)))
        except ConcurrencyConflict:
            conflicts += 1
        except Exception as exc:  # reported to the test, which fails on any
            unexpected.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
        else:
            successes += 1
    return successes, conflicts, unexpected


def bump_sqlite_counter(
    path: str, tenant: str, id: str, attempts: int, start: Any = None, pause: float = 0.0
) -> tuple[int, int, list[str]]:
    """`bump_counter` on a ``counter`` document in the SQLite file at ``path``.

    The store is opened first; then the worker waits at ``start`` (a barrier,
    if given) so that every racer begins together.
    """
    from crmkit.adapters.sqlite import SqliteStore

    store = SqliteStore(path)
    try:
        store.open(COUNTER_SCHEMA)
        if start is not None:
            start.wait(timeout=120)
        return bump_counter(store, tenant, "counter", id, attempts, pause)
    finally:
        store.close()


def counter_process(
    path: str, tenant: str, id: str, attempts: int, start: Any, results: Any, pause: float = 0.0
) -> None:
    """Process entry point: `bump_sqlite_counter`, its result put on the ``results`` queue."""
    try:
        outcome = bump_sqlite_counter(path, tenant, id, attempts, start, pause)
    except BaseException as exc:  # the parent reports it instead of waiting for a result
        outcome = (0, 0, [f"worker failed: {exc!r}"])
    results.put(outcome)
