"""The notifier kit's tests: delivery, round trips, failures, threads, and a dispatcher run."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

import crmkit
from crmkit.app.dispatcher import Dispatcher
from crmkit.kernel.clock import FakeClock
from crmkit.kernel.principal import SYSTEM
from crmkit.kernel.text import clean_token
from crmkit.ports.notify import Channel, PermanentFailure, TemporaryFailure
from crmkit.testing._notify_data import (
    FailureKind,
    NotifyHooks,
    build,
    matches,
    new_key,
    subjects,
    texts,
)


def _count(hooks: NotifyHooks, channel: Channel, keys: set[str]) -> Counter[str]:
    return Counter(m.key for m in hooks.delivered(channel) if m.key in keys)


def _failing(hooks: NotifyHooks, kind: FailureKind) -> Channel:
    channel = hooks.make_failing_channel(kind)
    if channel is None:
        pytest.skip(f"make_failing_channel({kind!r}) is not implemented")
    return channel


class ChannelTests(NotifyHooks):
    """What a channel must do on its own: deliver once, carry the key, fail cleanly."""

    def test_delivers_once_with_its_key(self) -> None:
        """One send arrives once, its idempotency key readable; the receipt is non-empty text."""
        channel = self.make_channel()
        assert clean_token(channel.name, "name") == channel.name
        message = build(self, channel, new_key())
        receipt = channel.send(message)
        assert isinstance(receipt, str)
        assert receipt.strip()
        seen = [m for m in self.delivered(channel) if m.key == message.key]
        assert len(seen) == 1, f"key arrived {len(seen)} times"
        assert matches(seen[0], message, self) == []

    def test_round_trips_unicode(self) -> None:
        """Subject, text and HTML (any Unicode) arrive as sent, up to line ends and folding."""
        channel = self.make_channel()

        # Defined here, not on the class: each contract subclass gets its own
        # hypothesis test (one shared method would trip differing_executors).
        @settings(max_examples=15, deadline=None)  # a channel over a network may be slow
        @given(subject=subjects, text=texts, html=texts)
        def round_trip(subject: str, text: str, html: str) -> None:
            message = build(
                self, channel, new_key("unicode"), subject=subject, text=text, html=f"<p>{html}</p>"
            )
            channel.send(message)
            [seen] = [m for m in self.delivered(channel) if m.key == message.key]
            assert matches(seen, message, self) == []

        round_trip()

    def test_distinct_keys_each_arrive_once(self) -> None:
        """A batch of messages with distinct keys: every key arrives exactly once."""
        channel = self.make_channel()
        keys = {new_key("batch") for _ in range(10)}
        for key in sorted(keys):
            channel.send(build(self, channel, key))
        assert _count(self, channel, keys) == Counter(dict.fromkeys(keys, 1))

    def test_sends_from_several_threads(self) -> None:
        """One channel used by four threads at once delivers every message once."""
        channel = self.make_channel()
        keys = [new_key("thread") for _ in range(20)]
        errors: list[BaseException] = []

        def send(part: list[str]) -> None:
            try:
                for key in part:
                    channel.send(build(self, channel, key))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(keys[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert _count(self, channel, set(keys)) == Counter(dict.fromkeys(keys, 1))

    @pytest.mark.parametrize("kind", ["temporary", "permanent"])
    def test_failures_are_typed(self, kind: FailureKind) -> None:
        """A failing send raises `TemporaryFailure` or `PermanentFailure` with a reason."""
        channel = _failing(self, kind)
        expected = TemporaryFailure if kind == "temporary" else PermanentFailure
        # Any other exception escapes pytest.raises and fails the test.
        with pytest.raises(expected) as info:
            channel.send(build(self, channel, new_key(kind)))
        assert isinstance(info.value.reason, str)
        assert info.value.reason.strip()


class DispatchTests(NotifyHooks):
    """The channel behind a `Dispatcher` over a store."""

    def test_dispatcher_delivers_a_batch_once(self) -> None:
        """Queued messages are delivered once per key; another run sends nothing."""
        channel = self.make_channel()
        clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        with crmkit.open("memory://", clock=clock) as crm:
            keys = [new_key("dispatch") for _ in range(12)]
            with crm.unit_of_work(SYSTEM) as uow:
                for key in keys:
                    uow.queue(build(self, channel, key))
            dispatcher = Dispatcher(crm, [channel])
            report = dispatcher.run_until_idle(limit=5)
            assert (report.claimed, report.delivered) == (12, 12)
            clock.advance(timedelta(days=1))
            assert dispatcher.run_until_idle().claimed == 0
        assert _count(self, channel, set(keys)) == Counter(dict.fromkeys(keys, 1))

    @pytest.mark.parametrize("kind", ["temporary", "permanent"])
    def test_dispatcher_records_failures(self, kind: FailureKind) -> None:
        """A temporary failure is retried later; a permanent one is dead-lettered."""
        channel = _failing(self, kind)
        with crmkit.open("memory://", clock=FakeClock(datetime(2026, 1, 5, tzinfo=UTC))) as crm:
            with crm.unit_of_work(SYSTEM) as uow:
                uow.queue(build(self, channel, new_key("fail")))
            report = Dispatcher(crm, [channel]).run_once()
        expected = (1, 0) if kind == "temporary" else (0, 1)
        assert (report.retried, report.dead) == expected
