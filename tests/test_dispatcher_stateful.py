"""A random walk over queue, dispatch, crash, clock and scripted failures: nothing is lost.

Invariants: every queued key stays in the outbox (pending, delivered or dead),
a delivered key was received, and a key is received twice only when the
earlier send crashed before its receipt was recorded and its lease ran out.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import crmkit
from crmkit import FakeClock, Principal
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.app.dispatcher import Dispatcher
from crmkit.ports.notify import Message
from crmkit.ports.storage import OutboxStatus
from crmkit.testing._notify_workers import outbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


class _Crash(BaseException):
    """The dispatcher's process dies (not an error a channel reports)."""


@attrs.define
class _Received:
    key: str
    at: datetime
    crashed: bool


class _Recorder:
    """Wraps a `MemoryChannel`: logs each delivery, and can die right after one."""

    name = "email"

    def __init__(self, inner: MemoryChannel, clock: FakeClock) -> None:
        self.inner, self.clock = inner, clock
        self.log: list[_Received] = []
        self.crash_next = False

    def send(self, message: Message) -> str:
        receipt = self.inner.send(message)  # may raise a scripted failure
        crashed, self.crash_next = self.crash_next, False
        self.log.append(_Received(message.key, self.clock.now(), crashed))
        if crashed:
            raise _Crash
        return receipt


class DispatchMachine(RuleBasedStateMachine):
    """The walk on the in-memory store; `SqliteDispatchMachine` repeats it on a SQLite file."""

    def url(self) -> str:
        return "memory://"

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0)
        self.crm = crmkit.open(self.url(), clock=self.clock)
        self.channel = MemoryChannel()
        self.recorder = _Recorder(self.channel, self.clock)
        self.dispatcher = Dispatcher(
            self.crm,
            [self.recorder],
            lease=LEASE,
            max_attempts=4,
            base_delay=timedelta(seconds=10),
            max_delay=timedelta(seconds=80),
            rng=random.Random(3),
        )
        self.queued: set[str] = set()

    @rule(count=st.integers(1, 3))
    def queue(self, count: int) -> None:
        with self.crm.unit_of_work(Principal("u-1")) as uow:
            for _ in range(count):
                key = f"k{len(self.queued)}"
                uow.notifications.send(
                    channel="email", purpose="service", key=key, to="a@example.com", text=key
                )
                self.queued.add(key)

    @rule(n=st.integers(1, 3), temporary=st.booleans())
    def script_failures(self, n: int, temporary: bool) -> None:
        self.channel.fail_next(n, temporary=temporary)

    @rule(limit=st.integers(1, 4))
    def dispatch(self, limit: int) -> None:
        report = self.dispatcher.run_once(limit)
        parts = report.delivered + report.retried + report.dead + report.refused
        assert report.claimed == parts + report.conflicts

    @rule(limit=st.integers(1, 4))
    def crash_after_a_send(self, limit: int) -> None:
        self.recorder.crash_next = True
        with contextlib.suppress(_Crash):  # the process "died" after a send
            self.dispatcher.run_once(limit)
        self.recorder.crash_next = False

    @rule(seconds=st.sampled_from([1, 10, 30, 59, 60, 90, 300]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    @invariant()
    def nothing_is_lost(self) -> None:
        entries = outbox(self.crm)
        assert set(entries) == self.queued
        received = {r.key for r in self.recorder.log}
        for key, entry in entries.items():
            if entry.status is OutboxStatus.DELIVERED:
                assert key in received

    @invariant()
    def no_second_delivery_without_a_lapsed_lease(self) -> None:
        last: dict[str, _Received] = {}
        for received in self.recorder.log:
            earlier = last.get(received.key)
            if earlier is not None:
                assert earlier.crashed, f"{received.key} delivered twice"
                assert received.at - earlier.at >= LEASE
            last[received.key] = received

    def teardown(self) -> None:
        """Drain: with time enough, every message ends delivered or dead."""
        for _ in range(20):
            self.clock.advance(timedelta(minutes=10))
            self.dispatcher.run_until_idle()
        entries = outbox(self.crm)
        assert {e.status for e in entries.values()} <= {OutboxStatus.DELIVERED, OutboxStatus.DEAD}
        self.nothing_is_lost()
        self.no_second_delivery_without_a_lapsed_lease()
        self.crm.close()


class SqliteDispatchMachine(DispatchMachine):
    def url(self) -> str:
        self.folder = tempfile.TemporaryDirectory(prefix="crmkit-dispatch-")
        return f"sqlite:///{self.folder.name}/crm.db"

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            self.folder.cleanup()


DispatchMachine.TestCase.settings = settings(
    settings.default, max_examples=60, stateful_step_count=30
)
SqliteDispatchMachine.TestCase.settings = settings(
    settings.default, max_examples=20, stateful_step_count=30
)
TestDispatchMachine = DispatchMachine.TestCase
TestSqliteDispatchMachine = SqliteDispatchMachine.TestCase
