"""The one error tree that every crmkit call raises from.

Callers catch `CrmError` (or one of its children) and never a driver's or the
standard library's own exceptions: adapters and the converter translate those.
"""

from __future__ import annotations

_REDACTED = "<redacted>"


class CrmError(Exception):
    """Base class of every error that crmkit raises on purpose."""


class ValidationError(CrmError, ValueError):
    """A value broke a rule.

    Attributes:
        field: Dotted path of the offending field, for example ``emails[0].address``.
        rule: Short description of the rule that was broken.
        value: The offending value, or ``None`` when the field holds personal data.
        personal: Whether the field holds personal data (its value is then never shown).
    """

    def __init__(self, field: str, rule: str, value: object = None, *, personal: bool = False):
        self.field = field
        self.rule = rule
        self.personal = personal
        self.value = None if personal else value
        if personal:
            shown = f" (value {_REDACTED})"
        elif value is None:
            shown = ""
        else:
            shown = f" (got {_short_repr(value)})"
        super().__init__(f"{field}: {rule}{shown}")

    def at(self, prefix: str) -> ValidationError:
        """Return the same error with its field path placed under ``prefix``."""
        if not prefix:
            return self
        if not self.field or self.field == "$":
            path = prefix
        elif self.field.startswith("["):
            path = prefix + self.field
        else:
            path = f"{prefix}.{self.field}"
        return ValidationError(path, self.rule, self.value, personal=self.personal)


class InvalidTransition(CrmError):
    """A command is not allowed in the aggregate's current state.

    Attributes:
        aggregate: Name of the lifecycle, for example ``lead``.
        state: The state the aggregate is in.
        command: The command that was refused.
        reason: Why, when a guard (not the table) refused it.
    """

    def __init__(self, aggregate: str, state: str, command: str, reason: str | None = None):
        self.aggregate = aggregate
        self.state = state
        self.command = command
        self.reason = reason
        because = f": {reason}" if reason else ""
        super().__init__(f"{aggregate} in state {state!r} cannot {command!r}{because}")


class NotFound(CrmError, LookupError):
    """No record of this kind has this id (in this tenant).

    Attributes:
        kind: The record kind, for example ``contact``.
        id: The id that was looked up.
    """

    def __init__(self, kind: str, id: str):
        self.kind = kind
        self.id = id
        super().__init__(f"no {kind} with id {id!r}")


class ConcurrencyConflict(CrmError):
    """A write expected a version of a record that is no longer current.

    Attributes:
        kind: The record kind.
        id: The record id.
        expected: The version the writer had read (0 for a new record).
    """

    def __init__(self, kind: str, id: str, expected: int):
        self.kind = kind
        self.id = id
        self.expected = expected
        what = "does not exist yet" if expected == 0 else f"version {expected}"
        super().__init__(f"{kind} {id!r} changed since it was read (expected {what})")


class DuplicateRecord(CrmError):
    """A write would give a unique key (id or unique index) to a second record.

    Attributes:
        kind: The record kind.
        field: The unique field (``id`` for the record id).
    """

    def __init__(self, kind: str, field: str):
        self.kind = kind
        self.field = field
        super().__init__(f"another {kind} already has this {field}")


class PermissionDenied(CrmError):
    """The acting principal may not do this."""


class StorageError(CrmError):
    """The storage backend failed (closed, unreachable, corrupt or interrupted)."""


class SchemaError(StorageError):
    """The stored schema does not match what this version of crmkit expects."""


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
