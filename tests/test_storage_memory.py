"""`MemoryStore`, the reference, passes its own conformance kit."""

from __future__ import annotations

import pytest

from crmkit.adapters.memory import MemoryStore
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.serialization import loads, make_converter, structure
from crmkit.ports.aggregate import Aggregating
from crmkit.ports.erasure import ERASED_BODY, Erasing
from crmkit.ports.notify import Message
from crmkit.ports.storage import DocumentStore
from crmkit.testing.storage import StorageContract


class TestMemoryStore(StorageContract):
    """The storage contract on the in-memory store."""

    def make_store(self) -> DocumentStore:
        return MemoryStore()

    def test_aggregates_are_pushed_down(self) -> None:
        """The store offers the optional capability, so the kit's aggregate tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Aggregating)

    def test_erasure_is_offered(self) -> None:
        """The store offers the optional capability, so the kit's erasure tests run on it."""
        with self.opened() as store:
            assert isinstance(store, Erasing)


def test_an_erased_body_is_not_a_message() -> None:
    """The dispatcher structures bodies as Messages: the placeholder fails, so it dead-letters."""
    with pytest.raises(ValidationError):
        structure(make_converter(), loads(ERASED_BODY), Message)
