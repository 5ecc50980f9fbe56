"""Driver errors turned into crmkit's error tree.

``sqlite3`` raises its own exceptions, and some values Python accepts (a lone
surrogate, an integer beyond 64 bits) fail only when bound. The port promises
`StorageError` (or `ValidationError` for such a value), never a driver error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from crmkit.kernel.errors import StorageError, ValidationError


def translate(exc: sqlite3.Error) -> StorageError:
    """The crmkit error for a driver error (the caller chains the original)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(f"the database is locked: another writer held it too long ({exc})")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
        return StorageError("the store is closed")
    return StorageError(f"SQLite failed: {exc} ({name})")


@contextmanager
def driver_errors() -> Iterator[None]:
    """Turn everything ``sqlite3`` raises into crmkit's error tree."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc) from exc
    except (UnicodeEncodeError, OverflowError) as exc:
        raise bad_value(exc) from exc


def bad_value(exc: UnicodeEncodeError | OverflowError) -> ValidationError:
    """A value that the driver cannot bind (Python accepts both; SQLite does not)."""
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
        return ValidationError("text", "holds a lone surrogate, which SQLite cannot store")
    return ValidationError("integer", "does not fit a signed 64-bit integer")
