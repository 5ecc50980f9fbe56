"""Markdown tables of a `RoleBasedPolicy`'s grants and masks, for docs and admin screens.

The docs' security page holds `grants_table` and `masks_table` of the default
policy, and a test checks that they match, so the page cannot go stale.

>>> from crmkit.security.rbac import Grant, RoleBasedPolicy
>>> print(grants_table(RoleBasedPolicy((Grant("rep", ("lead", "opportunity"), ("read",), "own"),))))
| Role | Kinds | read | create | update | archive | export | erase |
|---|---|---|---|---|---|---|---|
| rep | lead, opportunity | own | – | – | – | – | – |
"""

from __future__ import annotations

from crmkit.ports.access import Action
from crmkit.security.rbac import Ownership, RoleBasedPolicy

_NONE = "–"


def _kinds_cell(kinds: list[str], known: tuple[str, ...]) -> str:
    if kinds == list(known):
        return "every kind"
    missing = [kind for kind in known if kind not in kinds]
    if len(missing) <= 3 and len(kinds) > len(missing):
        return "every kind except " + ", ".join(missing)
    return ", ".join(kinds)


def grants_table(policy: RoleBasedPolicy) -> str:
    """One row per role and set of kinds with the same grants; cells say own, team, all or –."""
    actions = tuple(Action)
    known = tuple(policy.kinds)
    lines = [
        "| Role | Kinds | " + " | ".join(actions) + " |",
        "|---|---|" + "---|" * len(actions),
    ]
    for role in policy.roles():
        groups: dict[tuple[Ownership | None, ...], list[str]] = {}
        for kind in known:
            row = tuple(policy.ownership((role,), kind, action) for action in actions)
            if any(row):
                groups.setdefault(row, []).append(kind)
        for row, kinds in groups.items():
            cells = " | ".join(_NONE if cell is None else cell.value for cell in row)
            lines.append(f"| {role} | {_kinds_cell(kinds, known)} | {cells} |")
    return "\n".join(lines)


def masks_table(policy: RoleBasedPolicy) -> str:
    """One row per role and kind with the attribute names the role does not see."""
    lines = ["| Role | Kind | Hidden fields |", "|---|---|---|"]
    merged: dict[tuple[str, str], set[str]] = {}
    for mask in policy.masks:
        merged.setdefault((mask.role, mask.kind), set()).update(mask.fields)
    for (role, kind), fields in merged.items():
        names = ", ".join(f"`{name}`" for name in sorted(fields))
        lines.append(f"| {role} | {kind} | {names} |")
    return "\n".join(lines)
