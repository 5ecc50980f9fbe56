"""What a unit of work writes to the audit trail: an unsealed entry and its payload.

An audit record has two parts that are stored apart:

- `AuditEntry`, the envelope: who did what to which record and when, and the
  *names* of the changed fields. It holds no personal values, so it can stay
  in the hash chain for ever.
- `AuditPayload`, the personal-bearing part: the full `Change` list as JSON
  text. Erasure deletes it.

The envelope holds a digest of the payload, so the chain vouches for the
payload without containing it. The digest is an HMAC-SHA256 under a secret
`AuditKey` that the host keeps outside the audit store. A plain or salted
SHA-256 would not do: a payload is mostly guessable (field names, record ids,
non-personal values), so anyone holding the envelope, salt included, could
confirm a guessed first name or birth date by trying a list of candidates.
Without the key the digest confirms nothing. The envelope names the key's id,
so keys can be rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import attrs

from crmkit.audit.diff import Change
from crmkit.kernel.checks import of_type, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.principal import ActorKind, Principal
from crmkit.kernel.serialization import dumps
from crmkit.kernel.text import clean_token
from crmkit.kernel.time import require_aware

MIN_KEY_BYTES: Final = 16
"""Shortest secret an `AuditKey` accepts (128 bits)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PAYLOAD_DOMAIN = b"crmkit.audit.payload/1\x00"


class EntryKind(StrEnum):
    """Whether an audit entry records a change or the erasure of earlier payloads."""

    CHANGE = "change"
    ERASURE = "erasure"


def _key_id(value: object) -> str:
    return check_id(value, "id")


def _secret(instance: object, attribute: object, value: Any) -> None:
    if not isinstance(value, bytes) or len(value) < MIN_KEY_BYTES:
        # Never show the value: it is a secret.
        raise ValidationError("secret", f"must be at least {MIN_KEY_BYTES} bytes", personal=True)


@attrs.frozen
class AuditKey:
    """A secret for payload digests, kept by the host outside the audit store.

    Attributes:
        id: Names the key in every entry whose digest it made (for rotation).
        secret: At least 16 random bytes; never shown in ``repr``.
    """

    id: str = attrs.field(converter=_key_id)
    secret: bytes = attrs.field(validator=_secret, repr=False)


def payload_digest(key: AuditKey, entry_id: str, body: str) -> str:
    """HMAC-SHA256 (hex) of a payload, bound to its entry's id."""
    message = b"".join(
        (
            _PAYLOAD_DOMAIN,
            entry_id.encode("utf-8", "surrogatepass"),
            b"\x00",
            body.encode("utf-8", "surrogatepass"),
        )
    )
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def payload_body(changes: Iterable[Change]) -> str:
    """The JSON text of a payload: the list of changes, in order."""
    return dumps([change.to_json() for change in changes])


def check_hex64(value: object, field: str) -> str:
    """Validate a SHA-256 digest written as 64 lower-case hex digits."""
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise ValidationError(field, "must be 64 lower-case hex digits", value)
    return value


def _entry_id(value: object) -> str:
    return check_id(value, "id")


def _at(value: object) -> datetime:
    # Stored instants come back in UTC; normalising here keeps the hash stable.
    return require_aware(value, "at").astimezone(UTC)


def _principal_id(value: object) -> str:
    return check_id(value, "principal_id")


_to_actor_kind = to_enum(ActorKind, "actor_kind")


def _actor_kind(value: object) -> ActorKind:
    return _to_actor_kind(value)


def _command(value: object) -> str:
    return check_id(value, "command")


def _record_kind(value: object) -> str:
    return clean_token(value, "record_kind")


def _record_id(value: object) -> str:
    return check_id(value, "record_id")


