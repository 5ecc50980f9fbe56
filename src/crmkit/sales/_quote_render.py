"""Rendering a quote into a plain, JSON-ready document for host templates."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from crmkit.kernel.money import Money

if TYPE_CHECKING:
    from crmkit.sales.quote import Quote


def _num(value: Decimal) -> str:
    return f"{value:f}"


def _money(value: Money) -> str:
    return str(value)


def render_quote(quote: Quote) -> dict[str, object]:
    """The document behind `Quote.render`: stable keys, strings for every number and date."""
    figures = quote.totals
    lines = [
        {
            "position": index,
            "product_id": line.product_id,
            "description": line.description,
            "quantity": _num(line.quantity),
            "unit_price": _money(line.unit_price),
            "discount": _num(line.discount),
            "gross": _money(line.gross),
            "net": _money(line.net),
            "net_after_order_discount": _money(net),
            "tax_code": None if line.tax is None else line.tax.code,
        }
        for index, (line, net) in enumerate(zip(quote.lines, figures.line_nets, strict=True), 1)
    ]
    taxes = [
        {
            "code": row.rate.code,
            "rate": _num(row.rate.rate),
            "inclusive": row.rate.inclusive,
            "base": _money(row.base),
            "tax": _money(row.tax),
        }
        for row in figures.tax_by_rate
    ]
    return {
        "number": quote.number,
        "revision": quote.revision,
        "status": str(quote.status),
        "currency": quote.currency,
        "created_at": quote.created_at.isoformat(),
        "valid_until": quote.valid_until.isoformat(),
        "account_id": quote.account_id,
        "contact_id": quote.contact_id,
        "opportunity_id": quote.opportunity_id,
        "author_id": quote.author_id,
        "approver_id": quote.approver_id,
        "order_discount": _num(quote.order_discount),
        "lines": lines,
        "tax_lines": taxes,
        "totals": {
            "subtotal": _money(figures.subtotal),
            "discount": _money(figures.discount),
            "order_discount": _money(figures.order_discount),
            "net": _money(figures.net),
            "tax": _money(figures.tax),
            "total": _money(figures.total),
        },
    }
