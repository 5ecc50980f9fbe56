"""Events of products and price lists."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import attrs

from crmkit.kernel.events import DomainEvent
from crmkit.kernel.money import Money
from crmkit.sales.pricing import TaxRate
from crmkit.sales.terms import BillingPeriod


@attrs.frozen(kw_only=True)
class ProductCreated(DomainEvent):
    """A product was added to the catalogue.

    Attributes:
        sku: Its stock-keeping unit (unique).
        name: Its name.
        description: What it is.
        category: Its category, if any.
        unit: The unit it is sold in (``each``, ``hour``, ``month`` ...).
        recurring: Its billing period, or None for a one-off sale.
        tax: Its default tax rate, if any.
    """

    event_type: ClassVar[str] = "product_created"
    aggregate_kind: ClassVar[str] = "product"
    sku: str
    name: str
    description: str
    category: str | None
    unit: str
    recurring: BillingPeriod | None
    tax: TaxRate | None

    def summary(self) -> str:
        """Timeline line."""
        return f"product {self.sku} created"


@attrs.frozen(kw_only=True)
class ProductChanged(DomainEvent):
    """Fields of a product changed; the event carries every descriptive field after the change.

    Attributes:
        fields: Names of the fields that changed.
        sku: The SKU after the change.
        name: The name after the change.
        description: The description after the change.
        category: The category after the change.
        unit: The unit after the change.
        recurring: The billing period after the change.
        tax: The tax rate after the change.
    """

    event_type: ClassVar[str] = "product_changed"
    aggregate_kind: ClassVar[str] = "product"
    fields: tuple[str, ...]
    sku: str
    name: str
    description: str
    category: str | None
    unit: str
    recurring: BillingPeriod | None
    tax: TaxRate | None

    def summary(self) -> str:
        """Timeline line."""
        return f"product {self.sku} changed " + ", ".join(self.fields)


@attrs.frozen(kw_only=True)
class ProductArchived(DomainEvent):
    """A product was archived: it can no longer be put on new lines."""

    event_type: ClassVar[str] = "product_archived"
    aggregate_kind: ClassVar[str] = "product"


@attrs.frozen(kw_only=True)
class ProductRestored(DomainEvent):
    """An archived product was restored."""

    event_type: ClassVar[str] = "product_restored"
    aggregate_kind: ClassVar[str] = "product"


@attrs.frozen(kw_only=True)
class PriceListCreated(DomainEvent):
    """A price list was created.

    Attributes:
        name: Its name.
        currency: The currency of all its prices.
        valid_from: First day it applies, if limited.
        valid_until: Last day it applies, if limited.
    """

    event_type: ClassVar[str] = "price_list_created"
    aggregate_kind: ClassVar[str] = "price_list"
    name: str
    currency: str
    valid_from: date | None
    valid_until: date | None

    def summary(self) -> str:
        """Timeline line."""
        return f"price list {self.name} ({self.currency}) created"


@attrs.frozen(kw_only=True)
class PriceSet(DomainEvent):
    """A product's price in a price list was set or changed.

    Attributes:
        product_id: The product.
        price: Its unit price in the list.
    """

    event_type: ClassVar[str] = "price_list_price_set"
    aggregate_kind: ClassVar[str] = "price_list"
    product_id: str
    price: Money

    def summary(self) -> str:
        """Timeline line."""
        return f"price of {self.product_id} set to {self.price}"

    def subjects(self) -> tuple[str, ...]:
        """The price list and the product."""
        return (self.aggregate_id, self.product_id)


@attrs.frozen(kw_only=True)
class PriceRemoved(DomainEvent):
    """A product's price was removed from a price list.

    Attributes:
        product_id: The product.
    """

    event_type: ClassVar[str] = "price_list_price_removed"
    aggregate_kind: ClassVar[str] = "price_list"
    product_id: str

    def summary(self) -> str:
        """Timeline line."""
        return f"price of {self.product_id} removed"

    def subjects(self) -> tuple[str, ...]:
        """The price list and the product."""
        return (self.aggregate_id, self.product_id)


EVENTS: tuple[type[DomainEvent], ...] = (
    ProductCreated,
    ProductChanged,
    ProductArchived,
    ProductRestored,
    PriceListCreated,
    PriceSet,
    PriceRemoved,
)
