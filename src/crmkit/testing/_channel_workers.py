"""Workers for the delivery tests: a dispatcher that dies between send and receipt, and
one of several dispatchers sharing a PostgreSQL outbox under load.

They live in an importable module so that ``multiprocessing`` with the
``spawn`` start method can run it in a fresh interpreter.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from typing import Any

from crmkit.adapters.smtp import SmtpChannel
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.app.dispatcher import Dispatcher
from crmkit.kernel.clock import FixedClock
from crmkit.ports.notify import Message


def send_then_die(path: str, port: int, at: str) -> None:
    """Process entry point: a dispatcher that dies right after its first SMTP send.

    It claims one message from the SQLite store at ``path`` at the instant
    ``at`` (ISO 8601), sends it to the SMTP server on ``port`` and exits with
    status 0 before the receipt is recorded; status 3 means it sent nothing.
    """
    real = SmtpChannel(
        "127.0.0.1", port, sender="crm@shop.example", security="none", local_hostname="localhost"
    )

    class Dying:
        name = real.name

        def send(self, message: Message) -> str:
            real.send(message)
            os._exit(0)

    crm = Crm(SqliteStore(path), clock=FixedClock(datetime.fromisoformat(at)))
    Dispatcher(crm, [Dying()]).run_once(limit=1)
    os._exit(3)


def dispatch_all(conninfo: str, port: int, results: Any) -> None:
    """Process entry point for the load test: dispatch from a PostgreSQL outbox until idle.

    Several of these share one outbox; claims use ``FOR UPDATE SKIP LOCKED``. A
    retried message is waited for (short backoff), so the worker stops only once
    a second pass, after the longest backoff, finds nothing due. It puts its
    `DispatchReport` on ``results``.
    """
    from crmkit.adapters.postgres import PostgresStore

    channel = SmtpChannel(
        "127.0.0.1", port, sender="crm@shop.example", security="none", local_hostname="localhost"
    )
    crm = Crm(PostgresStore(conninfo))
    dispatcher = Dispatcher(
        crm, [channel], base_delay=timedelta(milliseconds=50), max_delay=timedelta(seconds=1)
    )
    total = dispatcher.run_until_idle(limit=50, max_rounds=100_000)
    while True:
        time.sleep(1.6)  # longer than any backoff above (1 s at most, times jitter 1.5)
        report = dispatcher.run_until_idle(limit=50, max_rounds=100_000)
        total += report
        if report.claimed == 0:
            break
    crm.close()
    results.put(total)
