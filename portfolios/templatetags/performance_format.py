"""Filters of the performance page: fractions as signed percents, floats as ratios."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from django import template

register = template.Library()
# Room for the largest rate returns.py writes down (a yearly rate over a few days of a large
# gain can pass 10^25) with its decimals: the default context's 28 digits are not enough.
WIDE = Context(prec=60)


@register.filter
def return_pct(value, decimals=2) -> str:
    """A fraction as a signed percent: 0.1234 -> +12.34%; "n/a" for None."""
    if value is None:
        return "n/a"
    number = WIDE.multiply(Decimal(str(value)), 100)
    quantum = Decimal(1).scaleb(-int(decimals))
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP, context=WIDE)
    sign = "+" if rounded > 0 else ("-" if rounded < 0 else "")
    return f"{sign}{rounded.copy_abs():,}%"


@register.filter
def ratio(value, decimals=2) -> str:
    """A plain statistic (beta, correlation) to a few places; "n/a" for None."""
    if value is None:
        return "n/a"
    return f"{value:.{int(decimals)}f}"


@register.filter
def updown_class(value) -> str:
    if value is None:
        return ""
    return "up" if value > 0 else ("down" if value < 0 else "")
