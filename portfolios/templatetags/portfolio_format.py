"""Filters for portfolio pages: money in a portfolio's currency, quantities, chart geometry."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from market import formatting
from market.formatting import to_decimal

register = template.Library()


@register.filter
def money(value, currency="USD") -> str:
    """$1,234.56, CA$12.30, €5.00, ¥1,235, SEK 1,234.56 (en_US); blank for None."""
    return formatting.money(value, currency)


@register.filter
def signed_money(value, currency="USD") -> str:
    """+$1,234.56, -€5.00, $0.00."""
    return formatting.signed_money(value, currency)


@register.filter
def unit_price(value, currency="USD") -> str:
    """A price per share: the currency's minor units, or 4 decimals under one unit (penny
    stocks, FX rates)."""
    return formatting.unit_price(value, currency)


@register.filter
def qty(value) -> str:
    """A quantity as people write it: 1,250 or 0.5 or 12.125 (no trailing zeros)."""
    number = to_decimal(value)
    if number is None:
        return ""
    number = number.normalize()
    if number == number.to_integral():
        return f"{number:,.0f}"
    return f"{number:,f}".rstrip("0").rstrip(".")


@register.filter
def signed_qty(value) -> str:
    number = to_decimal(value)
    if number is None:
        return ""
    text = qty(abs(number))
    return f"+{text}" if number > 0 else (f"−{text}" if number < 0 else text)


@register.filter
def weight(value, decimals=1) -> str:
    """A share of a whole in percent, unsigned: 42.5%."""
    return formatting.percent(value, decimals, plus=False)


@register.filter
def svg_num(value) -> str:
    """A plain number for an SVG attribute (dot decimal, 3 places, never scientific)."""
    number = to_decimal(value) or Decimal(0)
    return f"{number.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP):f}"


@register.simple_tag
def donut_segments(slices) -> list[dict]:
    """Geometry of a donut chart drawn with one stroked circle per slice: the circle has a
    circumference of 100, so a slice's dash length is its weight and its offset the sum of the
    weights before it (starting at twelve o'clock)."""
    segments, start = [], Decimal(0)
    for index, slice_ in enumerate(slices):
        share = max(Decimal(0), min(Decimal(100), slice_.weight))
        segments.append(
            {
                "slice": slice_,
                "index": index,
                "dash": svg_num(share),
                "gap": svg_num(Decimal(100) - share),
                "offset": svg_num(Decimal(25) - start),
            }
        )
        start += share
    return segments


@register.filter
def miner_url(symbol: str) -> str:
    """The instrument's page (the same URL as {% url 'market:miner' symbol %}, built without
    resolving the URLconf for every row)."""
    from market.selectors import miner_url as build

    return build(symbol)
