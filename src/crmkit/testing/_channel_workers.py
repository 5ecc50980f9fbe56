"""A worker for the delivery fault tests: a dispatcher that dies between send and receipt.

It lives in an importable module so that ``multiprocessing`` with the
``spawn`` start method can run it in a fresh interpreter.
"""

from __future__ import annotations

import os
from datetime import datetime

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
