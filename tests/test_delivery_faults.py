"""Nothing is lost when delivery fails: the real `Dispatcher`, a SQLite outbox, real servers.

Every server runs on 127.0.0.1; time is a `FakeClock` moved past each backoff,
so no test waits for a retry. Counts are taken at the receiving end, by
idempotency key.
"""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crmkit.adapters.smtp import SmtpChannel, message_id
from crmkit.adapters.sqlite import SqliteStore
from crmkit.adapters.webhook import WebhookChannel, verify
from crmkit.app.crm import Crm
from crmkit.app.dispatcher import Dispatcher, DispatchReport
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.principal import SYSTEM
from crmkit.ports.notify import Channel, Message
from crmkit.testing._channel_workers import send_then_die
from crmkit.testing._loopback import (
    HOST,
    HookServer,
    Mailbox,
    Reply,
    dropping_server,
    free_port,
    smtp_server,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "whsec_dGhlIHdlYmhvb2sgc2VjcmV0IG9mIHRoZSBmYXVsdCB0ZXN0cw=="
LATER = timedelta(hours=1)
"""Past any backoff of the dispatchers below (max_delay 1 minute, jitter at most 1.5)."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "crm.db"


@pytest.fixture
def crm(db: Path, clock: FakeClock) -> Iterator[Crm]:
    crm = Crm(SqliteStore(db), clock=clock)
    yield crm
    crm.store.close()


def smtp(port: int) -> SmtpChannel:
    return SmtpChannel(
        HOST,
        port,
        sender="crm@shop.example",
        security="none",
        timeout=5.0,
        local_hostname="localhost",
    )


def dispatcher(crm: Crm, *channels: Channel, **options: Any) -> Dispatcher:
    settings: dict[str, Any] = {
        "base_delay": timedelta(seconds=10),
        "max_delay": timedelta(minutes=1),
        "rng": random.Random(7),
        **options,
    }
    return Dispatcher(crm, channels, **settings)


def queue(crm: Crm, count: int, channel: str = "email", to: str = "ada@example.com") -> list[str]:
    keys = [f"order-{i}:confirmation" for i in range(count)]
    text = '{"event": "order.confirmed"}'
    with crm.unit_of_work(SYSTEM) as uow:
        for key in keys:
            uow.queue(Message(key, channel, to, "Your order", text))
    return keys


def rounds(worker: Dispatcher, clock: FakeClock, count: int) -> list[DispatchReport]:
    """``count`` dispatch rounds, the clock moved past every backoff after each."""
    reports = []
    for _ in range(count):
        reports.append(worker.run_once())
        clock.advance(LATER)
    return reports


def drain(worker: Dispatcher, clock: FakeClock) -> DispatchReport:
    """Rounds until one claims nothing (at most 20)."""
    total = DispatchReport()
    for report in rounds(worker, clock, 20):
        total += report
        if report.claimed == 0:
            return total
    raise AssertionError("the outbox did not drain in 20 rounds")


def outbox(db: Path) -> dict[str, tuple[str, int, str | None, str | None]]:
    """Each key's (status, attempts, last error, receipt), read back from the SQLite file."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT key, status, attempts, last_error, receipt FROM crm_outbox")
        return {
            key: (status, attempts, error, receipt)
            for key, status, attempts, error, receipt in rows
        }


# --- SMTP -------------------------------------------------------------------------


def test_smtp_down_for_k_rounds_then_every_message_arrives_once(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    keys, k, port = queue(crm, 25), 3, free_port()
    worker = dispatcher(crm, smtp(port))
    for report in rounds(worker, clock, k):  # nothing listens on the port yet
        assert (report.claimed, report.retried) == (25, 25)
    assert {row[2] for row in outbox(db).values()} == {"connection failed: ConnectionRefusedError"}
    box = Mailbox()
    with smtp_server(box, port=port):
        report = drain(worker, clock)
    assert (report.delivered, report.dead) == (25, 0)
    assert box.keys() == Counter(dict.fromkeys(keys, 1))
    stored = outbox(db)
    for key in keys:
        status, attempts, _, receipt = stored[key]
        assert (status, attempts) == ("delivered", k + 1)
        assert receipt == f"smtp:250 {message_id(key, 'shop.example')}"


def test_smtp_busy_with_421_replies_then_every_message_arrives_once(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    keys = queue(crm, 10)
    box = Mailbox(replies=["421 4.3.2 too busy, try later"] * 15)
    with smtp_server(box) as port:
        report = drain(dispatcher(crm, smtp(port)), clock)
    assert (report.delivered, report.retried, report.dead) == (10, 15, 0)
    assert box.keys() == Counter(dict.fromkeys(keys, 1))
    assert {row[0] for row in outbox(db).values()} == {"delivered"}


def test_a_server_that_drops_connections_then_a_real_one(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    keys = queue(crm, 5)
    with dropping_server() as port:
        worker = dispatcher(crm, smtp(port))
        assert worker.run_once().retried == 5
        clock.advance(LATER)
    assert {row[2] for row in outbox(db).values()} == {"connection failed: SMTPServerDisconnected"}
    box = Mailbox()
    with smtp_server(box, port=port):
        report = drain(worker, clock)
    assert report.delivered == 5
    assert box.keys() == Counter(dict.fromkeys(keys, 1))


def test_a_refused_recipient_is_dead_lettered_without_the_address(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    [key] = queue(crm, 1, to="gone@example.com")
    with smtp_server(Mailbox(refused=["gone@example.com"])) as port:
        report = drain(dispatcher(crm, smtp(port)), clock)
    assert report.dead == 1
    assert outbox(db)[key] == ("dead", 1, "recipient refused: 550 5.1.1", None)


def test_a_dispatcher_killed_after_sending_sends_again_with_the_same_key(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    [key] = queue(crm, 1)
    box = Mailbox()
    with smtp_server(box) as port:
        child = multiprocessing.get_context("spawn").Process(
            target=send_then_die, args=(str(db), port, START.isoformat())
        )
        child.start()
        child.join(timeout=120)
        assert child.exitcode == 0, "the child did not die right after its send"
        assert box.keys() == Counter({key: 1})
        worker = dispatcher(crm, smtp(port))  # default lease: 5 minutes
        assert worker.run_once().claimed == 0, "claimed again while the dead claim's lease held"
        clock.advance(timedelta(minutes=5, seconds=1))
        assert worker.run_once().delivered == 1
        clock.advance(LATER)
        assert worker.run_once().claimed == 0
    assert box.keys() == Counter({key: 2})  # at least once: the receiver sees the key twice
    assert {str(mail["Message-ID"]) for mail in box.messages} == {message_id(key, "shop.example")}
    status, attempts, _, receipt = outbox(db)[key]
    assert (status, attempts) == ("delivered", 2)
    assert receipt == f"smtp:250 {message_id(key, 'shop.example')}"


# --- webhooks -----------------------------------------------------------------------


def webhook(clock: FakeClock, timeout: float = 5.0) -> WebhookChannel:
    return WebhookChannel(SECRET, clock=clock, timeout=timeout)


def test_a_webhook_answering_500_is_retried_then_delivered(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    with HookServer([Reply(500)]) as server:
        [key] = queue(crm, 1, "webhook", server.url + "/hooks")
        worker = dispatcher(crm, webhook(clock))
        first = worker.run_once()
        assert outbox(db)[key][2] == "HTTP 500"
        clock.advance(LATER)
        second = worker.run_once()
    assert (first.retried, second.delivered) == (1, 1)
    assert [r.status for r in server.requests] == [500, 200]
    assert {r.headers["webhook-id"] for r in server.requests} == {key}
    for request in server.requests:  # each attempt is signed at its own time
        at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
        assert verify(SECRET, request.headers, request.body, now=at) == {"event": "order.confirmed"}
    assert outbox(db)[key][::3] == ("delivered", "http:200")


def test_a_webhook_that_times_out_is_retried(crm: Crm, db: Path, clock: FakeClock) -> None:
    with HookServer([Reply(200, delay=1.0)]) as server:
        [key] = queue(crm, 1, "webhook", server.url)
        worker = dispatcher(crm, webhook(clock, timeout=0.2))
        assert worker.run_once().retried == 1
        assert outbox(db)[key][:3] == ("pending", 1, "request failed: TimeoutError")
        clock.advance(LATER)
        assert worker.run_once().delivered == 1
    # The slow receiver did get the first request: it deduplicates by webhook-id.
    assert [r.headers["webhook-id"] for r in server.requests] == [key, key]
    assert outbox(db)[key][:2] == ("delivered", 2)


@pytest.mark.parametrize("status", [400, 404, 410])
def test_a_webhook_answering_4xx_is_dead_lettered_with_the_reason(
    crm: Crm, db: Path, clock: FakeClock, status: int
) -> None:
    with HookServer(default=Reply(status)) as server:
        [key] = queue(crm, 1, "webhook", server.url)
        report = drain(dispatcher(crm, webhook(clock)), clock)
    assert (report.claimed, report.dead) == (1, 1)
    assert len(server.requests) == 1
    assert outbox(db)[key] == ("dead", 1, f"HTTP {status}", None)


def test_a_webhook_failing_every_time_is_dead_after_max_attempts(
    crm: Crm, db: Path, clock: FakeClock
) -> None:
    with HookServer(default=Reply(503)) as server:
        [key] = queue(crm, 1, "webhook", server.url)
        report = drain(dispatcher(crm, webhook(clock), max_attempts=3), clock)
    assert (report.retried, report.dead) == (2, 1)
    assert len(server.requests) == 3
    assert outbox(db)[key] == ("dead", 3, "HTTP 503 (gave up after 3 attempts)", None)
