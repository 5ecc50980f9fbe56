"""Conditions of automation rules: data that tests a JSON-ready mapping of facts.

The facts are ``{"event": {...}, "record": {...}}``: the unstructured event
that triggered the rule and the unstructured record it changed. A `Field`
names a value in them by a dotted path (``record.status``,
``event.amount.amount``, ``record.emails.0.address``: a numeric part indexes a list).

How values compare is chosen by the rule's value, never by the fact:

* an int, or a string in JSON-number form (``"12.50"``, ``"-3"``; no leading
  zeros, no exponent) is a **number**: the fact must be an int or such a string,
  and both compare as `Decimal` (``"12.50"`` equals ``12.5``'s string ``"12.5"``);
* a string that parses as a timezone-aware ISO 8601 datetime is an **instant**:
  the fact must be one too, and they compare as instants (offsets do not matter);
* any other string is **text**: the fact must be a string, compared code point by code point;
* ``true``, ``false`` and ``null`` equal only themselves (``true`` is not ``1``).

A fact of another kind never matches (``Gt`` of a number against text is false).

**Missing paths.** A leaf condition whose path does not resolve is false,
``Ne`` included. `Exists` is false for a missing path *and* for ``null``.
`Not` negates whatever its condition gives, so ``Not(Eq(...))`` holds for a
missing path. `All` and `Any` need at least one condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line

from ._rule_values import compare as compare, equals as equals

__all__ = [
    "CONDITIONS",
    "MAX_INT",
    "MAX_NESTING",
    "ROOTS",
    "All",
    "Any",
    "Condition",
    "Contains",
    "Eq",
    "Exists",
    "Failure",
    "Field",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "Ne",
    "Not",
    "Scalar",
    "check_path",
    "check_scalar",
    "compare",
    "equals",
    "first_failure",
    "holds",
]

Scalar = str | int | bool | None
"""A JSON-safe literal in a rule: text, an integer, a boolean or null (never a float)."""

ROOTS: Final = ("event", "record")
"""The top-level names of the facts that a `Field` path may start with."""
MAX_NESTING: Final = 16
"""How deep `All`, `Any` and `Not` may nest."""
MAX_INT: Final = 2**53 - 1
"""Largest integer magnitude a rule holds (exact in every JSON reader)."""

_PATH = re.compile(r"(?:event|record)(?:\.[A-Za-z0-9_]+)+")
_MISSING: Final = object()


def check_path(value: object, field: str) -> str:
    """Validate a dotted fact path such as ``record.owner_id``."""
    if not isinstance(value, str) or len(value) > 200 or _PATH.fullmatch(value) is None:
        rule = "must be a dotted path under event or record, like record.status"
        raise ValidationError(field, rule, value)
    return value


def check_scalar(value: object, field: str) -> Scalar:
    """Validate a JSON-safe literal: a single-line string, a safe integer, a boolean or null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ValidationError(field, f"must be at most {MAX_INT} in magnitude", value)
        return value
    if isinstance(value, str):
        return clean_line(value, field, allow_empty=True)
    rule = "must be a string, integer, boolean or null (write decimals as strings)"
    raise ValidationError(field, rule, value)


def _path(value: str) -> str:
    return check_path(value, "field")


@attrs.frozen
class Field:
    """A dotted path into the facts, like ``record.status``.

    Attributes:
        path: The path: ``event`` or ``record``, then names or list indexes joined by dots.
    """

    path: str = attrs.field(converter=_path)

    def lookup(self, facts: Mapping[str, object]) -> tuple[bool, object]:
        """``(True, value)`` when the path resolves in ``facts``, else ``(False, None)``."""
        value = _resolve(facts, self.path)
        return (False, None) if value is _MISSING else (True, value)


def _resolve(facts: object, path: str) -> object:
    current = facts
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, Sequence) and not isinstance(current, str) and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else _MISSING
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def _field(value: Field | str) -> Field:
    return value if isinstance(value, Field) else Field(value)


def _scalar(value: Scalar) -> Scalar:
    return check_scalar(value, "value")


