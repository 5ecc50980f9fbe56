"""Role-based access control: grants of actions on kinds, scoped by ownership, and field masks.

A `Grant` gives a role some actions on some kinds, over the records the
principal owns (`Ownership.OWN`), those its team owns (`Ownership.TEAM`) or
all of them (`Ownership.ALL`). A `FieldMask` hides attributes of a kind's
aggregate from a role. `RoleBasedPolicy` turns them into the answers of the
`crmkit.ports.access.AccessPolicy` port.

Rules:

* **No role, no access.** A principal whose roles grant nothing on a (kind,
  action) pair gets `Scope.nothing`.
* **The broadest grant wins.** Over the principal's roles, ``all`` beats
  ``team``, which beats ``own``.
* **Own** is ``Eq(owner_field, principal.id)``.
* **Team** is ``In(owner_field, ids)``: the principal and every user of the
  `Directory` who shares one of the principal's teams (inactive users too, so
  a departed colleague's records stay visible). Conditions only combine with
  AND, so team scope is always owner-based, even for kinds that also index a
  ``team`` (service cases): an unassigned case is not in anyone's team scope.
  Without a directory, team scope is the principal's own records.
* **Owner fields.** Each kind names the index field that holds its owner
  (`KIND_OWNERS`); a kind without one accepts only ``all`` grants, and the
  policy refuses ``own`` and ``team`` grants for it when it is built.
* **Masks intersect.** Among the principal's roles that may read the kind, a
  field is hidden only if every one of them hides it (one role that shows a
  field shows it). If none of its roles may read the kind, every field any
  of its roles masks stays hidden.

>>> from crmkit.kernel.principal import Principal
>>> policy = RoleBasedPolicy(
...     grants=(Grant("rep", ("opportunity",), ("read", "update"), "own"),),
...     masks=(FieldMask("rep", "campaign", ("budget",)),),
... )
>>> policy.scope(Principal("u-1", roles={"rep"}), "opportunity", Action.READ)
Scope(conditions=(Eq(field='owner_id', value='u-1'),))
>>> policy.can(Principal("u-1", roles={"rep"}), "opportunity", Action.UPDATE, {"owner_id": "u-2"})
False
>>> policy.scope(Principal("u-1"), "opportunity", Action.READ).is_nothing
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar

import attrs

from crmkit.kernel.directory import Directory
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.principal import Principal
from crmkit.kernel.text import clean_token
from crmkit.ports.access import AccessPolicy, Action, Scope
from crmkit.ports.query import Eq, In

KIND_OWNERS: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "contact": "owner_id",
        "account": "owner_id",
        "activity": "owner_id",
        "timeline": None,
        "merge": None,
        "lead": "owner_id",
        "opportunity": "owner_id",
        "product": None,
        "price_list": None,
        "quote": "author_id",  # a quote's owner is its author
        "contract": None,  # no owner index yet: only ``all`` grants
        "complaint": "owner_id",
        "case": "owner_id",
        "article": None,
        "campaign": "owner_id",
        "campaign_member": None,
        "audience": None,
        "segment_profile": None,
        "deal_credit": None,
        "channel_preferences": None,  # one per contact, same id
        "import_run": None,  # how far each CSV import has come
        "custom_field_specs": None,  # the custom field specs a store was migrated to
        "queue_mark": "rep_id",  # a rep's snoozed and done work-queue items
        "audit": None,  # the sealed audit chain
        "audit_pending": None,  # audit entries not yet sealed
        "audit_payload": None,  # the audit trail's personal part
    }
)
"""Every storage kind crmkit knows, with the index field holding its owner (None: no owner)."""

_T = TypeVar("_T")

ALL_KINDS: Final[tuple[str, ...]] = tuple(KIND_OWNERS)
"""Every kind in `KIND_OWNERS`, in its order."""

AUDIT_KINDS: Final[tuple[str, ...]] = ("audit", "audit_pending", "audit_payload")
"""The kinds of the audit trail (`crm.audit` reads them for the ``audit`` grant)."""


class Ownership(StrEnum):
    """Which records of a kind a grant covers."""

    OWN = "own"
    TEAM = "team"
    ALL = "all"


_RANK: Final = {Ownership.OWN: 1, Ownership.TEAM: 2, Ownership.ALL: 3}


def _names(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | set | frozenset):
        raise ValidationError(field, "must be a collection of names", value)
    names = [clean_token(item, f"{field}[{i}]") for i, item in enumerate(value)]
    if not names:
        raise ValidationError(field, "must name at least one", value)
    return tuple(dict.fromkeys(names))


def _role(value: object) -> str:
    return clean_token(value, "role")


def _kind(value: object) -> str:
    return clean_token(value, "kind")


def _kinds(value: object) -> tuple[str, ...]:
    return _names(value, "kinds")


def _fields(value: object) -> tuple[str, ...]:
    return tuple(sorted(_names(value, "fields")))


def _actions(value: object) -> tuple[Action, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | set | frozenset):
        raise ValidationError("actions", "must be a collection of actions", value)
    actions: list[Action] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in Action.__members__.values():
            choices = ", ".join(action.value for action in Action)
            raise ValidationError(f"actions[{index}]", f"must be one of {choices}", item)
        actions.append(Action(item))
    if not actions:
        raise ValidationError("actions", "must name at least one", value)
    return tuple(dict.fromkeys(actions))


def _ownership(value: object) -> Ownership:
    if not isinstance(value, str) or value not in Ownership.__members__.values():
        choices = ", ".join(item.value for item in Ownership)
        raise ValidationError("scope", f"must be one of {choices}", value)
    return Ownership(value)


@attrs.frozen
class Grant:
    """A role may do ``actions`` to records of ``kinds`` within ``scope``.

    Attributes:
        role: The role name.
        kinds: The storage kinds it covers (``opportunity``, ``case`` ...).
        actions: The `Action` values it allows.
        scope: Which records: the principal's own, its team's or all.
    """

    role: str = attrs.field(converter=_role)
    kinds: tuple[str, ...] = attrs.field(converter=_kinds)
    actions: tuple[Action, ...] = attrs.field(converter=_actions)
    scope: Ownership = attrs.field(converter=_ownership)


@attrs.frozen
class FieldMask:
    """A role does not see ``fields`` of a kind's aggregate.

    Attributes:
        role: The role name.
        kind: The storage kind.
        fields: Attribute names of the aggregate (fields or properties), sorted.
    """

    role: str = attrs.field(converter=_role)
    kind: str = attrs.field(converter=_kind)
    fields: tuple[str, ...] = attrs.field(converter=_fields)


def _check(value: object, field: str, kinds: Mapping[str, str | None]) -> str:
    if not isinstance(value, str) or value not in kinds:
        raise ValidationError(field, "is not a kind this policy knows", value)
    return value


class RoleBasedPolicy(AccessPolicy):
    """An `AccessPolicy` from grants and masks per role; see the module docs for the rules.

    Args:
        grants: What each role may do.
        masks: What each role may not see.
        directory: The host's users, for team scopes (None: team scope is own scope).
        kinds: The kinds the policy knows, with each one's owner index field
            (default `KIND_OWNERS`); a host with kinds of its own extends it.

    Raises:
        ValidationError: a grant or mask is not of its type, names an unknown
            kind, or grants ``own`` or ``team`` on a kind without an owner field.
    """

    def __init__(
        self,
        grants: Iterable[Grant],
        masks: Iterable[FieldMask] = (),
        directory: Directory | None = None,
        kinds: Mapping[str, str | None] = KIND_OWNERS,
    ) -> None:
        if directory is not None and not isinstance(directory, Directory):
            raise ValidationError("directory", "must be a Directory or None", directory)
        self._kinds: Mapping[str, str | None] = MappingProxyType(dict(kinds))
        self._grants: tuple[Grant, ...] = _items(grants, Grant, "grants")
        self._masks: tuple[FieldMask, ...] = _items(masks, FieldMask, "masks")
        self.directory = directory
        self._scopes: dict[tuple[str, str, Action], Ownership] = {}
        for index, grant in enumerate(self._grants):
            for k, kind in enumerate(grant.kinds):
                _check(kind, f"grants[{index}].kinds[{k}]", self._kinds)
                if grant.scope is not Ownership.ALL and self._kinds[kind] is None:
                    raise ValidationError(
                        f"grants[{index}].scope",
                        f"kind {kind} has no owner field, so it accepts only 'all' grants",
                        grant.scope.value,
                    )
                for action in grant.actions:
                    key = (grant.role, kind, action)
                    best = self._scopes.get(key)
                    if best is None or _RANK[grant.scope] > _RANK[best]:
                        self._scopes[key] = grant.scope
        hidden: dict[tuple[str, str], frozenset[str]] = {}
        for index, mask in enumerate(self._masks):
            _check(mask.kind, f"masks[{index}].kind", self._kinds)
            pair = (mask.role, mask.kind)
            hidden[pair] = hidden.get(pair, frozenset()) | frozenset(mask.fields)
        self._masks_by: dict[tuple[str, str], frozenset[str]] = hidden
        mates: dict[str, set[str]] = {}
        for user in directory or ():
            for team in user.teams:
                mates.setdefault(team, set()).add(user.id)
        self._mates: dict[str, frozenset[str]] = {t: frozenset(ids) for t, ids in mates.items()}

    @property
    def grants(self) -> tuple[Grant, ...]:
        """The grants, in the order given."""
        return self._grants

    @property
    def masks(self) -> tuple[FieldMask, ...]:
        """The field masks, in the order given."""
        return self._masks

    @property
    def kinds(self) -> Mapping[str, str | None]:
        """The kinds the policy knows, with their owner index fields."""
        return self._kinds

    def roles(self) -> tuple[str, ...]:
        """Every role that a grant or mask names, in order of first mention."""
        named = [g.role for g in self._grants] + [m.role for m in self._masks]
        return tuple(dict.fromkeys(named))

    def ownership(self, roles: Iterable[str], kind: str, action: Action) -> Ownership | None:
        """The broadest ownership that any of ``roles`` is granted for (kind, action), or None."""
        best: Ownership | None = None
        for role in roles:
            found = self._scopes.get((role, kind, action))
            if found is not None and (best is None or _RANK[found] > _RANK[best]):
                best = found
        return best

    def scope(self, principal: Principal, kind: str, action: Action) -> Scope:
        """The records of ``kind`` that ``principal`` may act on with ``action``."""
        principal, kind, action = self._inputs(principal, kind, action)
        best = self.ownership(principal.roles, kind, action)
        owner = self._kinds[kind]
        if best is None:
            return Scope.nothing()
        if best is Ownership.ALL or owner is None:
            # an owner-less kind only ever holds ``all`` grants (checked when built)
            return Scope.everything()
        if best is Ownership.OWN:
            return Scope((Eq(owner, principal.id),))
        return Scope((In(owner, self.team_of(principal)),))

    def team_of(self, principal: Principal) -> tuple[str, ...]:
        """The principal's id and those of every user sharing one of its teams, sorted."""
        ids = {principal.id}
        for team in principal.teams:
            ids |= self._mates.get(team, frozenset())
        return tuple(sorted(ids))

    def hidden_fields(self, principal: Principal, kind: str) -> frozenset[str]:
        """Attribute names of ``kind``'s aggregate that ``principal`` may not see."""
        principal, kind, _ = self._inputs(principal, kind, Action.READ)
        masks = [
            self._masks_by.get((role, kind), frozenset())
            for role in sorted(principal.roles)
            if (role, kind, Action.READ) in self._scopes
        ]
        if masks:
            return frozenset.intersection(*masks)
        # no role may read the kind: keep every mask any role has, to fail closed
        return frozenset().union(
            *(self._masks_by.get((role, kind), frozenset()) for role in principal.roles)
        )

    def _inputs(
        self, principal: object, kind: object, action: object
    ) -> tuple[Principal, str, Action]:
        if not isinstance(principal, Principal):
            raise ValidationError("principal", "must be a Principal", principal)
        checked = _check(kind, "kind", self._kinds)
        if not isinstance(action, str) or action not in Action.__members__.values():
            raise ValidationError("action", "must be an Action", action)
        return principal, checked, Action(action)

    def __repr__(self) -> str:
        return (
            f"RoleBasedPolicy({len(self._grants)} grants, {len(self._masks)} masks,"
            f" roles={list(self.roles())})"
        )


def _items(values: Iterable[_T], cls: type[_T], field: str) -> tuple[_T, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationError(field, f"must be a collection of {cls.__name__}", values)
    items = tuple(values)
    for index, item in enumerate(items):
        if not isinstance(item, cls):
            raise ValidationError(f"{field}[{index}]", f"must be a {cls.__name__}", item)
    return items
