"""Who acts: a user, a rule or a job, with roles and teams."""

from __future__ import annotations

from enum import StrEnum

import attrs

from crmkit.kernel.checks import of_type
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id


class ActorKind(StrEnum):
    """What kind of actor a principal is."""

    USER = "user"
    RULE = "rule"
    JOB = "job"


def _principal_id(value: object) -> str:
    return check_id(value, "id")


def _names(value: object, field: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, frozenset | set | tuple | list):
        raise ValidationError(field, "must be a collection of names", value)
    return frozenset(check_id(item, field) for item in value)


def _roles(value: object) -> frozenset[str]:
    return _names(value, "roles")


def _teams(value: object) -> frozenset[str]:
    return _names(value, "teams")


@attrs.frozen
class Principal:
    """The acting identity behind a unit of work; its id is recorded on every event.

    Attributes:
        id: The user's (or rule's or job's) id in the host application.
        roles: Role names, for access policies.
        teams: Team ids, for team-scoped access.
        kind: User, rule or job.

    >>> Principal("u-1", roles={"sales_rep"}).id
    'u-1'
    """

    id: str = attrs.field(converter=_principal_id)
    roles: frozenset[str] = attrs.field(default=frozenset(), converter=_roles)
    teams: frozenset[str] = attrs.field(default=frozenset(), converter=_teams)
    kind: ActorKind = attrs.field(default=ActorKind.USER, validator=of_type(ActorKind))


SYSTEM = Principal("system", kind=ActorKind.JOB)
"""The principal of work that crmkit or the host does on its own behalf."""
