"""The base of the storage kit's test groups: the hooks they call on the contract.

`crmkit.testing.storage.StorageContract` inherits its tests from a few themed
groups (documents, queries, events and outbox, failures, the reference walk)
and defines the hooks they use: `make_store`, `inject_commit_fault` and
`opened`. The groups derive from `ContractHooks`, which declares those hooks
for the type checker only, so that each is defined (and documented) once, on
the contract. No group is named ``Test...``, so pytest collects them only
through a subclass of the contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from crmkit.ports.storage import DocumentStore


class ContractHooks:
    """Declares the hooks that `StorageContract` defines, for the test groups' type checks."""

    if TYPE_CHECKING:

        def make_store(self) -> DocumentStore: ...

        def inject_commit_fault(
            self, store: DocumentStore
        ) -> AbstractContextManager[None] | None: ...

        def opened(self) -> AbstractContextManager[DocumentStore]: ...
