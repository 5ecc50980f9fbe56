"""Helpers every analytics module shares: ratio rounding and lazy input checks.

Ratios (and averages, and hours) are `Decimal` rounded half to even to four
decimal places, computed exactly first so that only one rounding happens; a
ratio over nothing is None, never a division error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Final, TypeVar

from crmkit.kernel.errors import ValidationError

T = TypeVar("T")

PLACES: Final = 4
"""Decimal places of every ratio in the analytics reports (rounded half to even)."""

_SCALE: Final = 10**PLACES


def rounded(value: int | Decimal | Fraction) -> Decimal:
    """``value`` rounded half to even to `PLACES` decimal places, exactly."""
    # round() of a Fraction rounds half to even, with no intermediate precision loss.
    return Decimal(round(Fraction(value) * _SCALE)).scaleb(-PLACES)


def share(part: int | Decimal | Fraction, whole: int | Decimal | Fraction) -> Decimal:
    """``part / whole`` rounded like `rounded`; ``whole`` must not be zero."""
    return rounded(Fraction(part) / Fraction(whole))


def ratio(part: int | Decimal | Fraction, whole: int | Decimal | Fraction) -> Decimal | None:
    """``part / whole`` rounded like `rounded`; None when ``whole`` is zero.

    >>> ratio(2, 3), ratio(0, 0)
    (Decimal('0.6667'), None)
    """
    return None if not whole else share(part, whole)


def iterate(values: object, field: str) -> Iterator[object]:
    """An iterator over ``values``; `ValidationError` naming ``field`` if it is no iterable.

    Strings, bytes and mappings are refused: they iterate, but never over records.
    Errors show the type of the bad value, never the value (it may be personal).
    """
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise ValidationError(field, "must be an iterable", type(values).__name__)
    return iter(values)


def each(values: object, field: str, kind: type[T]) -> Iterator[tuple[int, T]]:
    """``(index, item)`` of ``values``, lazily, each checked to be a ``kind``.

    A non-iterable fails at once; a wrong item raises `ValidationError` naming
    ``field[index]`` when the pass reaches it.
    """
    return _each(iterate(values, field), field, kind)


def _each(values: Iterator[object], field: str, kind: type[T]) -> Iterator[tuple[int, T]]:
    for index, value in enumerate(values):
        if not isinstance(value, kind):
            raise ValidationError(
                f"{field}[{index}]", f"must be a {kind.__name__}", type(value).__name__
            )
        yield index, value
