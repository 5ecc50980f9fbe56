"""The one error handler: crmkit's errors (and Flask's own) as HTTP statuses with JSON bodies.

| error | status | body beyond ``error`` and ``message`` |
| --- | --- | --- |
| `ValidationError` | 422 | ``field``, ``rule`` (never the value) |
| `NotFound` | 404 | ``kind``, ``id`` |
| `PermissionDenied` | 403 | |
| `ConcurrencyConflict` | 409 | ``kind``, ``id``, ``expected`` |
| `DuplicateRecord` | 409 | ``kind``, ``field`` |
| `InvalidTransition` | 409 | ``aggregate``, ``state``, ``command``, ``reason`` |
| `StorageError` | 503 | (logged; no detail) |
| any other `CrmError` or exception | 500 | (logged; no detail) |
| Flask's ``HTTPException`` | its own | |
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from werkzeug.exceptions import HTTPException

from crmkit import (
    ConcurrencyConflict,
    DuplicateRecord,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StorageError,
    ValidationError,
)
from crmkit.kernel.serialization import dumps

PROBLEM_TYPE = "application/problem+json"
"""The media type of error bodies (RFC 9457 problem details, loosely)."""


def problem(exc: Exception) -> Response:
    """The JSON response for ``exc``; registered for every `Exception` by `create_app`."""
    status, body = _describe(exc)
    response = Response(dumps(body), status=status, mimetype=PROBLEM_TYPE)
    if isinstance(exc, HTTPException):
        for name, value in exc.get_headers():  # WWW-Authenticate, Allow ...
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def _describe(exc: Exception) -> tuple[int, dict[str, Any]]:
    # Order matters where classes share a parent: the first match wins.
    if isinstance(exc, ValidationError):
        # The value is left out even when the error holds it: the client sent it, and a
        # shape error ("must be an object") is not always marked personal.
        return 422, _body("invalid", f"{exc.field}: {exc.rule}", field=exc.field, rule=exc.rule)
    if isinstance(exc, NotFound):
        return 404, _body("not_found", str(exc), kind=exc.kind, id=exc.id)
    if isinstance(exc, PermissionDenied):
        return 403, _body("forbidden", str(exc))
    if isinstance(exc, ConcurrencyConflict):
        return 409, _body("conflict", str(exc), kind=exc.kind, id=exc.id, expected=exc.expected)
    if isinstance(exc, DuplicateRecord):
        return 409, _body("duplicate", str(exc), kind=exc.kind, field=exc.field)
    if isinstance(exc, InvalidTransition):
        # 409, not 422: the request is well formed; the record's state refuses it.
        return 409, _body(
            "invalid_transition",
            str(exc),
            aggregate=exc.aggregate,
            state=exc.state,
            command=exc.command,
            reason=exc.reason,
        )
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        return code, _body(name, exc.description or name)
    if isinstance(exc, StorageError):
        current_app.logger.exception("storage failed")
        return 503, _body("unavailable", "the store is unavailable; try again later")
    # Any other CrmError (a policy loop, a misused unit of work) or exception is the
    # host's bug, not the client's: log it, and show nothing of it.
    current_app.logger.exception("unexpected error")
    return 500, _body("internal", "internal error")


def _body(error: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": error, "message": message, **details}
