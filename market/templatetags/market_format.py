"""Template filters that format prices, changes and market caps for the market pages.

The numbers go through market.formatting (Babel, in settings.NUMBER_LOCALE): every filter takes
a Decimal (or an int, a numeric string, or None) and returns text; None and values that are not
numbers render as an empty string, so a missing quote leaves a blank cell. Rounding is half-up
on Decimal, never through float.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template
from django.utils import dateformat, timezone

from market import formatting
from market.formatting import to_decimal
from market.rules import NEW_YORK

register = template.Library()

__all__ = ["register", "to_decimal"]


@register.filter
def usd(value, decimals=None) -> str:
    """$1,234.56; -$12.30; blank for None. `{{ price|usd:4 }}` for more places."""
    return formatting.money(value, "USD", places=None if decimals is None else decimals)


@register.filter
def money(value, currency="USD") -> str:
    """An amount in its currency's minor units: $1,234.56, ¥1,235, KWD 1,234.500, CA$12.30."""
    return formatting.money(value, currency)


@register.filter
def pct(value, decimals=2) -> str:
    """A percentage already in percent units, signed: +1.23%, -0.50%, 0.00%."""
    return formatting.percent(value, decimals)


@register.filter
def signed(value, decimals=2) -> str:
    """A signed number with grouping: +1,234.50, -0.25, 0.00."""
    return formatting.number(value, decimals, plus=True)


@register.filter
def signed_usd(value, decimals=None) -> str:
    """A signed dollar amount: +$1,234.50, -$0.25."""
    return formatting.signed_money(value, "USD", places=None if decimals is None else decimals)


@register.filter
def compact_usd(value) -> str:
    """$89.4B, $512.3M, $12K, $950, -$1.2B; blank for None."""
    return formatting.compact_money(value, "USD")


@register.filter
def compact_money(value, currency="USD") -> str:
    """A market cap in its currency: $89.4B, €512.3M, CA$12K."""
    return formatting.compact_money(value, currency)


@register.filter
def signed_compact_usd(value) -> str:
    """+$1.2B, -$512.3M, $0."""
    return formatting.compact_money(value, "USD", plus=True)


@register.filter
def updown(value) -> str:
    """The CSS class for a change: "up" above zero, "down" below, "" for zero or None."""
    number = to_decimal(value)
    if number is None or number == 0:
        return ""
    return "up" if number > 0 else "down"


@register.filter
def num(value, decimals=0) -> str:
    """A number with thousands separators and the given decimals: 1,234,567 or 50.5."""
    return formatting.number(value, decimals)


@register.filter
def market_time(value) -> str:
    """A timestamp in New York time: "14:32 ET" when it is today there, "Nov 3, 14:32 ET" before."""
    if value is None or not hasattr(value, "astimezone"):
        return ""
    local = value.astimezone(NEW_YORK)
    today = timezone.now().astimezone(NEW_YORK).date()
    clock = f"{local:%H:%M} ET"
    if local.date() == today:
        return clock
    if local.year == today.year:
        return f"{local:%b} {local.day}, {clock}"
    return f"{local:%b} {local.day} {local.year}, {clock}"


@register.filter
def ny(value, fmt="H:i") -> str:
    """A datetime in New York time, in Django's date format: `{{ when|ny:"D H:i" }}`."""
    if value is None or not hasattr(value, "astimezone"):
        return ""
    return dateformat.format(value.astimezone(NEW_YORK), fmt)


@register.filter
def hostname(url) -> str:
    """The host of a URL without "www.", as link text for a source: "sec.gov"."""
    host = urlsplit(str(url or "")).hostname or ""
    return host.removeprefix("www.")
