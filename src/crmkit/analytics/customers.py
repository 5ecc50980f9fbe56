"""Customer metrics: purchases and category affinity.

A `Purchase` is the small input value every customer metric reads: who bought,
when, how much and in which product categories. `purchases_of` derives them
from won opportunities; a host with an order system builds them directly.

RFM scores and lifetime value live in `crmkit.analytics.rfm`; cohort retention
and churn risk in `crmkit.analytics.cohorts`. Every function here is pure: one pass over the
purchases, memory bounded by the number of customers (and categories).

Ratios are `Decimal` rounded half to even to four places;
amounts stay `Money` in one currency. Purchases in another currency are
refused with `ValidationError`: convert them before calling.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import attrs

from crmkit.analytics._shared import each, rounded, share
from crmkit.kernel.checks import aware, items
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.text import clean_line
from crmkit.sales.opportunity import Opportunity, OpportunityStatus

# --- the input value -----------------------------------------------------------


def _customer_id(value: object) -> str:
    return check_id(value, "customer_id")


def _categories(value: object) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for index, item in enumerate(items(value, "categories")):
        seen.setdefault(clean_line(item, f"categories[{index}]"), None)
    return tuple(seen)


def _not_negative(instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, Money):
        raise ValidationError("amount", "must be Money", value)
    if value.amount < 0:
        raise ValidationError("amount", "must not be negative", value.amount)


@attrs.frozen
class Purchase:
    """One purchase by one customer.

    Attributes:
        customer_id: The customer: an account id or a contact id.
        at: When it happened (timezone-aware).
        amount: What it was worth; not negative.
        categories: Product categories it contained, duplicates dropped, first seen first.
    """

    customer_id: str = attrs.field(converter=_customer_id)
    at: datetime = attrs.field(validator=aware())
    amount: Money = attrs.field(validator=_not_negative)
    categories: tuple[str, ...] = attrs.field(default=(), converter=_categories)


def purchases_of(
    opportunities: Iterable[Opportunity],
    categories_by_product: Mapping[str, str] | None = None,
    by: Literal["account", "contact"] = "account",
) -> Iterator[Purchase]:
    """The purchases that won opportunities stand for, lazily, in input order.

    Only opportunities with status ``won`` count. A purchase happens at the
    opportunity's ``close_date`` (the actual close date once it is won) at
    00:00 UTC, not at ``updated_at``, which moves with any later edit. Its
    amount is the opportunity's ``amount``; its categories are those that
    ``categories_by_product`` gives the products on its lines (lines without a
    product, or with a product not in the mapping, add none).

    ``by="account"`` credits the purchase to the opportunity's account;
    ``by="contact"`` credits it to its first contact (the primary one), so
    that no amount counts twice. Opportunities without one are skipped.
    """
    if by not in ("account", "contact"):
        raise ValidationError("by", "must be 'account' or 'contact'", by)
    mapping: Mapping[str, str] = {} if categories_by_product is None else categories_by_product
    if not isinstance(mapping, Mapping):
        raise ValidationError("categories_by_product", "must be a mapping", mapping)
    return _purchases(each(opportunities, "opportunities", Opportunity), mapping, by)


def _purchases(
    opportunities: Iterator[tuple[int, Opportunity]], mapping: Mapping[str, str], by: str
) -> Iterator[Purchase]:
    for _, opp in opportunities:
        if opp.status is not OpportunityStatus.WON:
            continue
        customer = opp.account_id if by == "account" else next(iter(opp.contact_ids), None)
        if customer is None:
            continue
        categories = [
            mapping[line.product_id]
            for line in opp.lines
            if line.product_id is not None and line.product_id in mapping
        ]
        at = datetime.combine(opp.close_date, time(0), tzinfo=UTC)
        yield Purchase(customer, at, opp.amount, tuple(categories))


# --- shared helpers (also used by rfm and cohorts) ---------------------------------


def _currency(value: object) -> str:
    minor_units(value)  # raises ValidationError("currency", ...) on an unknown code
    assert isinstance(value, str)
    return value


def _checked(
    purchases: Iterable[Purchase], currency: str | None = None
) -> Iterator[tuple[int, Purchase]]:
    """Each purchase with its index, checked for type and (when given) currency."""
    for index, purchase in each(purchases, "purchases", Purchase):
        if currency is not None and purchase.amount.currency != currency:
            raise ValidationError(
                f"purchases[{index}].amount",
                f"must be in {currency}; convert other currencies first",
                purchase.amount.currency,
            )
        yield index, purchase


def _positive_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, "must be a positive integer", value)
    return value


# --- category affinity ---------------------------------------------------------------


@attrs.frozen
class CategoryRow:
    """What one customer bought in one category.

    Attributes:
        customer_id: The customer.
        category: The product category.
        purchases: Purchases that contained it.
        amount: Its share of those purchases' amounts.
    """

    customer_id: str
    category: str
    purchases: int
    amount: Money


@attrs.frozen
class CategoryMix:
    """What each customer buys, by category.

    Attributes:
        currency: The currency of every amount.
        rows: One row per customer and category, by customer id then category.
        customers: Customers with at least one categorised purchase.
        total: Sum of the row amounts (the amounts of categorised purchases).
    """

    currency: str
    rows: tuple[CategoryRow, ...]
    customers: int
    total: Money


def category_mix(purchases: Iterable[Purchase], currency: str) -> CategoryMix:
    """Categories each customer buys, with purchase counts and amounts.

    A purchase with several categories has its amount split evenly between
    them with `Money.allocate` (leftover minor units go to the earlier
    categories), so the row amounts add up to the purchase amounts exactly.
    Purchases without categories are left out.
    """
    currency = _currency(currency)
    cells: dict[tuple[str, str], tuple[int, Money]] = {}
    for _, purchase in _checked(purchases, currency):
        if not purchase.categories:
            continue
        shares = purchase.amount.allocate([1] * len(purchase.categories))
        for category, part in zip(purchase.categories, shares, strict=True):
            key = (purchase.customer_id, category)
            count, amount = cells.get(key, (0, Money.zero(currency)))
            cells[key] = (count + 1, amount + part)
    rows = tuple(CategoryRow(c, cat, n, amount) for (c, cat), (n, amount) in sorted(cells.items()))
    total = Money.zero(currency)
    for row in rows:
        total = total + row.amount
    return CategoryMix(currency, rows, len({row.customer_id for row in rows}), total)


@attrs.frozen
class PairRow:
    """ "Customers who buy ``antecedent`` also buy ``consequent``".

    Attributes:
        antecedent: The category a customer bought.
        consequent: The other category.
        customers: Customers who bought both.
        support: ``customers`` / all customers with a categorised purchase.
        confidence: ``customers`` / customers who bought ``antecedent``.
        lift: ``confidence`` / share of customers who bought ``consequent``
            (above 1: buying the antecedent makes the consequent likelier).
    """

    antecedent: str
    consequent: str
    customers: int
    support: Decimal
    confidence: Decimal
    lift: Decimal


@attrs.frozen
class CategoryPairs:
    """Cross-selling pairs of categories, bought by the same customers.

    Attributes:
        rows: Pairs by confidence, then support (both highest first), then names.
        customers: Customers with at least one categorised purchase.
        min_customers: The least number of shared customers a pair needed.
    """

    rows: tuple[PairRow, ...]
    customers: int
    min_customers: int


def category_pairs(purchases: Iterable[Purchase], *, min_customers: int = 1) -> CategoryPairs:
    """ "Customers who buy A also buy B" for every ordered pair of categories.

    Baskets are per customer over all their purchases (not per order). Both
    directions of a pair are reported, since confidence differs. Pairs shared
    by fewer than ``min_customers`` customers are left out. Ratios are rounded
    half to even to four places, each from the exact counts.
    """
    least = _positive_int(min_customers, "min_customers")
    baskets: dict[str, set[str]] = {}
    for _, purchase in _checked(purchases):
        if purchase.categories:
            baskets.setdefault(purchase.customer_id, set()).update(purchase.categories)
    single: dict[str, int] = {}
    both: dict[tuple[str, str], int] = {}
    for basket in baskets.values():
        for a in basket:
            single[a] = single.get(a, 0) + 1
            for b in basket:
                if a != b:
                    both[(a, b)] = both.get((a, b), 0) + 1
    n = len(baskets)
    rows = []
    for (a, b), count in both.items():
        if count < least:
            continue
        confidence = Fraction(count, single[a])
        rows.append(
            PairRow(
                a,
                b,
                count,
                share(count, n),
                rounded(confidence),
                share(confidence * n, single[b]),
            )
        )
    rows.sort(key=lambda r: (-r.confidence, -r.support, r.antecedent, r.consequent))
    return CategoryPairs(tuple(rows), n, least)
