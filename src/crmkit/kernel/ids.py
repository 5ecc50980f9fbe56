"""Typed identifiers and injectable id generators.

Every id is a string. ``NewType`` gives each kind of id its own static type
(a `ContactId` is not an `AccountId` to the type checker) at no runtime cost.
The default generator makes time-ordered UUIDv7 strings, which keep inserts
at the end of B-tree indexes.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from typing import NewType, Protocol

from crmkit.kernel.clock import Clock, SystemClock
from crmkit.kernel.errors import ValidationError

AccountId = NewType("AccountId", str)
"""Id of an `Account`."""
ContactId = NewType("ContactId", str)
"""Id of a `Contact`."""
ActivityId = NewType("ActivityId", str)
"""Id of an `Activity`."""
LeadId = NewType("LeadId", str)
"""Id of a `Lead`."""
OpportunityId = NewType("OpportunityId", str)
"""Id of an `Opportunity`."""
ProductId = NewType("ProductId", str)
"""Id of a `Product`."""
QuoteId = NewType("QuoteId", str)
"""Id of a `Quote` (each revision has its own)."""
ContractId = NewType("ContractId", str)
"""Id of a `Contract`."""
CampaignId = NewType("CampaignId", str)
"""Id of a marketing campaign."""
UserId = NewType("UserId", str)
"""Id of a user of the host application (an owner or an actor)."""
EventId = NewType("EventId", str)
"""Id of a stored domain event."""
TenantId = NewType("TenantId", str)
"""Id of a tenant; every record belongs to exactly one."""

DEFAULT_TENANT = TenantId("default")
"""The tenant that simple, single-tenant hosts use."""

_MAX_ID = 100


class IdGenerator(Protocol):
    """Makes a new, unique id string each time it is called."""

    def __call__(self) -> str:
        """Return a new id."""
        ...


class Uuid7Ids:
    """Time-ordered UUIDv7 strings (RFC 9562), monotonic within one generator.

    Within one millisecond a 12-bit counter keeps ids increasing; the rest is
    random. Thread-safe.
    """

    def __init__(self, clock: Clock | None = None, randbits: Callable[[int], int] | None = None):
        self._clock = clock or SystemClock()
        self._randbits = randbits or secrets.randbits
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self) -> str:
        """Return a new UUIDv7 in its canonical 36-character form."""
        ms = int(self._clock.now().timestamp() * 1000)
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFF:  # counter spent: borrow the next millisecond
                    ms += 1
                    self._counter = self._randbits(11)
            else:
                self._counter = self._randbits(11)
            self._last_ms = ms
            counter = self._counter
        value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62
        value |= self._randbits(62)
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class SequentialIds:
    """Predictable ids for tests and documentation: ``prefix-000001``, ``prefix-000002`` ...

    >>> ids = SequentialIds("c")
    >>> ids(), ids()
    ('c-000001', 'c-000002')
    """

    def __init__(self, prefix: str = "id", start: int = 1):
        self._prefix = prefix
        self._next = itertools.count(start)

    def __call__(self) -> str:
        """Return the next id."""
        return f"{self._prefix}-{next(self._next):06d}"


def check_id(value: object, field: str) -> str:
    """Validate an id: a non-empty string of printable ASCII without spaces, at most 100 long."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string id", value)
    if not 0 < len(value) <= _MAX_ID or not value.isascii() or not value.isprintable():
        raise ValidationError(field, f"must be 1 to {_MAX_ID} printable ASCII characters", value)
    if " " in value:
        raise ValidationError(field, "must not contain spaces", value)
    return value
