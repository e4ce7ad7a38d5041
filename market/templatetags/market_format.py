"""Template filters that format prices, changes and market caps for the market pages.

Every filter takes a Decimal (or an int, a numeric string, or None) and returns text; None and
values that are not numbers render as an empty string, so a missing quote leaves a blank cell.
Rounding is done on Decimal with ROUND_HALF_UP, never through float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlsplit

from django import template
from django.utils import dateformat, timezone

from market.rules import NEW_YORK

register = template.Library()

_COMPACT_STEPS = (
    (Decimal("1e12"), "T"),
    (Decimal("1e9"), "B"),
    (Decimal("1e6"), "M"),
    (Decimal("1e3"), "K"),
)


def to_decimal(value) -> Decimal | None:
    """The value as a finite Decimal, or None when it is missing or not a number."""
    if type(value) is Decimal:
        return value if value.is_finite() else None
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        # str() gives the shortest repr, so 0.1 stays 0.1 rather than 0.1000000000000000055.
        number = Decimal(str(value))
    else:
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
    return number if number.is_finite() else None


_QUANTA = [Decimal(1).scaleb(-places) for places in range(13)]


def _rounded(number: Decimal, places: int) -> tuple[int, str]:
    """(sign of the rounded value: -1, 0 or 1; its absolute value with thousands separators),
    rounded half-up to `places` decimals."""
    rounded = number.quantize(_QUANTA[places], rounding=ROUND_HALF_UP)
    sign = 1 if rounded > 0 else -1 if rounded < 0 else 0
    return sign, f"{abs(rounded):,.{places}f}"


def _decimals(arg, default: int) -> int:
    if type(arg) is int and 0 <= arg <= 12:
        return arg
    try:
        return max(0, min(int(arg), 12))
    except (TypeError, ValueError):
        return default


def _signed_text(value, decimals, default: int, prefix: str, suffix: str, plus: bool) -> str:
    number = to_decimal(value)
    if number is None:
        return ""
    sign, text = _rounded(number, _decimals(decimals, default))
    if sign < 0:
        return f"-{prefix}{text}{suffix}"
    if sign > 0 and plus:
        return f"+{prefix}{text}{suffix}"
    return f"{prefix}{text}{suffix}"


@register.filter
def usd(value, decimals=2) -> str:
    """$1,234.56; -$12.30; blank for None. `{{ price|usd:4 }}` for more places."""
    return _signed_text(value, decimals, 2, "$", "", plus=False)


@register.filter
def pct(value, decimals=2) -> str:
    """A percentage already in percent units, signed: +1.23%, -0.50%, 0.00%."""
    return _signed_text(value, decimals, 2, "", "%", plus=True)


@register.filter
def signed(value, decimals=2) -> str:
    """A signed number with grouping: +1,234.50, -0.25, 0.00."""
    return _signed_text(value, decimals, 2, "", "", plus=True)


@register.filter
def signed_usd(value, decimals=2) -> str:
    """A signed dollar amount: +$1,234.50, -$0.25."""
    return _signed_text(value, decimals, 2, "$", "", plus=True)


def compact(number: Decimal) -> str:
    """1 decimal and a T/B/M/K suffix: 89.4B, 512.3M, 12.0K, 950."""
    magnitude = abs(number)
    sign = "-" if number < 0 else ""
    for step, suffix in _COMPACT_STEPS:
        if magnitude >= step:
            scaled = (magnitude / step).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            # 999.96M rounds to 1000.0M: say 1.0B instead.
            if scaled >= 1000 and suffix != "T":
                bigger = {"K": "M", "M": "B", "B": "T"}[suffix]
                return f"{sign}1.0{bigger}"
            return f"{sign}{scaled:,}{suffix}"
    return f"{sign}{magnitude.quantize(Decimal('1'), rounding=ROUND_HALF_UP)}"


@register.filter
def compact_usd(value) -> str:
    """$89.4B, $512.3M, $12.0K, $950, -$1.2B; blank for None."""
    number = to_decimal(value)
    if number is None:
        return ""
    text = compact(number)
    if text.startswith("-"):
        return f"-${text[1:]}"
    return f"${text}"


@register.filter
def signed_compact_usd(value) -> str:
    """+$1.2B, -$512.3M, $0."""
    number = to_decimal(value)
    if number is None:
        return ""
    text = compact_usd(number)
    if text.startswith("-") or text in {"$0", "$0.0K"}:
        return text
    return f"+{text}"


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
    return _signed_text(value, decimals, 0, "", "", plus=False)


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
