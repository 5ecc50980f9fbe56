"""Who is calling: the principal of a request, and the unit of work it acts in.

A STAND-IN for the host's authentication. The caller names itself in
``X-User`` and its roles and teams in ``X-Roles`` and ``X-Teams`` (comma
separated), and this module believes it. A real host derives the principal
from its own authentication instead (a session, a verified token) and never
from headers the client chooses.
"""

from __future__ import annotations

from typing import cast

from flask import current_app, request
from werkzeug.exceptions import Unauthorized

from crmkit import Crm, Principal, UnitOfWork, ValidationError

USER_HEADER = "X-User"
"""The header naming the calling user (the stand-in for authentication)."""
ROLES_HEADER = "X-Roles"
"""The header listing the caller's roles, comma separated."""
TEAMS_HEADER = "X-Teams"
"""The header listing the caller's teams, comma separated."""

CRM_EXTENSION = "crmkit"
"""The key of the application's `Crm` in ``app.extensions``."""


def current_crm() -> Crm:
    """The `Crm` that `create_app` was given."""
    return cast(Crm, current_app.extensions[CRM_EXTENSION])


def current_principal() -> Principal:
    """The principal named by the request's headers; 401 when there is none or it is bad."""
    user = request.headers.get(USER_HEADER, "").strip()
    if not user:
        raise Unauthorized(f"name the caller in the {USER_HEADER} header")
    try:
        return Principal(
            user,
            roles=_names(request.headers.get(ROLES_HEADER, "")),
            teams=_names(request.headers.get(TEAMS_HEADER, "")),
        )
    except ValidationError as exc:
        # A malformed identity is an authentication failure, not bad input.
        raise Unauthorized(f"{exc.field}: {exc.rule}") from None


def unit_of_work() -> UnitOfWork:
    """A new unit of work for the request's principal: use it in one ``with`` block."""
    return current_crm().unit_of_work(current_principal())


def _names(header: str) -> frozenset[str]:
    return frozenset(name.strip() for name in header.split(",") if name.strip())
