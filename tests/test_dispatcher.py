"""The dispatcher: backoff, dead letters, consent at send time, leases, crashes and threads."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import crmkit
from crmkit import Crm, Email, FakeClock, Principal
from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.app.dispatcher import Dispatcher, DispatchReport
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.time import to_micros
from crmkit.ports.notify import Message
from crmkit.ports.storage import OutboxStatus
from crmkit.testing._notify_workers import FileChannel, crash_after_send, outbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AGENT = Principal("u-1")
LEASE = timedelta(minutes=5)


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'crm.db'}"
    with crmkit.open(url, clock=FakeClock(T0)) as crm:
        yield crm


def _queue(crm: Crm, *keys: str, channel: str = "email") -> None:
    with crm.unit_of_work(AGENT) as uow:
        for key in keys:
            uow.notifications.send(
                channel=channel, purpose="service", key=key, to="ops@example.com", text=key
            )


def _advance(crm: Crm, by: timedelta) -> None:
    crm.clock.advance(by)  # type: ignore[attr-defined]


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    """Each wait is min(max_delay, base * 2**(n-1)) times a jitter in [0.5, 1.5]."""
    with crmkit.open("memory://") as crm:
        dispatcher = Dispatcher(
            crm, [], base_delay=timedelta(seconds=30), max_delay=timedelta(hours=6),
            rng=random.Random(1),
        )  # fmt: skip
        for attempts in [*range(1, 14), 100, 10**6]:
            nominal = min(timedelta(hours=6), timedelta(seconds=30) * 2 ** min(attempts - 1, 20))
            for _ in range(20):
                assert nominal * 0.5 <= dispatcher.backoff(attempts) <= nominal * 1.5


def test_retries_follow_the_schedule_then_dead_letter(crm: Crm) -> None:
    """Temporary failures are retried at now + backoff; after max_attempts the message is dead."""
    channel = MemoryChannel()
    channel.fail_next(10, reason="server busy")
    dispatcher = Dispatcher(crm, [channel], max_attempts=4, rng=random.Random(7))
    replica = random.Random(7)
    _queue(crm, "k")
    for attempt in range(1, 4):
        assert dispatcher.run_once() == DispatchReport(claimed=1, retried=1)
        nominal = timedelta(seconds=30) * 2 ** (attempt - 1)
        expected = crm.clock.now() + nominal * replica.uniform(0.5, 1.5)
        entry = outbox(crm)["k"]
        assert (entry.attempts, entry.last_error) == (attempt, "server busy")
        assert entry.message.available_at == to_micros(expected)
        assert dispatcher.run_once().claimed == 0  # not due yet
        crm.clock.set(expected)  # type: ignore[attr-defined]
    assert dispatcher.run_once() == DispatchReport(claimed=1, dead=1)
    entry = outbox(crm)["k"]
    assert entry.status is OutboxStatus.DEAD
    assert entry.last_error == "server busy (gave up after 4 attempts)"
    _advance(crm, timedelta(days=30))
    assert dispatcher.run_once().claimed == 0
    assert channel.sent == []


def test_permanent_failures_and_unknown_channels_are_dead_at_once(crm: Crm) -> None:
    """A permanent failure or a channel nobody registered dead-letters with the reason."""
    channel = MemoryChannel()
    channel.fail_next(1, temporary=False, reason="550 no such user")
    _queue(crm, "bounce")
    _queue(crm, "lost", channel="pigeon")
    assert Dispatcher(crm, [channel]).run_once() == DispatchReport(claimed=2, dead=2)
    entries = outbox(crm)
    assert entries["bounce"].last_error == "550 no such user"
    assert entries["lost"].last_error == "no channel named 'pigeon'"
    assert {e.status for e in entries.values()} == {OutboxStatus.DEAD}


class _Leaky:
    name = "email"

    def send(self, message: Message) -> str:
        raise KeyError(f"secret {message.to}")


def test_an_unexpected_error_is_retried_without_its_text(crm: Crm) -> None:
    """Any other exception from a channel is a temporary failure named by its type only."""
    _queue(crm, "k")
    assert Dispatcher(crm, [_Leaky()]).run_once().retried == 1
    assert outbox(crm)["k"].last_error == "unexpected KeyError from channel"


def test_an_opt_out_between_queue_and_send_stops_the_send(crm: Crm) -> None:
    """Consent is checked again at send time: a withdrawal dead-letters the message."""
    with crm.unit_of_work(AGENT) as uow:
        anna = uow.contacts.create("Berg", emails=[Email("anna@example.com")])
        uow.contacts.record_consent(anna.id, "email", "marketing", granted=True, source="form")
        for key in ("offer", "receipt"):
            sent = uow.notifications.send(
                channel="email",
                purpose="marketing" if key == "offer" else "service",
                key=key,
                party_id=anna.id,
                text="Hello",
            )
            assert isinstance(sent, Message)
    with crm.unit_of_work(AGENT) as uow:
        uow.contacts.record_consent(anna.id, "email", "marketing", granted=False, source="link")
    channel = MemoryChannel()
    report = Dispatcher(crm, [channel]).run_once()
    assert report == DispatchReport(claimed=2, delivered=1, refused=1)
    assert [m.key for m in channel.sent] == ["receipt"]
    entry = outbox(crm)["offer"]
    assert entry.status is OutboxStatus.DEAD
    assert entry.last_error == "consent withdrawn for marketing by email"


class _Overtaken:
    """Sends slowly: while it sends, the lease runs out and another dispatcher takes over."""

    name = "email"

    def __init__(self, crm: Crm, other: Dispatcher) -> None:
        self.crm, self.other, self.sent = crm, other, list[str]()

    def send(self, message: Message) -> str:
        self.sent.append(message.key)
        _advance(self.crm, LEASE)
        assert self.other.run_once().delivered == 1  # sends it again, with the same key
        return "slow"


def test_a_claim_lost_to_an_expired_lease_is_counted_not_raised(crm: Crm) -> None:
    """The slow dispatcher's record conflicts; the batch's next message is left unsent."""
    _queue(crm, "a", "b")
    fast = MemoryChannel()
    slow = _Overtaken(crm, Dispatcher(crm, [fast], lease=LEASE))
    report = Dispatcher(crm, [slow], lease=LEASE).run_once()
    assert report == DispatchReport(claimed=2, conflicts=2)
    assert slow.sent == ["a"]  # b's claim had run out before its turn: not sent
    assert [m.key for m in fast.sent] == ["a", "b"]
    assert {e.receipt for e in outbox(crm).values()} == {"memory:1", "memory:2"}


def test_a_dispatcher_killed_after_sending_sends_again_with_the_same_key(tmp_path: Path) -> None:
    """At least once: a child process dies between send and record; after the lease, resent."""
    db, deliveries = tmp_path / "crm.db", tmp_path / "deliveries.jsonl"
    with crmkit.open(f"sqlite:///{db}", clock=FakeClock(T0)) as crm:
        _queue(crm, "welcome:1")
        child = multiprocessing.get_context("spawn").Process(
            target=crash_after_send, args=(str(db), str(deliveries), to_micros(T0), 300)
        )
        child.start()
        child.join(timeout=120)
        assert child.exitcode == 0  # it exited inside send, right after delivering
        files = FileChannel(deliveries)
        assert files.keys() == ["welcome:1"]
        entry = outbox(crm)["welcome:1"]
        assert (entry.status, entry.attempts, entry.receipt) == (OutboxStatus.PENDING, 1, None)
        dispatcher = Dispatcher(crm, [files], lease=LEASE)
        assert dispatcher.run_once().claimed == 0  # the dead child's lease still holds
        _advance(crm, LEASE)
        assert dispatcher.run_once().delivered == 1
        assert files.keys() == ["welcome:1", "welcome:1"]  # the receiver deduplicates by key
        entry = outbox(crm)["welcome:1"]
        assert (entry.status, entry.attempts) == (OutboxStatus.DELIVERED, 2)
        assert entry.receipt == "file:welcome:1"
        _advance(crm, timedelta(days=1))
        assert dispatcher.run_once().claimed == 0
        assert len(files.keys()) == 2


def test_dispatcher_threads_on_one_sqlite_outbox_deliver_each_key_once(tmp_path: Path) -> None:
    """Four threads, each with its own store on one file, share the outbox: each key once."""
    url, clock = f"sqlite:///{tmp_path / 'crm.db'}", FakeClock(T0)
    keys = [f"k{i:03}" for i in range(120)]
    with crmkit.open(url, clock=clock) as crm:
        _queue(crm, *keys)
    channel, start = MemoryChannel(), threading.Barrier(4)
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with crmkit.open(url, clock=clock) as mine:
                dispatcher = Dispatcher(mine, [channel])
                start.wait(timeout=60)
                reports.append(dispatcher.run_until_idle(limit=7))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(reports, DispatchReport()) == DispatchReport(claimed=120, delivered=120)
    assert sorted(channel.by_key()) == keys
    assert {len(sent) for sent in channel.by_key().values()} == {1}


@pytest.mark.parametrize(
    "kwargs",
    [{"lease": timedelta(0)}, {"max_attempts": 0}, {"base_delay": 5}, {"max_attempts": True}],
)
def test_bad_settings(kwargs: dict[str, object]) -> None:
    """Settings are checked when the dispatcher is built."""
    with crmkit.open("memory://") as crm, pytest.raises(ValidationError):
        Dispatcher(crm, [], **kwargs)  # type: ignore[arg-type]


def test_bad_channels_and_limits() -> None:
    """Two channels with one name, or a limit below one, are refused."""
    with crmkit.open("memory://") as crm:
        with pytest.raises(ValidationError):
            Dispatcher(crm, [MemoryChannel(), MemoryChannel()])
        with pytest.raises(ValidationError):
            Dispatcher(crm, []).run_once(0)


def test_run_forever_stops_when_asked() -> None:
    """The worker loop delivers, then returns its report once ``stop`` is set."""
    with crmkit.open("memory://", clock=FakeClock(T0)) as crm:
        _queue(crm, "a", "b")
        channel, stop = MemoryChannel(), threading.Event()

        class _StopAfterTwo(MemoryChannel):
            def send(self, message: Message) -> str:
                receipt = channel.send(message)
                if len(channel.sent) == 2:
                    stop.set()
                return receipt

        report = Dispatcher(crm, [_StopAfterTwo()]).run_forever(stop=stop, poll=0.01)
        assert report.delivered == 2


def test_run_until_idle_stops_when_a_round_only_loses_its_claims() -> None:
    """A clock that passes the lease while sending makes every claim a conflict: stop, not spin."""
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC), tick=timedelta(minutes=10))
    with crmkit.open("memory://", clock=clock) as crm:
        _queue(crm, "k")
        channel = MemoryChannel()
        report = Dispatcher(crm, [channel], lease=timedelta(minutes=5)).run_until_idle()
    assert (report.claimed, report.conflicts, report.delivered) == (1, 1, 0)
    assert channel.sent == []
