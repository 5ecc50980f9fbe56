"""Products and price lists: commands, replay, lines from the catalogue, round trips."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from crmkit.kernel.errors import InvalidTransition, ValidationError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.money import Money
from crmkit.kernel.serialization import dumps, make_converter, structure
from crmkit.sales.catalog import BillingPeriod, PriceList, Product, ProductStatus, clean_sku
from crmkit.sales.catalog_events import (
    EVENTS,
    PriceListCreated,
    PriceRemoved,
    PriceSet,
    ProductArchived,
    ProductChanged,
    ProductCreated,
    ProductRestored,
)
from crmkit.sales.pricing import Line, TaxRate
from crmkit.testing._strategies_quotes import price_lists, products

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VAT = TaxRate("vat19", Decimal("0.19"))


def stamp(minutes: int = 0) -> Stamp:
    return Stamp(T0 + timedelta(minutes=minutes), "u-1")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def _round_trip(value: Any, cls: type[Any]) -> None:
    conv = make_converter()
    data = conv.unstructure(value)
    assert structure(conv, data, cls) == value
    assert Loaders().load(cls, json.loads(dumps(data))) == value


def _product_history() -> tuple[Product, list[DomainEvent]]:
    product, created = Product.create("p-1", "lic-1", "Licence", stamp(), unit="month", tax=VAT)
    log: list[DomainEvent] = [created]
    e: DomainEvent
    product, e = product.update(stamp(1), name="Licence Pro", recurring="yearly", category="SW")
    log.append(e)
    product, e = product.archive(stamp(2))
    log.append(e)
    product, e = product.restore(stamp(3))
    log.append(e)
    product, e = product.update(stamp(4), tax=None, recurring=None)
    log.append(e)
    return product, log


def test_product_commands_bump_the_version_and_replay() -> None:
    product, log = _product_history()
    assert [type(e) for e in log] == [
        ProductCreated, ProductChanged, ProductArchived, ProductRestored, ProductChanged,
    ]  # fmt: skip
    assert [e.version for e in log] == [1, 2, 3, 4, 5]
    assert product.version == 5
    assert product.tax is None
    assert product.recurring is None
    assert product.category == "SW"
    assert log[1].fields == ("name", "category", "recurring")  # type: ignore[attr-defined]
    assert Product.replay(log) == product
    assert product.updated_at == T0 + timedelta(minutes=4)


def test_products_validate_their_fields() -> None:
    assert clean_sku(" x.1_a-b ") == "X.1_A-B"
    for bad in ("", "has space", "a" * 65, 5):
        with pytest.raises(ValidationError) as info:
            clean_sku(bad)
        assert info.value.field == "sku"
    with pytest.raises(ValidationError) as info:
        Product.create("p-1", "A", "Name", stamp(), recurring="weekly")
    assert info.value.field == "recurring"
    with pytest.raises(ValidationError) as info:
        Product.create("p-1", "A", "Name", stamp(), unit="Per Hour")
    assert info.value.field == "unit"


def test_an_archived_product_refuses_changes_and_a_second_archive() -> None:
    product, _ = Product.create("p-1", "A", "Name", stamp())
    archived, _ = product.archive(stamp(1))
    assert not archived.active
    assert archived.status is ProductStatus.ARCHIVED
    with pytest.raises(InvalidTransition) as info:
        archived.update(stamp(2), name="Other")
    assert (info.value.state, info.value.command) == ("archived", "update")
    with pytest.raises(InvalidTransition):
        archived.archive(stamp(2))
    with pytest.raises(InvalidTransition):
        product.restore(stamp(2))
    with pytest.raises(ValidationError):
        product.update(stamp(2), name="Name")


def _price_list_history() -> tuple[PriceList, list[DomainEvent]]:
    days = {"valid_from": date(2026, 1, 1), "valid_until": date(2026, 12, 31)}
    prices, created = PriceList.create("pl-1", "Standard EUR", "EUR", stamp(), **days)
    log: list[DomainEvent] = [created]
    e: DomainEvent
    for i, (product_id, amount) in enumerate([("p-1", "10.00"), ("p-2", "5.50"), ("p-1", "12")]):
        prices, e = prices.set_price(product_id, eur(amount), stamp(i + 1))
        log.append(e)
    prices, e = prices.remove_price("p-2", stamp(9))
    log.append(e)
    return prices, log


def test_price_lists_set_and_remove_prices_and_replay() -> None:
    prices, log = _price_list_history()
    assert prices.prices == {"p-1": eur("12.00")}
    assert prices.version == 5
    assert [type(e) for e in log] == [PriceListCreated, PriceSet, PriceSet, PriceSet, PriceRemoved]
    assert PriceList.replay(log) == prices
    assert log[1].subjects() == ("pl-1", "p-1")


def test_price_lists_refuse_bad_prices() -> None:
    prices, _ = PriceList.create("pl-1", "Standard", "EUR", stamp())
    for bad in (Money.of(1, "USD"), eur("-1"), "1.00"):
        with pytest.raises(ValidationError) as info:
            prices.set_price("p-1", bad, stamp())  # type: ignore[arg-type]
        assert info.value.field == "price"
    with pytest.raises(ValidationError) as info:
        prices.remove_price("p-9", stamp())
    assert info.value.field == "product_id"
    days = {"valid_from": date(2026, 2, 1), "valid_until": date(2026, 1, 1)}
    with pytest.raises(ValidationError) as info:
        PriceList.create("pl-1", "X", "EUR", stamp(), **days)
    assert info.value.field == "valid_until"
    with pytest.raises(ValidationError):
        PriceList.create("pl-1", "X", "EURO", stamp())


def test_a_line_is_built_from_the_catalogue() -> None:
    product, _ = Product.create("p-1", "LIC", "Licence", stamp(), tax=VAT)
    prices, _ = _price_list_history()
    line = prices.line(product, 3, discount="10", on=date(2026, 6, 1))
    assert line == Line("p-1", "Licence", Decimal(3), eur("12.00"), Decimal(10), VAT)
    assert line.net == eur("32.40")


def test_a_line_for_an_unpriced_or_archived_product_names_the_product() -> None:
    prices, _ = _price_list_history()
    unpriced, _ = Product.create("p-2", "B", "B", stamp())
    priced, _ = Product.create("p-1", "A", "A", stamp())
    archived, _ = priced.archive(stamp(1))
    for product in (unpriced, archived, "p-1"):
        with pytest.raises(ValidationError) as info:
            prices.line(product, 1)  # type: ignore[arg-type]
        assert info.value.field == "product"
    with pytest.raises(ValidationError) as info:
        prices.line(priced, 1, on=date(2027, 1, 1))
    assert info.value.field == "on"
    with pytest.raises(ValidationError) as info:
        prices.line(priced, 0)
    assert info.value.field == "quantity"


def test_every_catalogue_aggregate_and_event_round_trips() -> None:
    product, product_log = _product_history()
    prices, price_log = _price_list_history()
    _round_trip(product, Product)
    _round_trip(prices, PriceList)
    log = product_log + price_log
    assert {type(e) for e in log} == set(EVENTS)
    for event in log:
        _round_trip(event, type(event))
        assert event.aggregate_kind in ("product", "price_list")
        assert "u-1" not in event.summary()


@settings(max_examples=40, deadline=None)
@given(product=products(), prices=price_lists())
def test_generated_catalogue_records_round_trip(product: Product, prices: PriceList) -> None:
    _round_trip(product, Product)
    _round_trip(prices, PriceList)
    assert product.recurring is None or product.recurring in BillingPeriod
