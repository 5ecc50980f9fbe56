"""Hypothesis strategies for products, price lists, pricing and quotes.

Every value is built through the public constructors and commands, so it is
valid and normalised exactly as crmkit would store it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache

from hypothesis import strategies as st

from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money, minor_units
from crmkit.sales.catalog import BillingPeriod, PriceList, Product
from crmkit.sales.pricing import Line, TaxRate
from crmkit.sales.quote import Quote

_IDS = st.from_regex(r"[a-z]{1,3}-[0-9]{1,4}", fullmatch=True)
_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@cache
def percents(max_value: int = 100) -> st.SearchStrategy[Decimal]:
    """Percentages from 0 to ``max_value`` with up to two decimal places."""
    return st.integers(0, max_value * 100).map(lambda n: Decimal(n).scaleb(-2))


@cache
def tax_rates() -> st.SearchStrategy[TaxRate]:
    """Exclusive and inclusive tax rates from 0% to 27.5%, among a few codes."""
    return st.builds(
        TaxRate,
        st.sampled_from(("vat_a", "vat_b", "gst", "sales")),
        st.integers(0, 2750).map(lambda n: Decimal(n).scaleb(-4)),
        st.booleans(),
    )


@cache
def tax_tables() -> st.SearchStrategy[tuple[TaxRate, ...]]:
    """One to three tax rates with distinct codes, as one document may use together."""
    return st.lists(tax_rates(), min_size=1, max_size=3, unique_by=lambda r: r.code).map(tuple)


def unit_prices(currency: str) -> st.SearchStrategy[Money]:
    """Unit prices in ``currency`` from 0 to 100,000 with any number of minor units."""
    exp = minor_units(currency)
    top = 100_000 * 10**exp
    return st.integers(0, top).map(lambda n: Money.from_minor(n, currency))


@cache
def quantities() -> st.SearchStrategy[Decimal]:
    """Positive quantities, whole or with up to three decimal places."""
    return st.one_of(
        st.integers(1, 1000).map(Decimal),
        st.integers(1, 1_000_000).map(lambda n: Decimal(n).scaleb(-3)),
    )


def quote_lines(
    currency: str, taxes: st.SearchStrategy[TaxRate | None] | None = None
) -> st.SearchStrategy[Line]:
    """Priced lines in ``currency``; ``taxes`` chooses their tax rates (default: none).

    Lines of one document must not give one tax code two rates: draw a table
    with `tax_tables` and pass ``st.none() | st.sampled_from(table)``.
    """
    return st.builds(
        Line,
        st.none() | _IDS,
        st.sampled_from(("Licence", "Setup", "Support hours", "Training day")),
        quantities(),
        unit_prices(currency),
        percents(),
        st.none() if taxes is None else taxes,
    )


@cache
def stamps_at_noon() -> st.SearchStrategy[Stamp]:
    """Stamps at noon UTC on days in early 2026."""
    return st.integers(0, 90).map(lambda d: Stamp(_START + timedelta(days=d), "u-1"))


@cache
def products() -> st.SearchStrategy[Product]:
    """New products, one-off or recurring, with or without a tax rate."""
    return st.builds(
        lambda pid, sku, period, tax: Product.create(
            pid, sku, "Product " + sku, Stamp(_START, "u-1"), recurring=period, tax=tax
        )[0],
        _IDS,
        st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True),
        st.none() | st.sampled_from(list(BillingPeriod)),
        st.none() | tax_rates(),
    )


@cache
def price_lists() -> st.SearchStrategy[PriceList]:
    """Price lists in EUR with a few prices and an optional validity period."""

    def build(entries: dict[str, Money], valid: bool) -> PriceList:
        stamp = Stamp(_START, "u-1")
        days = (date(2026, 1, 1), date(2026, 12, 31)) if valid else (None, None)
        result, _ = PriceList.create(
            "pl-1", "Standard", "EUR", stamp, valid_from=days[0], valid_until=days[1]
        )
        for product_id, price in entries.items():
            result, _ = result.set_price(product_id, price, stamp)
        return result

    return st.builds(build, st.dictionaries(_IDS, unit_prices("EUR"), max_size=4), st.booleans())


def document_lines(currency: str, max_size: int = 5) -> st.SearchStrategy[list[Line]]:
    """Lines of one document in ``currency``, taxed from one drawn tax table (or untaxed)."""
    return tax_tables().flatmap(
        lambda table: st.lists(
            quote_lines(currency, st.none() | st.sampled_from(table)), max_size=max_size
        )
    )


def quotes(currency: str = "EUR") -> st.SearchStrategy[Quote]:
    """Draft quotes in ``currency`` with up to five lines and an order discount."""
    return st.builds(
        lambda qid, lines, discount, contact: Quote.draft(
            qid, "Q-00001", "a-1", currency, date(2026, 3, 31), Stamp(_START, "u-1"),
            contact_id=contact, lines=lines, order_discount=discount,
        )[0],
        _IDS,
        document_lines(currency),
        percents(),
        st.none() | _IDS,
    )  # fmt: skip
