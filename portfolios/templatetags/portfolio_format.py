"""Filters for portfolio pages: money in a portfolio's currency, quantities, chart geometry."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from market.templatetags.market_format import to_decimal

register = template.Library()

# Symbol before the amount; codes not listed are written "1,234.56 SEK".
CURRENCY_SYMBOLS = {
    "USD": "$",
    "CAD": "C$",
    "AUD": "A$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "HKD": "HK$",
    "SGD": "S$",
    "CHF": "CHF ",
}
NO_DECIMALS = {"JPY"}


def _format(number: Decimal, currency: str, places: int, plus: bool) -> str:
    if currency in NO_DECIMALS:
        places = 0
    quantum = Decimal(1).scaleb(-places)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.{places}f}"
    sign = "-" if rounded < 0 else ("+" if plus and rounded > 0 else "")
    symbol = CURRENCY_SYMBOLS.get(currency or "USD")
    if symbol is None:
        return f"{sign}{text} {currency}"
    return f"{sign}{symbol}{text}"


@register.filter
def money(value, currency="USD") -> str:
    """$1,234.56, C$12.30, €5.00, 1,234.56 SEK; blank for None."""
    number = to_decimal(value)
    return "" if number is None else _format(number, currency, 2, plus=False)


@register.filter
def signed_money(value, currency="USD") -> str:
    """+$1,234.56, -€5.00, $0.00."""
    number = to_decimal(value)
    return "" if number is None else _format(number, currency, 2, plus=True)


@register.filter
def unit_price(value, currency="USD") -> str:
    """A price per share: 2 decimals, or 4 under one unit (penny stocks, FX rates)."""
    number = to_decimal(value)
    if number is None:
        return ""
    places = 4 if abs(number) < 1 else 2
    return _format(number, currency, places, plus=False)


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
    number = to_decimal(value)
    if number is None:
        return ""
    places = int(decimals)
    quantum = Decimal(1).scaleb(-places)
    return f"{number.quantize(quantum, rounding=ROUND_HALF_UP):,.{places}f}%"


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
