"""Products: what the business sells, with its unit, billing period and tax rate.

>>> from datetime import UTC, datetime
>>> from crmkit.kernel.events import Stamp
>>> stamp = Stamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u-1")
>>> product, event = Product.create("p-1", "sub-pro", "Pro plan", stamp, recurring="monthly")
>>> product.sku, product.recurring, event.event_type
('SUB-PRO', <BillingPeriod.MONTHLY: 'monthly'>, 'product_created')
>>> archived, _ = product.archive(stamp)
>>> archived.active, Product.replay([event, _]) == archived
(False, True)
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

import attrs

from crmkit.kernel.aggregate import Replayable
from crmkit.kernel.checks import aware, of_type, to_enum, version
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import ProductId, check_id
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.text import clean_line, clean_text, clean_token
from crmkit.sales.catalog_events import (
    ProductArchived,
    ProductChanged,
    ProductCreated,
    ProductRestored,
)
from crmkit.sales.pricing import TaxRate

# One billing period enum for products and contracts (the contracts module defined it).
from crmkit.sales.terms import BillingPeriod

_SKU = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,63}")


class ProductStatus(StrEnum):
    """Whether a product can be sold or is archived."""

    ACTIVE = "active"
    ARCHIVED = "archived"


PRODUCT_LIFECYCLE = Lifecycle(
    "product",
    ProductStatus,
    ProductStatus.ACTIVE,
    [
        Transition("archive", ProductStatus.ACTIVE, ProductStatus.ARCHIVED),
        Transition("restore", ProductStatus.ARCHIVED, ProductStatus.ACTIVE),
    ],
)
"""Products are active or archived; archived ones cannot go on new lines."""


def clean_sku(value: object, field: str = "sku") -> str:
    """A SKU: 1 to 64 letters, digits, ``.``, ``_`` or ``-``; upper-cased so that it is unique.

    >>> clean_sku(" ab-12 ")
    'AB-12'
    """
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string", value)
    sku = value.strip().upper()
    if _SKU.fullmatch(sku) is None:
        raise ValidationError(field, "must be 1 to 64 letters, digits, '.', '_' or '-'", value)
    return sku


def _product_id(value: object) -> ProductId:
    return ProductId(check_id(value, "id"))


def _name(value: object) -> str:
    return clean_line(value, "name")


def _description(value: object) -> str:
    return clean_text(value, "description", max_len=5000)


def _category(value: object) -> str | None:
    return None if value is None else clean_line(value, "category")


def _unit(value: object) -> str:
    return clean_token(value, "unit", max_len=20)


_to_period = to_enum(BillingPeriod, "recurring")


def _recurring(value: object) -> BillingPeriod | None:
    return None if value is None else _to_period(value)


_UNSET: Any = object()  # "not given", so that None can clear an optional field

_DESCRIPTIVE = ("sku", "name", "description", "category", "unit", "recurring", "tax")


@attrs.frozen
class Product(Replayable):
    """A product or service that can be sold.

    Attributes:
        id: The product's id.
        version: Grows by one with every change.
        sku: Stock-keeping unit, unique in the catalogue (upper case).
        name: Its name, used as the description of lines built from it.
        created_at: When it was created.
        updated_at: When it last changed.
        status: Active or archived.
        description: What it is (may be empty).
        category: Its category, if any.
        unit: The unit it is sold in: ``each``, ``hour``, ``month`` ...
        recurring: The billing period of a subscription, or None for a one-off sale.
        tax: Its default tax rate, if any.
    """

    id: ProductId = attrs.field(converter=_product_id)
    version: int = attrs.field(validator=version)
    sku: str = attrs.field(converter=clean_sku)
    name: str = attrs.field(converter=_name)
    created_at: datetime = attrs.field(validator=aware())
    updated_at: datetime = attrs.field(validator=aware())
    status: ProductStatus = attrs.field(
        default=ProductStatus.ACTIVE, validator=of_type(ProductStatus)
    )
    description: str = attrs.field(default="", converter=_description)
    category: str | None = attrs.field(default=None, converter=_category)
    unit: str = attrs.field(default="each", converter=_unit)
    recurring: BillingPeriod | None = attrs.field(default=None, converter=_recurring)
    tax: TaxRate | None = attrs.field(default=None, validator=of_type(TaxRate, optional=True))

    @property
    def active(self) -> bool:
        """Whether the product can go on new lines."""
        return self.status is ProductStatus.ACTIVE

    @classmethod
    def create(
        cls,
        id: str,
        sku: str,
        name: str,
        stamp: Stamp,
        *,
        description: str = "",
        category: str | None = None,
        unit: str = "each",
        recurring: BillingPeriod | str | None = None,
        tax: TaxRate | None = None,
    ) -> tuple[Product, ProductCreated]:
        """A new, active product at version 1, and the event that records it."""
        checked = cls(
            id,
            1,
            sku,
            name,
            stamp.at,
            stamp.at,
            description=description,
            category=category,
            unit=unit,
            recurring=recurring,
            tax=tax,
        )
        event = ProductCreated(
            aggregate_id=checked.id,
            version=1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            **{name: getattr(checked, name) for name in _DESCRIPTIVE},
        )
        return cls.created(event), event

    @classmethod
    def created(cls, event: DomainEvent) -> Self:
        """The first state, from `ProductCreated`."""
        if not isinstance(event, ProductCreated):
            raise ValidationError("events[0]", "must be ProductCreated", event.event_type)
        data = {name: getattr(event, name) for name in _DESCRIPTIVE}
        return cls(
            event.aggregate_id,
            1,
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
            **data,
        )

    def apply(self, event: DomainEvent) -> Self:
        """The state after one of this product's events."""
        step: dict[str, Any] = {"version": event.version, "updated_at": event.occurred_at}
        if isinstance(event, ProductChanged):
            step.update({name: getattr(event, name) for name in _DESCRIPTIVE})
        elif isinstance(event, ProductArchived):
            step["status"] = ProductStatus.ARCHIVED
        elif isinstance(event, ProductRestored):
            step["status"] = ProductStatus.ACTIVE
        else:
            raise ValidationError("event", "must be a product event", event.event_type)
        return self._evolve(**step)

    def update(
        self,
        stamp: Stamp,
        *,
        sku: str | None = None,
        name: str | None = None,
        description: str | None = None,
        category: str | None = _UNSET,
        unit: str | None = None,
        recurring: BillingPeriod | str | None = _UNSET,
        tax: TaxRate | None = _UNSET,
    ) -> tuple[Product, ProductChanged]:
        """Change the given fields; ``category``, ``recurring`` and ``tax`` accept None to clear.

        Raises `InvalidTransition` on an archived product and `ValidationError`
        when nothing would change.
        """
        if not self.active:
            raise PRODUCT_LIFECYCLE.refuse(self.status, "update", "restore it first")
        given = {
            "sku": sku,
            "name": name,
            "description": description,
            "unit": unit,
        }
        present: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        for key, value in (("category", category), ("recurring", recurring), ("tax", tax)):
            if value is not _UNSET:
                present[key] = value
        checked = attrs.evolve(self, **present)
        fields = tuple(k for k in _DESCRIPTIVE if getattr(checked, k) != getattr(self, k))
        if not fields:
            raise ValidationError("changes", "change nothing")
        event = ProductChanged(
            aggregate_id=self.id,
            version=self.version + 1,
            occurred_at=stamp.at,
            actor=stamp.actor,
            fields=fields,
            **{k: getattr(checked, k) for k in _DESCRIPTIVE},
        )
        return self.apply(event), event

    def archive(self, stamp: Stamp) -> tuple[Product, ProductArchived]:
        """Archive: the product stays on existing quotes but cannot go on new lines."""
        PRODUCT_LIFECYCLE.target(self.status, "archive")
        event = ProductArchived(
            aggregate_id=self.id, version=self.version + 1, occurred_at=stamp.at, actor=stamp.actor
        )
        return self.apply(event), event

    def restore(self, stamp: Stamp) -> tuple[Product, ProductRestored]:
        """Bring an archived product back."""
        PRODUCT_LIFECYCLE.target(self.status, "restore")
        event = ProductRestored(
            aggregate_id=self.id, version=self.version + 1, occurred_at=stamp.at, actor=stamp.actor
        )
        return self.apply(event), event
