"""Helpers for crmkit's own notifier and dispatcher tests (private; not part of the kit).

They live in an importable module so that ``multiprocessing`` with the
``spawn`` start method can run `crash_after_send` in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from crmkit.ports.notify import Message
from crmkit.ports.storage import OutboxEntry, OutboxMessage, OutboxStatus


class FileChannel:
    """A channel that appends each delivered message's key to a file, one JSON line each.

    The file survives the process that sent, so a parent test can count
    deliveries made by a child that died.
    """

    def __init__(self, path: str | os.PathLike[str], name: str = "email") -> None:
        self.name = name
        self._path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: Message) -> str:
        """Append the key (flushed to disk) and return ``file:<key>``."""
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"key": message.key, "pid": os.getpid()}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return f"file:{message.key}"

    def keys(self) -> list[str]:
        """Every key delivered so far, in order."""
        if not self._path.exists():
            return []
        lines = self._path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["key"] for line in lines]


class _DieAfterSend:
    """Wraps a channel: the send succeeds, then the process ends before anything is recorded."""

    def __init__(self, inner: FileChannel) -> None:
        self.name = inner.name
        self._inner = inner

    def send(self, message: Message) -> str:
        self._inner.send(message)
        os._exit(0)  # the dispatcher dies between sending and recording the receipt


def crash_after_send(db: str, deliveries: str, now_micros: int, lease_seconds: int) -> None:
    """Process entry point: a dispatcher on SQLite file ``db`` that dies after its first send."""
    import crmkit
    from crmkit.app.dispatcher import Dispatcher
    from crmkit.kernel.clock import FixedClock
    from crmkit.kernel.time import from_micros

    crm = crmkit.open(f"sqlite:///{db}", clock=FixedClock(from_micros(now_micros)))
    channel = _DieAfterSend(FileChannel(deliveries))
    Dispatcher(crm, [channel], lease=timedelta(seconds=lease_seconds)).run_once(limit=1)
    os._exit(3)  # not reached when a message was claimed


def outbox(crm: object) -> dict[str, OutboxEntry]:
    """Every outbox entry of the crm's tenant, by key (MemoryStore or SqliteStore only)."""
    from crmkit.adapters.memory import MemoryStore
    from crmkit.adapters.sqlite import SqliteStore

    store, tenant = crm.store, crm.tenant  # type: ignore[attr-defined]
    if isinstance(store, MemoryStore):
        entries = list(store._outbox[tenant].values())
    elif isinstance(store, SqliteStore):
        with closing(sqlite3.connect(store._path)) as conn:
            rows = conn.execute(
                "SELECT id, key, channel, purpose, party_id, body, available_at, status,"
                " attempts, lease_until, last_error, receipt FROM crm_outbox WHERE tenant = ?",
                (tenant,),
            ).fetchall()
        entries = [
            OutboxEntry(OutboxMessage(*row[:7]), OutboxStatus(row[7]), *row[8:]) for row in rows
        ]
    else:
        raise TypeError(f"cannot read the outbox of {type(store).__name__}")
    return {entry.message.key: entry for entry in entries}
