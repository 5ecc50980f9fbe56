"""The shared period helpers and ratio rounding, with hand-computed values."""

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from crmkit.analytics._shared import each, ratio, rounded, share
from crmkit.analytics.periods import (
    Period,
    check_period,
    check_zone,
    first_day,
    period_label,
    period_start,
)
from crmkit.kernel.errors import ValidationError

THURSDAY = date(2026, 5, 14)


@pytest.mark.parametrize(
    ("period", "start", "label"),
    [
        (Period.WEEK, date(2026, 5, 11), "2026-W20"),  # Thursday 14 May - 3 days = Monday 11
        (Period.MONTH, date(2026, 5, 1), "2026-05"),
        (Period.QUARTER, date(2026, 4, 1), "2026-Q2"),  # May is in Apr-Jun
        (Period.YEAR, date(2026, 1, 1), "2026"),
    ],
)
def test_first_day_and_label_of_a_date(period: Period, start: date, label: str) -> None:
    assert first_day(THURSDAY, period) == start
    assert period_label(THURSDAY, period) == label
    assert period_label(start, period) == label  # a period's first day is in it


def test_period_start_of_an_instant_in_a_zone() -> None:
    # 31 Dec 2026 23:30 UTC is 1 Jan 2027 00:30 in Berlin (CET, +1).
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert period_start(late, Period.YEAR) == date(2026, 1, 1)
    assert period_start(late, "year", "Europe/Berlin") == date(2027, 1, 1)
    assert period_start(late, "year", ZoneInfo("Europe/Berlin")) == date(2027, 1, 1)
    assert period_start(late, "month", UTC) == date(2026, 12, 1)


def test_bad_periods_zones_and_instants() -> None:
    assert check_period("quarter") is Period.QUARTER
    assert check_zone("UTC") == ZoneInfo("UTC")
    for bad_period in ("decade", 3, None):
        with pytest.raises(ValidationError) as caught:
            check_period(bad_period)
        assert caught.value.field == "period"
    for bad_zone in ("Mars/Olympus", 2, None):
        with pytest.raises(ValidationError) as caught:
            check_zone(bad_zone)
        assert caught.value.field == "zone"
    with pytest.raises(ValidationError) as caught:
        period_start(datetime(2026, 5, 14), Period.WEEK)  # naive
    assert caught.value.field == "at"


def test_ratio_rounds_half_even_to_four_places_once() -> None:
    assert ratio(2, 3) == Decimal("0.6667")  # 0.66666...
    assert ratio(1, 16) == Decimal("0.0625")  # exact
    assert ratio(1, 32) == Decimal("0.0312")  # 0.03125: half, to the even 2
    assert ratio(3, 32) == Decimal("0.0938")  # 0.09375: half, to the even 8
    assert ratio(Decimal("1.5"), Decimal("2")) == Decimal("0.7500")
    assert ratio(5, 0) is None
    assert ratio(0, Decimal(0)) is None
    assert str(share(0, 7)) == "0.0000"  # four places even for zero
    assert share(Fraction(7, 2), 1) == Decimal("3.5000")
    assert rounded(Fraction(1, 3)) == Decimal("0.3333")
    assert rounded(Decimal("2.00005")) == Decimal("2.0000")  # half, to the even 0


def test_each_checks_lazily_and_names_the_item() -> None:
    assert list(each([1, 2], "values", int)) == [(0, 1), (1, 2)]
    for bad in ("12", {"a": 1}, 5):
        with pytest.raises(ValidationError) as caught:
            each(bad, "values", int)
        assert caught.value.field == "values"
    items = each([1, "x"], "values", int)
    assert next(items) == (0, 1)
    with pytest.raises(ValidationError) as caught:
        next(items)
    assert caught.value.field == "values[1]"
