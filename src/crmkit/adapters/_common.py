"""Driver-free helpers that the SQL adapters share; nothing here is public API.

* Index values travel as compact JSON text beside the typed columns, so that
  reads return exactly what was written; `lazy_index` decodes them only when a
  caller looks at them.
* `net_writes` collapses a change set's writes to one statement per id, so
  that a commit can send them grouped by kind with ``executemany``; `replay`
  and `unique_values` find the first failing write when a commit failed.

It imports the ports and the kernel only, so that no adapter imports another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from crmkit.kernel.errors import ConcurrencyConflict, DuplicateRecord, StorageError
from crmkit.ports.storage import Document, IndexValue, Put, Write

encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
"""Compact JSON text, non-ASCII kept as it is."""


def _index(text: str) -> dict[str, IndexValue]:
    """Decode the ``_index`` column: JSON keeps bools and ints apart; lists become tuples."""
    if text == "{}":
        return {}
    index: dict[str, Any] = json.loads(text)
    for name, value in index.items():
        if type(value) is list:
            index[name] = tuple(value)
    return index


class _LazyIndex(Mapping[str, IndexValue]):
    """A document's index values, decoded on first use: most reads never look at them."""

    __slots__ = ("_data", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._data: dict[str, IndexValue] | None = None

    def _decoded(self) -> dict[str, IndexValue]:
        if self._data is None:
            self._data = _index(self._text)
        return self._data

    def __getitem__(self, name: str) -> IndexValue:
        # Callers often ask for one field (the unit of work reads its idempotency
        # key on every load). A key is a token, written as "name" in the JSON:
        # when that text is missing, so is the key, and nothing needs decoding.
        if self._data is None and f'"{name}"' not in self._text:
            raise KeyError(name)
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())


def lazy_index(text: str) -> Mapping[str, IndexValue]:
    """The index values of an ``_index`` column, decoded when first read."""
    return {} if text == "{}" else _LazyIndex(text)


class KindWrites:
    """The net effect of a change set on one kind, keyed by each id's first expected version."""

    __slots__ = ("absent", "deletes", "inserts", "updates")

    def __init__(self) -> None:
        self.inserts: list[Document] = []
        self.updates: list[tuple[Document, int]] = []
        self.deletes: list[tuple[str, int]] = []
        self.absent: list[str] = []  # created and deleted again: must not exist now


def target(write: Write) -> tuple[str, str, Document | None]:
    if isinstance(write, Put):
        return write.doc.kind, write.doc.id, write.doc
    return write.kind, write.id, None


def net_writes(writes: Sequence[Write]) -> dict[str, KindWrites] | None:
    """Collapse writes to one statement per id; None when they contradict each other."""
    first: dict[tuple[str, str], int] = {}
    final: dict[tuple[str, str], Document | None] = {}
    for write in writes:
        kind, id, doc = target(write)
        key = (kind, id)
        if key in final:
            previous = final[key]
            if (0 if previous is None else previous.version) != write.expected_version:
                return None
        else:
            first[key] = write.expected_version
        final[key] = doc
    groups: dict[str, KindWrites] = {}
    for (kind, id), doc in final.items():
        group = groups.get(kind) or groups.setdefault(kind, KindWrites())
        expected = first[kind, id]
        if expected == 0 and doc is not None:
            group.inserts.append(doc)
        elif expected == 0:
            group.absent.append(id)
        elif doc is not None:
            group.updates.append((doc, expected))
        else:
            group.deletes.append((id, expected))
    return groups


def replay(writes: Sequence[Write], stored: Mapping[tuple[str, str], int]) -> dict[str, KindWrites]:
    """Raise what `MemoryStore` raises for the first write that misses its version; else net writes.

    ``stored`` holds the current version of each (kind, id) the writes touch.
    """
    staged: dict[tuple[str, str], int] = {}
    for write in writes:
        kind, id, doc = target(write)
        current = staged[kind, id] if (kind, id) in staged else stored.get((kind, id), 0)
        if current != write.expected_version:
            if write.expected_version == 0:
                raise DuplicateRecord(kind, "id")
            raise ConcurrencyConflict(kind, id, write.expected_version)
        staged[kind, id] = 0 if doc is None else doc.version
    net = net_writes(writes)
    if net is None:  # cannot happen once the replay above passed
        raise StorageError("the change set contradicts itself")
    return net


def unique_values(kind: str, field: str, writes: KindWrites) -> tuple[list[Any], set[str]]:
    """The values of unique ``field`` the writes leave, and every id they touch.

    Raises `DuplicateRecord` when two of the written documents share a value;
    a stored row holding one of the values clashes unless its id is touched.
    """
    final = [*writes.inserts, *(doc for doc, _ in writes.updates)]
    touched = {doc.id for doc in final}
    touched.update(id for id, _ in writes.deletes)
    values: dict[Any, None] = {}
    for doc in final:
        value = doc.index.get(field)
        if value is not None:
            if value in values:
                raise DuplicateRecord(kind, field)
            values[value] = None
    return list(values), touched
