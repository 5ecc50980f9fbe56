"""Report rows and JSON."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from crmkit.analytics.report import to_json, to_rows
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.money import Money


@attrs.frozen
class Row:
    stage: str
    count: int
    amount: Money
    share: Decimal


@attrs.frozen
class Demo:
    rows: tuple[Row, ...]
    total: Money


def test_rows_and_json() -> None:
    report = Demo((Row("won", 2, Money.of("10.00", "EUR"), Decimal("0.5")),), Money.of("10", "EUR"))
    assert to_rows(report) == [
        {"stage": "won", "count": 2, "amount": Money.of("10.00", "EUR"), "share": Decimal("0.5")}
    ]
    assert to_json(report) == (
        '{"rows":[{"stage":"won","count":2,"amount":{"amount":"10.00","currency":"EUR"},'
        '"share":"0.5"}],"total":{"amount":"10.00","currency":"EUR"}}'
    )


def test_not_a_report() -> None:
    with pytest.raises(ValidationError, match="report"):
        to_rows({"rows": ()})