def _scalars(values: Sequence[Scalar]) -> tuple[Scalar, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValidationError("values", "must be a non-empty list", values)
    return tuple(check_scalar(v, f"values[{i}]") for i, v in enumerate(values))


def _ordered(value: str | int) -> str | int:
    if value is None or isinstance(value, bool):
        raise ValidationError("value", "must be a string or integer", value)
    checked = check_scalar(value, "value")
    assert isinstance(checked, str | int)  # None and bool refused above
    return checked


def _conditions(values: Sequence[Condition]) -> tuple[Condition, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValidationError("conditions", "must be a non-empty list of conditions", values)
    for i, item in enumerate(values):
        if not isinstance(item, CONDITIONS):
            raise ValidationError(f"conditions[{i}]", "must be a condition", item)
    return tuple(values)


def _condition(value: Condition) -> Condition:
    if not isinstance(value, CONDITIONS):
        raise ValidationError("condition", "must be a condition", value)
    return value


@attrs.frozen
class _Compare:
    """A fact compared with a literal.

    Attributes:
        field: The fact's path.
        value: The rule's value; its kind chooses how to compare (see the module notes).
    """

    field: Field = attrs.field(converter=_field)
    value: Scalar = attrs.field(converter=_scalar)


@attrs.frozen
class Eq(_Compare):
    """The fact equals ``value``."""


@attrs.frozen
class Ne(_Compare):
    """The fact exists and does not equal ``value`` (false for a missing path)."""


@attrs.frozen
class In:
    """The fact equals one of ``values``.

    Attributes:
        field: The fact's path.
        values: The accepted values (at least one).
    """

    field: Field = attrs.field(converter=_field)
    values: tuple[Scalar, ...] = attrs.field(converter=_scalars)


@attrs.frozen
class _Bound:
    """A fact compared with a bound.

    Attributes:
        field: The fact's path.
        value: The bound: an int, a decimal string, an aware ISO datetime or other text.
    """

    field: Field = attrs.field(converter=_field)
    value: str | int = attrs.field(converter=_ordered)


@attrs.frozen
class Gt(_Bound):
    """The fact is greater than ``value`` (a number, an instant or text)."""


@attrs.frozen
class Gte(_Bound):
    """The fact is greater than or equal to ``value``."""


@attrs.frozen
class Lt(_Bound):
    """The fact is less than ``value``."""


@attrs.frozen
class Lte(_Bound):
    """The fact is less than or equal to ``value``."""


@attrs.frozen
class Exists:
    """The path resolves to a value other than null.

    Attributes:
        field: The fact's path.
    """

    field: Field = attrs.field(converter=_field)


@attrs.frozen
class Contains(_Compare):
    """The fact is a list with an item equal to ``value`` (false for anything else)."""


@attrs.frozen
class All:
    """Every condition holds.

    Attributes:
        conditions: The conditions (at least one).
    """

    conditions: tuple[Condition, ...] = attrs.field(converter=_conditions)


@attrs.frozen
class Any:
    """At least one condition holds.

    Attributes:
        conditions: The conditions (at least one).
    """

    conditions: tuple[Condition, ...] = attrs.field(converter=_conditions)


@attrs.frozen
class Not:
    """The condition does not hold (true for a leaf whose path is missing).

    Attributes:
        condition: The negated condition.
    """

    condition: Condition = attrs.field(converter=_condition)


Condition = Eq | Ne | In | Gt | Gte | Lt | Lte | Exists | Contains | All | Any | Not
"""Any rule condition."""
CONDITIONS: Final = (Eq, Ne, In, Gt, Gte, Lt, Lte, Exists, Contains, All, Any, Not)
"""Every condition class."""


@attrs.frozen
class Failure:
    """Why a condition does not hold: the first failing part of it.

    Attributes:
        where: JSON path of the failing condition inside the rule, like ``when.all[1]``.
        condition: The failing condition.
        reason: What failed, naming the fact path and the rule's value (never the fact's value).
    """

    where: str
    condition: Condition
    reason: str


def holds(condition: Condition, facts: Mapping[str, object]) -> bool:
    """Whether ``condition`` holds for ``facts``."""
    return first_failure(condition, facts) is None


def first_failure(
    condition: Condition, facts: Mapping[str, object], where: str = "when"
) -> Failure | None:
    """The first failing part of ``condition`` (depth first), or None when it holds.

    An `All` reports its first failing condition; an `Any` whose conditions all
    fail and a `Not` whose condition holds report themselves.
    """
    if isinstance(condition, All):
        for i, child in enumerate(condition.conditions):
            failed = first_failure(child, facts, f"{where}.all[{i}]")
            if failed is not None:
                return failed
        return None
    if isinstance(condition, Any):
        if any(holds(child, facts) for child in condition.conditions):
            return None
        return Failure(
            where, condition, f"none of its {len(condition.conditions)} conditions holds"
        )
    if isinstance(condition, Not):
        if holds(condition.condition, facts):
            return Failure(where, condition, "the negated condition holds")
        return None
    path = condition.field.path
    value = _resolve(facts, path)
    if isinstance(condition, Exists):
        ok = value is not _MISSING and value is not None
        return None if ok else Failure(where, condition, f"{path} is missing or null")
    if value is _MISSING:
        return Failure(where, condition, f"{path} is missing")
    ok, reason = _leaf(condition, value)
    return None if ok else Failure(where, condition, f"{path} {reason}")


def _leaf(condition: Condition, fact: object) -> tuple[bool, str]:
    if isinstance(condition, Eq):
        return equals(fact, condition.value), f"does not equal {condition.value!r}"
    if isinstance(condition, Ne):
        return not equals(fact, condition.value), f"equals {condition.value!r}"
    if isinstance(condition, In):
        found = any(equals(fact, v) for v in condition.values)
        return found, f"is not one of {list(condition.values)!r}"
    if isinstance(condition, Contains):
        found = isinstance(fact, list | tuple) and any(equals(i, condition.value) for i in fact)
        return found, f"is not a list containing {condition.value!r}"
    assert isinstance(condition, Gt | Gte | Lt | Lte)  # the remaining leaves
    sign = compare(fact, condition.value)
    op, wanted = _ORDER[type(condition)]
    ok = sign is not None and sign in wanted
    return ok, f"is not {op} {condition.value!r}"


_ORDER: Final[dict[type, tuple[str, tuple[int, ...]]]] = {
    Gt: (">", (1,)),
    Gte: (">=", (0, 1)),
    Lt: ("<", (-1,)),
    Lte: ("<=", (-1, 0)),
}
