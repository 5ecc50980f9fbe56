"""Driver errors turned into crmkit's error tree.

psycopg raises its own exceptions, and some values Python accepts (a lone
surrogate, NUL in text, an integer beyond 64 bits) fail only when sent. The
port promises `StorageError` (or `ValidationError` for such a value), never a
driver error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors

from crmkit.kernel.errors import StorageError, ValidationError

RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected)
"""Errors after which the same change set may well succeed (or conflict) on a second try."""


def translate(exc: psycopg.Error) -> StorageError:
    """The crmkit error for a driver error (the caller chains the original)."""
    state = getattr(exc, "sqlstate", None) or type(exc).__name__
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, errors.QueryCanceled):
        return StorageError(f"PostgreSQL is unreachable or the connection broke: {exc}")
    if isinstance(exc, psycopg.InterfaceError):
        return StorageError(f"the PostgreSQL connection is unusable: {exc}")
    if isinstance(exc, errors.UndefinedTable | errors.UndefinedColumn):
        return StorageError(f"the tables do not match the schema (open the store again): {exc}")
    return StorageError(f"PostgreSQL failed: {exc} ({state})")


def bad_value(exc: Exception) -> ValidationError:
    """A value that PostgreSQL cannot store (Python accepts it)."""
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        return ValidationError("text", "holds a lone surrogate, which PostgreSQL cannot store")
    if isinstance(exc, errors.NumericValueOutOfRange):
        return ValidationError("integer", "does not fit a signed 64-bit integer")
    if "NUL" in str(exc) or isinstance(exc, errors.UntranslatableCharacter):
        return ValidationError("text", "holds a NUL character, which PostgreSQL cannot store")
    if isinstance(exc, errors.InvalidTextRepresentation | errors.InvalidParameterValue):
        return ValidationError("body", f"is not valid JSON text: {exc}")
    return ValidationError("value", f"PostgreSQL cannot store it: {exc}")


@contextmanager
def driver_errors() -> Iterator[None]:
    """Turn everything psycopg raises into crmkit's error tree."""
    try:
        yield
    except psycopg.DataError as exc:
        raise bad_value(exc) from exc
    except psycopg.Error as exc:
        raise translate(exc) from exc
    except (UnicodeEncodeError, OverflowError) as exc:
        raise bad_value(exc) from exc
