"""The sealed audit chain: `seal` links entries by hash, `verify` checks the links.

One writer seals: it takes the entries that units of work wrote (unsealed,
with no shared chain head to contend for) and appends them to the chain with
`seal`, which numbers them 1, 2, ... and links each to the one before by
hash. Units of work never touch the chain head, so they never serialise on it.

`verify` reads the chain once, oldest first, and checks every envelope, every
link and every payload that is still there. A payload may be missing only if
an erasure entry names its entry; such entries are reported as redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from typing import Any, Final

import attrs

from crmkit.audit.entry import (
    AuditEntry as AuditEntry,
    AuditKey,
    AuditPayload as AuditPayload,
    EntryKind,
    check_hex64,
    payload_digest,
)
from crmkit.kernel.checks import of_type
from crmkit.kernel.errors import ValidationError

GENESIS: Final = "0" * 64
"""The ``prev_hash`` of the first sealed entry."""

_FORMAT: Final = "crmkit.audit/1"

PayloadLookup = Mapping[str, str | None] | Callable[[str], str | None]
"""Where `verify` finds payload bodies by entry id: a mapping or a function (None: missing)."""


def _sequence(instance: object, attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("sequence", "must be a positive integer", value)


def _prev_hash(value: object) -> str:
    return check_hex64(value, "prev_hash")


def _hash(value: object) -> str:
    return check_hex64(value, "hash")


@attrs.frozen
class SealedEntry:
    """An audit entry in the chain: numbered, and linked to the entry before it.

    Attributes:
        sequence: Position in the chain, from 1 with no gaps.
        entry: The envelope that a unit of work wrote.
        prev_hash: The ``hash`` of the entry before (`GENESIS` for the first).
        hash: SHA-256 (hex) of the canonical encoding of the fields above; see `entry_hash`.
    """

    sequence: int = attrs.field(validator=_sequence)
    entry: AuditEntry = attrs.field(validator=of_type(AuditEntry))
    prev_hash: str = attrs.field(converter=_prev_hash)
    hash: str = attrs.field(converter=_hash)


def entry_hash(sequence: int, entry: AuditEntry, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical encoding of a sealed entry's contents.

    The encoding is a JSON array in a fixed order, with a format tag first and
    the instant in UTC with microseconds, so it does not depend on dict order,
    on the offset an instant was stored with, or on the converter.
    """
    canonical = [
        _FORMAT,
        sequence,
        entry.id,
        entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.principal_id,
        entry.actor_kind.value,
        entry.command,
        entry.record_kind,
        entry.record_id,
        entry.record_version,
        entry.kind.value,
        list(entry.fields),
        list(entry.erased),
        entry.payload_digest,
        entry.key_id,
        prev_hash,
    ]
    text = json.dumps(canonical, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def seal(last: SealedEntry | None, entries: Iterable[AuditEntry]) -> list[SealedEntry]:
    """Append ``entries`` after ``last`` (None: start the chain), ordered by (at, id).

    Pure: returns the new sealed entries and changes nothing. The order holds
    within one call; an entry sealed later may carry an earlier ``at`` (a unit
    of work that committed late), since the sequence, not the time, orders the chain.

    Raises:
        ValidationError: ``last`` is not a `SealedEntry`, an item is not an
            `AuditEntry` or is inconsistent with its kind, or two items share an id.
    """
    if last is not None and not isinstance(last, SealedEntry):
        raise ValidationError("last", "must be a SealedEntry or None", type(last).__name__)
    batch = list(entries)
    seen: set[str] = set()
    for index, entry in enumerate(batch):
        if not isinstance(entry, AuditEntry):
            raise ValidationError(
                f"entries[{index}]", "must be an AuditEntry", type(entry).__name__
            )
        problem = entry.problem()
        if problem is not None:
            raise ValidationError(f"entries[{index}]", problem)
        if entry.id in seen:
            raise ValidationError(f"entries[{index}].id", "is given twice", entry.id)
        seen.add(entry.id)
    batch.sort(key=_order)
    sequence = 0 if last is None else last.sequence
    prev = GENESIS if last is None else last.hash
    sealed = []
    for entry in batch:
        sequence += 1
        digest = entry_hash(sequence, entry, prev)
        sealed.append(SealedEntry(sequence, entry, prev, digest))
        prev = digest
    return sealed


def _order(entry: AuditEntry) -> tuple[object, str]:
    return entry.at, entry.id


@attrs.frozen
class VerifyReport:
    """What `verify` found.

    Attributes:
        ok: Whether the whole chain verified.
        checked: How many entries passed every check before verification stopped.
        first_bad: Sequence number of the first entry that failed, or None.
        reason: What failed there (never personal data), or None.
        redacted: Sequence numbers of entries whose payload was erased, ascending.
        head_hash: Hash of the last entry that passed; compare it with a copy
            kept elsewhere to detect a truncated or rewritten chain.
    """

    ok: bool
    checked: int
    first_bad: int | None = None
    reason: str | None = None
    redacted: tuple[int, ...] = ()
    head_hash: str | None = None


def verify(
    sealed: Iterable[SealedEntry],
    payloads: PayloadLookup,
    keys: AuditKey | Iterable[AuditKey],
) -> VerifyReport:
    """Check a whole chain, oldest first, in one pass; stop at the first failure.

    For each entry, in this order: its sequence continues the one before (no
    gap, no reordering); its ``hash`` matches its contents; its ``prev_hash``
    is the hash before it (`GENESIS` first); it is consistent with its kind;
    and, for a change, its payload (looked up by entry id in ``payloads``)
    matches its digest under the key it names. A missing payload is allowed
    only when an erasure entry names its entry, before or after it: missing
    payloads are held until the end of the pass and then reported as redacted,
    or as the failure if no erasure covered them. Memory grows with the number
    of missing payloads and erased ids, never with the length of the chain.

    Raises:
        ValidationError: an item is not a `SealedEntry`, ``payloads`` is neither
            a mapping nor callable, or ``keys`` holds something that is not an
            `AuditKey` (never for a tampered chain: that is a failed report).
    """
    lookup = _lookup(payloads)
    by_id = _keys(keys)
    missing: dict[str, int] = {}  # entry id -> sequence, payload missing, not yet covered
    erased: set[str] = set()
    redacted: list[int] = []
    prev = GENESIS
    checked = 0
    for index, item in enumerate(sealed):
        if not isinstance(item, SealedEntry):
            raise ValidationError(f"sealed[{index}]", "must be a SealedEntry", type(item).__name__)
        expected = checked + 1
        failure = _check_envelope(item, expected, prev)
        if failure is None:
            failure = _check_payload(item, lookup, by_id, erased, missing, redacted)
        if failure is not None:
            head = None if checked == 0 else prev
            reason = f"entry {expected}: {failure}"
            return VerifyReport(False, checked, expected, reason, _sorted(redacted), head)
        checked += 1
        prev = item.hash
    head = None if checked == 0 else prev
    if missing:
        first = min(missing.values())
        reason = f"entry {first}: payload is missing and no erasure entry covers it"
        return VerifyReport(False, checked, first, reason, _sorted(redacted), head)
    return VerifyReport(True, checked, redacted=_sorted(redacted), head_hash=head)


def _check_envelope(item: SealedEntry, expected: int, prev: str) -> str | None:
    if item.sequence != expected:
        return f"found sequence {item.sequence} (an entry is missing or out of order)"
    if not hmac.compare_digest(entry_hash(item.sequence, item.entry, item.prev_hash), item.hash):
        return "hash does not match its contents (the envelope was changed)"
    if item.prev_hash != prev:
        before = "the genesis hash" if expected == 1 else f"the hash of entry {expected - 1}"
        return f"prev_hash is not {before} (the chain is broken)"
    return item.entry.problem()


def _check_payload(
    item: SealedEntry,
    lookup: Callable[[str], object],
    keys: Mapping[str, AuditKey],
    erased: set[str],
    missing: dict[str, int],
    redacted: list[int],
) -> str | None:
    entry = item.entry
    if entry.kind is EntryKind.ERASURE:
        for entry_id in entry.erased:
            erased.add(entry_id)
            sequence = missing.pop(entry_id, None)
            if sequence is not None:
                redacted.append(sequence)
        return None
    body = lookup(entry.id)
    if body is None:
        if entry.id in erased:
            redacted.append(item.sequence)
        else:
            missing[entry.id] = item.sequence
        return None
    if not isinstance(body, str):
        return "payload is not text"
    key = keys.get(entry.key_id or "")
    if key is None:
        return f"names the unknown payload key {entry.key_id!r}"
    digest = payload_digest(key, entry.id, body)
    if not hmac.compare_digest(digest, entry.payload_digest or ""):
        return "payload does not match its digest (the payload was changed)"
    return None


def _lookup(payloads: object) -> Callable[[str], object]:
    if isinstance(payloads, Mapping):
        return payloads.get
    if callable(payloads):
        return payloads
    raise ValidationError("payloads", "must be a mapping or a function", type(payloads).__name__)


def _keys(keys: object) -> dict[str, AuditKey]:
    given = (keys,) if isinstance(keys, AuditKey) else keys
    if not isinstance(given, Iterable):
        raise ValidationError("keys", "must be an AuditKey or several", personal=True)
    result: dict[str, AuditKey] = {}
    for key in given:
        if not isinstance(key, AuditKey):
            raise ValidationError("keys", "must hold only AuditKey values", personal=True)
        result[key.id] = key
    return result


def _sorted(values: list[int]) -> tuple[int, ...]:
    return tuple(sorted(values))