def _record_version(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("record_version", "must be a positive integer or None", value)
    return value


def _names(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ValidationError(field, "must be a tuple of names", value)
    return tuple(check_id(item, f"{field}[{index}]") for index, item in enumerate(value))


def _fields(value: object) -> tuple[str, ...]:
    return _names(value, "fields")


def _erased(value: object) -> tuple[str, ...]:
    return _names(value, "erased")


def _digest(value: object) -> str | None:
    return None if value is None else check_hex64(value, "payload_digest")


def _optional_key_id(value: object) -> str | None:
    return None if value is None else check_id(value, "key_id")


_to_kind = to_enum(EntryKind, "kind")


def _kind(value: object) -> EntryKind:
    return _to_kind(value)


@attrs.frozen(kw_only=True)
class AuditEntry:
    """The envelope of one audit record, as a unit of work writes it (not yet sealed).

    It names the changed fields but holds no personal values. Build one with
    `record_change` or `record_erasure`, which keep the fields consistent;
    `crmkit.audit.chain.verify` checks that consistency again.

    Attributes:
        id: The entry's id (time-ordered, like every crmkit id).
        at: When the change was made (timezone-aware; kept in UTC).
        principal_id: Id of the acting principal.
        actor_kind: Whether a user, a rule or a job acted.
        command: What was done: an event type or a service command name.
        record_kind: The storage kind of the record, for example ``contact``.
        record_id: The record's id.
        record_version: The record's version after the change (None for an erasure).
        fields: Names of the changed fields, in the record's field order.
        payload_digest: HMAC-SHA256 of the payload (None for an erasure, which has none).
        key_id: Id of the `AuditKey` that made the digest (None for an erasure).
        kind: A change, or the erasure of earlier payloads.
        erased: For an erasure, the ids of the entries whose payloads were erased.
    """

    id: str = attrs.field(converter=_entry_id)
    at: datetime = attrs.field(converter=_at)
    principal_id: str = attrs.field(converter=_principal_id)
    actor_kind: ActorKind = attrs.field(converter=_actor_kind)
    command: str = attrs.field(converter=_command)
    record_kind: str = attrs.field(converter=_record_kind)
    record_id: str = attrs.field(converter=_record_id)
    record_version: int | None = attrs.field(converter=_record_version)
    fields: tuple[str, ...] = attrs.field(default=(), converter=_fields)
    payload_digest: str | None = attrs.field(default=None, converter=_digest)
    key_id: str | None = attrs.field(default=None, converter=_optional_key_id)
    kind: EntryKind = attrs.field(default=EntryKind.CHANGE, converter=_kind)
    erased: tuple[str, ...] = attrs.field(default=(), converter=_erased)

    def problem(self) -> str | None:
        """What makes the entry inconsistent with its kind, or None if nothing does."""
        if self.kind is EntryKind.CHANGE:
            if self.payload_digest is None or self.key_id is None:
                return "a change entry must carry a payload digest and a key id"
            if self.record_version is None or self.erased:
                return "a change entry must have a record version and erase nothing"
            return None
        if self.payload_digest is not None or self.key_id is not None or self.fields:
            return "an erasure entry must carry no payload digest, key id or fields"
        if not self.erased:
            return "an erasure entry must name the entries it erases"
        return None


def _entry_id_of(value: object) -> str:
    return check_id(value, "entry_id")


@attrs.frozen
class AuditPayload:
    """The personal-bearing part of an audit record, stored apart from the chain.

    Attributes:
        entry_id: Id of the `AuditEntry` it belongs to.
        body: The entry's changes as JSON text (see `payload_body`).
    """

    entry_id: str = attrs.field(converter=_entry_id_of)
    body: str = attrs.field(validator=of_type(str))


def record_change(
    id: str,
    at: datetime,
    principal: Principal,
    command: str,
    record_kind: str,
    record_id: str,
    record_version: int,
    changes: Iterable[Change],
    key: AuditKey,
) -> tuple[AuditEntry, AuditPayload]:
    """The envelope and the payload that record ``changes`` to one record."""
    if not isinstance(principal, Principal):
        raise ValidationError("principal", "must be a Principal", type(principal).__name__)
    if not isinstance(key, AuditKey):
        raise ValidationError("key", "must be an AuditKey", personal=True)
    listed = tuple(changes)
    for index, change in enumerate(listed):
        if not isinstance(change, Change):
            raise ValidationError(f"changes[{index}]", "must be a Change", type(change).__name__)
    if record_version is None:
        raise ValidationError("record_version", "must be a positive integer")
    entry_id = _entry_id(id)
    body = payload_body(listed)
    entry = AuditEntry(
        id=entry_id,
        at=at,
        principal_id=principal.id,
        actor_kind=principal.kind,
        command=command,
        record_kind=record_kind,
        record_id=record_id,
        record_version=record_version,
        fields=tuple(change.field for change in listed),
        payload_digest=payload_digest(key, entry_id, body),
        key_id=key.id,
    )
    return entry, AuditPayload(entry_id, body)


def record_erasure(
    id: str,
    at: datetime,
    principal: Principal,
    erased: Iterable[str],
    *,
    record_kind: str,
    record_id: str,
    command: str = "erase",
) -> AuditEntry:
    """The envelope that records the erasure of the payloads of the ``erased`` entries.

    ``record_kind`` and ``record_id`` name the data subject (for example the
    contact whose data was erased). The entry holds no personal data itself.
    """
    if not isinstance(principal, Principal):
        raise ValidationError("principal", "must be a Principal", type(principal).__name__)
    if isinstance(erased, str) or not isinstance(erased, Iterable):
        raise ValidationError("erased", "must be a list of entry ids", erased)
    ids = _erased(tuple(erased))
    if not ids:
        raise ValidationError("erased", "must name at least one entry")
    return AuditEntry(
        id=id,
        at=at,
        principal_id=principal.id,
        actor_kind=principal.kind,
        command=command,
        record_kind=record_kind,
        record_id=record_id,
        record_version=None,
        kind=EntryKind.ERASURE,
        erased=ids,
    )
