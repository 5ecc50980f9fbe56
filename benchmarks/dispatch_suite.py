"""The ``dispatch`` suite: messages per second from a SQLite outbox through the `Dispatcher`.

Rows without a peer (``"peer": null``); seconds per message, so messages per
second is the inverse:

* the `Dispatcher` with the `SmtpChannel` (one connection per message, no
  TLS) to an aiosmtpd server in its own process on 127.0.0.1, so the server
  does not share the dispatcher's interpreter lock;
* the `Dispatcher` with the `MemoryChannel`: claiming, decoding and recording
  alone, the dispatcher's own overhead;
* the `SmtpChannel` alone, without an outbox: the cost of SMTP itself.

Each run starts from a fresh SQLite file with the messages already queued
(untimed) and drains it with ``run_until_idle(limit=100)``; a run that does
not deliver every message fails the suite.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from measure import Row, Side, per_op
from samples import STAMP

from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.adapters.smtp import SmtpChannel
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import Crm
from crmkit.app.dispatcher import Dispatcher
from crmkit.kernel.clock import FixedClock
from crmkit.kernel.ids import SequentialIds
from crmkit.kernel.principal import SYSTEM
from crmkit.ports.notify import Channel, Message

HOST = "127.0.0.1"
HTML = "<p>Hello Anna,</p><p>your order <b>4711</b> has shipped.</p>" * 4
TEXT = "Hello Anna,\n\nyour order 4711 has shipped.\n" * 4


def message(i: int) -> Message:
    """A realistic service mail: text and HTML, a few hundred bytes each."""
    return Message(
        f"order-{i}:shipped",
        "email",
        f"anna.{i}@example.com",
        "Your order has shipped",
        TEXT,
        HTML,
    )


@contextmanager
def smtp_sink() -> Iterator[int]:
    """An aiosmtpd server that accepts and drops every message, in a child process."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    server = subprocess.Popen(
        [*command, "-l", f"{HOST}:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(300):  # up to 30 s to start
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the aiosmtpd server did not start")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def queued(folder: Path, count: int, made: list[Crm]) -> Crm:
    """A fresh SQLite file with ``count`` messages queued (untimed)."""
    for old in made:
        old.store.close()
    made.clear()
    path = folder / f"outbox-{time.monotonic_ns()}.db"
    crm = Crm(SqliteStore(path), clock=FixedClock(STAMP.at), ids=SequentialIds("m"))
    with crm.unit_of_work(SYSTEM) as uow:
        for i in range(count):
            uow.queue(message(i))
    made.append(crm)
    return crm


def dispatch_side(label: str, channel: Channel, folder: Path, count: int, made: list[Crm]) -> Side:
    """Drain ``count`` queued messages through ``channel``; every one must be delivered."""

    def run(crm: Crm) -> None:
        report = Dispatcher(crm, [channel]).run_until_idle(limit=100)
        if report.delivered != count:
            raise AssertionError(f"{label}: delivered {report.delivered} of {count}")
        if isinstance(channel, MemoryChannel):
            channel.clear()

    return Side(label, run, count, lambda: queued(folder, count, made))


def run(quick: bool) -> list[Row]:
    """Every row of the suite."""
    count, repeat = (40, 1) if quick else (1_000, 3)
    made: list[Crm] = []
    with tempfile.TemporaryDirectory(prefix="crmkit-bench-") as folder, smtp_sink() as port:
        smtp = SmtpChannel(HOST, port, sender="shop@example.com", security="none")
        messages = [message(i) for i in range(count)]

        def send_only(_: Any) -> None:
            for item in messages:
                smtp.send(item)

        sides = [
            dispatch_side("smtp", smtp, Path(folder), count, made),
            dispatch_side("memory", MemoryChannel("email"), Path(folder), count, made),
            Side("smtp alone", send_only, count),
        ]
        times = per_op(sides, repeat=repeat)
        for crm in made:
            crm.store.close()
    names = [
        f"dispatch: SQLite outbox → SmtpChannel → aiosmtpd, {count:,} messages",
        f"dispatch: SQLite outbox → MemoryChannel, {count:,} messages",
        f"dispatch: SmtpChannel.send alone → aiosmtpd, {count:,} messages",
    ]
    return [Row(name, seconds) for name, seconds in zip(names, times, strict=True)]
