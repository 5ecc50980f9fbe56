"""Matching a CSV header to the columns of a record kind.

Private to `crmkit.extension.csv_format`.
"""

from __future__ import annotations

from collections.abc import Mapping

from crmkit.kernel.errors import ValidationError

from .csv_columns import LEAD_IDENTIFYING, REQUIRED, column_for, header_key, is_column


def header_mapping(kind: str, mapping: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """``mapping`` checked, keyed by `header_key`; `ValidationError` if bad."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ValidationError("mapping", "must map header names to columns", mapping)
    result: dict[str, str | None] = {}
    for name, target in mapping.items():
        if not isinstance(name, str) or not (target is None or isinstance(target, str)):
            raise ValidationError("mapping", "must map header names to columns or None", name)
        if target is not None and not is_column(kind, target):
            raise ValidationError("mapping", f"maps {name!r} to no {kind} column", target)
        result[header_key(name)] = target
    return result


def resolve_header(
    kind: str, header: list[str], mapping: dict[str, str | None], strict: bool
) -> tuple[list[str | None], list[str]]:
    """The column of each header name, and the unknown names; `ValidationError` if bad."""
    problems: list[str] = []
    unknown: list[str] = []
    seen: dict[str, int] = {}
    used: dict[str, int] = {}
    cols: list[str | None] = []
    for number, name in enumerate(header, 1):
        key = header_key(name)
        target = mapping[key] if key in mapping else column_for(kind, name) if key else None
        if not key:
            problems.append(f"column {number} has no name")
        elif key in seen:
            problems.append(f"column {number} repeats the name of column {seen[key]} ({name!r})")
            target = None
        elif target in used:
            problems.append(f"columns {used[target]} and {number} both map to {target}")
            target = None
        elif target is None and key not in mapping:
            unknown.append(name.strip())
        seen.setdefault(key, number)
        if target is not None:
            used[target] = number
        cols.append(target)
    problems.extend(f"needs a {c} column" for c in REQUIRED[kind] if c not in used)
    if kind == "lead" and not any(c in used for c in LEAD_IDENTIFYING):
        problems.append("needs a last_name, email, phone or company column")
    if strict:
        problems.extend(f"has the unknown column {name!r}" for name in unknown)
        problems.extend(f"lacks the mapped column {n!r}" for n in mapping if n not in seen)
    if problems:
        raise ValidationError("header", "; ".join(problems))
    return cols, unknown
