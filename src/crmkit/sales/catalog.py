"""The catalogue: products and price lists, and lines built from them.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> from crmkit.sales.pricing import TaxRate
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-1")
>>> vat = TaxRate("vat19", Decimal("0.19"))
>>> product, _ = Product.create("p-1", "cons-day", "Consulting day", stamp, unit="day", tax=vat)
>>> product.sku
'CONS-DAY'
>>> prices, _ = PriceList.create("pl-1", "Standard EUR", "EUR", stamp)
>>> prices, _ = prices.set_price(product.id, Money.of("950.00", "EUR"), stamp)
>>> line = prices.line(product, Decimal(2), discount=Decimal(10))
>>> str(line.net), line.tax == vat
('1710.00 EUR', True)
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import check_id
from crmkit.kernel.money import Money, minor_units
from crmkit.kernel.text import clean_line
from crmkit.sales.catalog_events import (
    PriceListCreated,
    PriceRemoved,
    PriceSet,
)
from crmkit.sales.pricing import Line
from crmkit.sales.product import PRODUCT_LIFECYCLE, Product, ProductStatus, clean_sku

# One billing period enum for products and contracts (the contracts module defined it).
from crmkit.sales.terms import BillingPeriod

__all__ = [
    "PRODUCT_LIFECYCLE",
    "BillingPeriod",
    "PriceList",
    "Product",
    "ProductStatus",
    "clean_sku",
]


def _name(value: object) -> str:
    return clean_line(value, "name")


def _list_id(value: object) -> str:
    return check_id(value, "id")


def _currency(value: object) -> str:
    minor_units(value)
    return str(value)


def _prices(instance: PriceList, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("prices", "must be a mapping of product ids to Money", value)
    for key, price in value.items():
        check_id(key, "prices")
        if not isinstance(price, Money) or price.currency != instance.currency:
            raise ValidationError(f"prices.{key}", f"must be Money in {instance.currency}", price)
        if price.amount < 0:
            raise ValidationError(f"prices.{key}", "must not be negative", price)


def _day(field: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ValidationError(field, "must be a date or None", value)

    return check


@attrs.frozen
class PriceList(Replayable):
    """Prices of products in one currency, optionally for a period of days.

    Attributes:
        id: The price list's id.
        version: Grows by one with every change.
        name: Its name, for example ``Standard EUR``.
        currency: The ISO 4217 currency of every price.
        created_at: When it was created.
        updated_at: When it last changed.
        prices: Unit price by product id.
        valid_from: First day it applies (None: no start).
        valid_until: Last day it applies (None: no end).
    """

    id: str = attrs.field(converter=_list_id)
    version: int = attrs.field(validator=version)
    name: str = attrs.field(converter=_name)
    currency: str = attrs.field(converter=_currency)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    prices: dict[str, Money] = attrs.field(factory=dict, validator=_prices)
    valid_from: date | None = attrs.field(default=None, validator=_day("valid_from"))
    valid_until: date | None = attrs.field(default=None, validator=_day("valid_until"))

    def __attrs_post_init__(self) -> None:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError("valid_until", "must not be before valid_from", self.valid_until)

    @classmethod
    def create(
        cls,
        id: str,
        name: str,
        currency: str,
        stamp: Stamp,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> tuple[PriceList, PriceListCreated]:
        """A new, empty price list at version 1, and the event that records it."""
        checked = cls(
            id,
            1,
            name,
            currency,
            stamp.at,
            stamp.at,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        event = PriceListCreated(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            name=checked.name,
            currency=checked.currency,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return checked, event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `PriceListCreated`."""
        if not isinstance(event, PriceListCreated):
            raise ValidationError("events[0]", "must be PriceListCreated", event.event_type)
        at = event.occurred_at
        return cls(
            event.aggregate_id,
            1,
            event.name,
            event.currency,
            at,
            at,
            valid_from=event.valid_from,
            valid_until=event.valid_until,
        )

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this price list's events."""
        prices = dict(self.prices)  # never mutate the old state's mapping
        if isinstance(event, PriceSet):
            prices[event.product_id] = event.price
        elif isinstance(event, PriceRemoved):
            prices.pop(event.product_id, None)
        else:
            raise ValidationError("event", "must be a price list event", event.event_type)
        return self._evolve(version=event.version, updated_at=event.occurred_at, prices=prices)

    def set_price(self, product_id: str, price: Money, stamp: Stamp) -> tuple[PriceList, PriceSet]:
        """Set a product's unit price (in the list's currency, not negative)."""
        key = check_id(product_id, "product_id")
        if not isinstance(price, Money) or price.currency != self.currency:
            raise ValidationError("price", f"must be Money in {self.currency}", price)
        if price.amount < 0:
            raise ValidationError("price", "must not be negative", price)
        if self.prices.get(key) == price:
            raise ValidationError("price", "change nothing", price)
        event = PriceSet(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            product_id=key,
            price=price,
        )
        return self.apply(event), event

    def remove_price(self, product_id: str, stamp: Stamp) -> tuple[PriceList, PriceRemoved]:
        """Remove a product's price; `ValidationError` if it has none here."""
        key = check_id(product_id, "product_id")
        if key not in self.prices:
            raise ValidationError("product_id", "has no price in this list", key)
        event = PriceRemoved(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            product_id=key,
        )
        return self.apply(event), event

    def applies_on(self, day: date) -> bool:
        """Whether the list is valid on ``day`` (both ends inclusive)."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def price_of(self, product_id: str) -> Money | None:
        """The product's unit price here, or None."""
        return self.prices.get(product_id)

    def line(
        self,
        product: Product,
        quantity: Decimal | int | str,
        discount: Decimal | int | str = Decimal(0),
        *,
        on: date | None = None,
    ) -> Line:
        """A priced line for ``product`` at this list's price, with the product's tax rate.

        Raises `ValidationError` naming ``product`` when the product is archived or
        has no price here, and naming ``on`` when the list does not apply that day.
        """
        if not isinstance(product, Product):
            raise ValidationError("product", "must be a Product", product)
        if not product.active:
            raise ValidationError("product", "is archived", product.id)
        price = self.prices.get(product.id)
        if price is None:
            raise ValidationError("product", f"has no price in price list {self.id}", product.id)
        if on is not None and not self.applies_on(on):
            raise ValidationError("on", f"is outside the validity of price list {self.id}", on)
        return Line(product.id, product.name, quantity, price, discount, product.tax)
