"""`MemoryChannel` passes the notifier conformance kit, and its own helpers work."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crmkit.adapters.memory_channel import MemoryChannel
from crmkit.kernel.errors import ValidationError
from crmkit.ports.notify import Channel, Message, PermanentFailure, TemporaryFailure
from crmkit.testing.notify import DeliveredMessage, FailureKind, NotifierContract


class TestMemoryChannel(NotifierContract):
    """The notifier contract on the in-memory channel: what it recorded is what it received."""

    def make_channel(self) -> Channel:
        return MemoryChannel("email")

    def delivered(self, channel: Channel) -> Sequence[DeliveredMessage]:
        assert isinstance(channel, MemoryChannel)
        return [DeliveredMessage(m.key, m.to, m.subject, m.text, m.html) for m in channel.sent]

    def make_failing_channel(self, kind: FailureKind) -> Channel:
        channel = MemoryChannel("email")
        channel.fail_next(1, temporary=kind == "temporary")
        return channel


def _message(key: str) -> Message:
    return Message(key, "sms", "+4930123456", "", "Hi")


def test_scripted_failures_then_delivery() -> None:
    """Scripted failures come first, in order; then sends are recorded with numbered receipts."""
    channel = MemoryChannel("sms")
    channel.fail_next(2)
    channel.fail_next(1, temporary=False, reason="no such number")
    assert channel.scripted == 3
    for expected in (TemporaryFailure, TemporaryFailure, PermanentFailure):
        with pytest.raises(expected):
            channel.send(_message("a"))
    assert channel.send(_message("a")) == "memory:1"
    assert channel.send(_message("a")) == "memory:2"
    assert channel.send(_message("b")) == "memory:3"
    assert {key: len(sent) for key, sent in channel.by_key().items()} == {"a": 2, "b": 1}
    channel.clear()
    assert channel.sent == []


def test_bad_arguments() -> None:
    """A bad name or count is a `ValidationError`; a non-message fails permanently."""
    with pytest.raises(ValidationError):
        MemoryChannel("E-Mail")
    with pytest.raises(ValidationError):
        MemoryChannel().fail_next(-1)
    with pytest.raises(PermanentFailure):
        MemoryChannel().send("hello")  # type: ignore[arg-type]
