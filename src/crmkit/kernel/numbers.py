"""Exact numbers from user input: `Decimal` from a Decimal, an int or a string, never a float.

A float has already lost the exact value a person typed (0.1 is not one
tenth), so crmkit refuses floats wherever an amount, a rate or a quantity
comes in.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from crmkit.kernel.errors import ValidationError


def decimal_of(value: object, field: str) -> Decimal:
    """A finite `Decimal` from a Decimal, an int or a decimal string; `ValidationError` else.

    >>> decimal_of(" 12.50 ", "amount")
    Decimal('12.50')
    >>> decimal_of(0.1, "amount")
    Traceback (most recent call last):
    ...
    crmkit.kernel.errors.ValidationError: amount: must be ..., never a float (got 0.1)
    """
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise ValidationError(
            field, "must be a Decimal, an int or a decimal string, never a float", value
        )
    try:
        text = value.strip() if isinstance(value, str) else value
        result = text if isinstance(text, Decimal) else Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValidationError(field, "must be a decimal number", value) from None
    if not result.is_finite():
        raise ValidationError(field, "must be finite", value)
    return result
