"""The clock port and its implementations.

crmkit never reads the time itself: every timestamp comes from a `Clock`
that the host injects, so tests and replays are deterministic.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from crmkit.kernel.time import require_aware


class Clock(Protocol):
    """Tells the current time as a timezone-aware `datetime`."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware."""
        ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that always tells the same instant.

    >>> from datetime import datetime, UTC
    >>> FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)).now().isoformat()
    '2026-01-05T09:00:00+00:00'
    """

    def __init__(self, at: datetime):
        self._at = require_aware(at, "at")

    def now(self) -> datetime:
        """Return the fixed instant."""
        return self._at


class FakeClock:
    """A clock that tests move by hand; optionally it ticks on every read.

    >>> from datetime import datetime, timedelta, UTC
    >>> clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    >>> clock.advance(timedelta(hours=2)).isoformat()
    '2026-01-05T11:00:00+00:00'
    """

    def __init__(self, start: datetime, tick: timedelta = timedelta(0)):
        self._now = require_aware(start, "start")
        self._tick = tick
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the current fake instant, then move it on by ``tick``."""
        with self._lock:
            at = self._now
            self._now = at + self._tick
            return at

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward by ``by`` and return the new instant."""
        with self._lock:
            self._now += by
            return self._now

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (which may lie in the past)."""
        with self._lock:
            self._now = require_aware(at, "at")
