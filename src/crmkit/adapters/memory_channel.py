"""An in-memory channel: it records what it delivers, for tests, examples and demos.

Hosts use it as "an inbox for tests": wire it into a
`crmkit.app.dispatcher.Dispatcher` under the name of a real channel and
assert on `MemoryChannel.sent`. Failures can be scripted with
`MemoryChannel.fail_next`.

>>> from crmkit.ports.notify import Message
>>> channel = MemoryChannel("email")
>>> channel.send(Message("k-1", "email", "anna@example.com", "Hi", "Hello"))
'memory:1'
>>> [message.key for message in channel.sent]
['k-1']
"""

from __future__ import annotations

import threading
from collections import deque

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_token
from crmkit.ports.notify import Message, PermanentFailure, TemporaryFailure


class MemoryChannel:
    """A thread-safe `crmkit.ports.notify.Channel` that keeps every delivered message.

    Attributes:
        name: The channel name messages pick it by (default ``email``).
    """

    def __init__(self, name: str = "email") -> None:
        self.name = clean_token(name, "name")
        self._lock = threading.Lock()
        self._sent: list[Message] = []
        self._script: deque[tuple[bool, str]] = deque()
        self._count = 0

    @property
    def sent(self) -> list[Message]:
        """Every delivered message, oldest first (a copy)."""
        with self._lock:
            return list(self._sent)

    def by_key(self) -> dict[str, list[Message]]:
        """Delivered messages grouped by idempotency key: a duplicate shows as a longer list."""
        grouped: dict[str, list[Message]] = {}
        for message in self.sent:
            grouped.setdefault(message.key, []).append(message)
        return grouped

    def fail_next(self, n: int = 1, *, temporary: bool = True, reason: str | None = None) -> None:
        """Make the next ``n`` sends raise `TemporaryFailure` (or `PermanentFailure`)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("n", "must be a non-negative integer", n)
        kind = "temporary" if temporary else "permanent"
        text = reason or f"scripted {kind} failure"
        with self._lock:
            self._script.extend([(temporary, text)] * n)

    @property
    def scripted(self) -> int:
        """How many scripted failures are still to come."""
        with self._lock:
            return len(self._script)

    def clear(self) -> None:
        """Forget delivered messages and scripted failures."""
        with self._lock:
            self._sent.clear()
            self._script.clear()

    def send(self, message: Message) -> str:
        """Record ``message`` and return ``memory:<n>``, or raise the next scripted failure."""
        if not isinstance(message, Message):
            raise PermanentFailure("not a Message")
        with self._lock:
            if self._script:
                temporary, reason = self._script.popleft()
                raise TemporaryFailure(reason) if temporary else PermanentFailure(reason)
            self._sent.append(message)
            self._count += 1
            return f"memory:{self._count}"
