"""Load: 4 dispatcher processes share one PostgreSQL outbox and deliver 10,000 messages.

Each message reaches the SMTP server on 127.0.0.1 exactly once, counted by its
idempotency key at the server, and none is lost.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller

from crmkit.adapters.postgres import PostgresStore
from crmkit.app.crm import Crm
from crmkit.app.dispatcher import DispatchReport
from crmkit.kernel.principal import SYSTEM
from crmkit.ports.notify import Message
from crmkit.testing._channel_workers import dispatch_all
from crmkit.testing._loopback import HOST, free_port

MESSAGES = 10_000
DISPATCHERS = 4
_KEY = re.compile(rb"^Idempotency-Key: (\S+)\r?$", re.MULTILINE)


class KeyCounter:
    """Counts arriving messages by their Idempotency-Key header, without parsing them whole
    (the stdlib parser would make the server, not the dispatchers, the bottleneck)."""

    def __init__(self) -> None:
        self.keys: Counter[bytes] = Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        found = _KEY.search(envelope.content)
        if found is None:
            return "554 5.6.0 no Idempotency-Key"
        with self._lock:
            self.keys[found.group(1)] += 1
        return "250 OK"


def test_four_dispatchers_deliver_ten_thousand_messages_exactly_once(
    postgres_schemas: Callable[[], str],
) -> None:
    conninfo = postgres_schemas()
    crm = Crm(PostgresStore(conninfo))
    for batch in range(0, MESSAGES, 1000):
        with crm.unit_of_work(SYSTEM) as uow:
            for i in range(batch, batch + 1000):
                uow.queue(Message(f"load-{i:05d}", "email", f"c{i}@shop.example", "Hi", "Hello"))
    crm.close()

    counter = KeyCounter()
    port = free_port()
    controller = Controller(counter, hostname=HOST, port=port, ready_timeout=30.0)
    controller.start()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=dispatch_all, args=(conninfo, port, results))
        for _ in range(DISPATCHERS)
    ]
    try:
        for worker in workers:
            worker.start()
        reports: list[DispatchReport] = [results.get(timeout=600) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        controller.stop()

    assert [worker.exitcode for worker in workers] == [0] * DISPATCHERS
    expected = {f"load-{i:05d}".encode() for i in range(MESSAGES)}
    assert set(counter.keys) == expected, "a message was lost or an unknown key arrived"
    assert max(counter.keys.values()) == 1, "a message was delivered twice"
    assert sum(report.delivered for report in reports) == MESSAGES
    assert sum(report.dead for report in reports) == 0
    assert all(report.delivered > 0 for report in reports), "every dispatcher shared the work"
