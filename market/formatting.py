"""Money, percentages and plain numbers as people read them, through Babel (CLDR data).

Every amount is written in its own currency with that currency's minor units (USD, EUR, CAD 2
decimals; JPY 0; KWD 3), in the locale `settings.NUMBER_LOCALE` (en_US unless configured).
Every function takes a Decimal (or an int, a float, a numeric string, or None) and returns text;
None and values that are not numbers give "", so a missing figure leaves a blank cell.

Rounding is half-up on Decimal, never through float: the value is rounded first, then Babel
writes it. A value that rounds to zero is written without a sign ("$0.00", "0.00%").

Babel takes tens of microseconds a number, which a table of hundreds of rows would feel on
every render; the results are pure functions of their arguments, so they are kept in a bounded
LRU cache (a re-render with the same prices formats nothing again).
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from babel import Locale
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
    get_plus_sign_symbol,
)
from django.conf import settings

DEFAULT_CURRENCY = "USD"
CACHE_SIZE = 8192
COMPACT_DIGITS = 1


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


def currency_digits(currency: str | None) -> int:
    """The currency's minor units: 2 for USD, 0 for JPY, 3 for KWD."""
    return get_currency_precision(_code(currency))


def money(value, currency: str | None = DEFAULT_CURRENCY, *, places: int | None = None) -> str:
    """$1,234.56, -$12.30, ¥1,235, KWD 1,234.500 (en_US); `places` overrides the minor units."""
    number = to_decimal(value)
    if number is None:
        return ""
    return _money(number, _code(currency), places, False, settings.NUMBER_LOCALE)


def signed_money(
    value, currency: str | None = DEFAULT_CURRENCY, *, places: int | None = None
) -> str:
    """+$1,234.50, -€5.00, $0.00: a change, with its sign."""
    number = to_decimal(value)
    if number is None:
        return ""
    return _money(number, _code(currency), places, True, settings.NUMBER_LOCALE)


def unit_price(value, currency: str | None = DEFAULT_CURRENCY) -> str:
    """A price per share: the currency's minor units, or 4 decimals under one unit (penny
    stocks, FX rates)."""
    number = to_decimal(value)
    if number is None:
        return ""
    code = _code(currency)
    digits = get_currency_precision(code)
    places = max(digits, 4) if abs(number) < 1 else digits
    return _money(number, code, places, False, settings.NUMBER_LOCALE)


def compact_money(value, currency: str | None = DEFAULT_CURRENCY, *, plus: bool = False) -> str:
    """$320.5B, $512.3M, $12K, $950, -$1.2B: one decimal at most and the locale's unit."""
    number = to_decimal(value)
    if number is None:
        return ""
    return _compact_money(number, _code(currency), plus, settings.NUMBER_LOCALE)


def percent(value, places: int = 2, *, plus: bool = True) -> str:
    """A value already in percent units (1.23 is 1.23%), signed unless `plus` is False:
    +1.23%, -0.50%, 0.00%."""
    number = to_decimal(value)
    if number is None:
        return ""
    return _percent(number, _places(places, 2), plus, settings.NUMBER_LOCALE)


def number(value, places: int = 0, *, plus: bool = False) -> str:
    """A number with the locale's grouping and exactly `places` decimals: 1,234,567 or 50.5."""
    value = to_decimal(value)
    if value is None:
        return ""
    return _number(value, _places(places, 0), plus, settings.NUMBER_LOCALE)


def compact_number(value) -> str:
    """1.2M, 512K, 950: one decimal at most and the locale's unit."""
    value = to_decimal(value)
    if value is None:
        return ""
    return _compact_number(value, settings.NUMBER_LOCALE)


# -- the cached Babel calls -----------------------------------------------------------------------


def _code(currency: str | None) -> str:
    return (currency or DEFAULT_CURRENCY).strip().upper() or DEFAULT_CURRENCY


def _places(places, default: int) -> int:
    if type(places) is int and 0 <= places <= 12:
        return places
    try:
        return max(0, min(int(places), 12))
    except (TypeError, ValueError):
        return default


def _round(number: Decimal, places: int) -> Decimal:
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # no "-$0.00"


def _spaced(text: str, currency: str, locale: Locale) -> str:
    """CLDR's currency spacing, which Babel leaves out: a no-break space between a symbol
    that ends (or starts) with a letter and the digits beside it ("KWD 1.500", not "KWD1.500";
    "$1.50" and "1,50 €" stay as they are)."""
    symbol = get_currency_symbol(currency, locale)
    at = text.find(symbol)
    if at < 0:
        return text
    end = at + len(symbol)
    if end < len(text) and text[end].isdigit() and symbol[-1].isalpha():
        return f"{text[:end]}\xa0{text[end:]}"
    if at > 0 and text[at - 1].isdigit() and symbol[0].isalpha():
        return f"{text[:at]}\xa0{text[at:]}"
    return text


def _signed(text: str, rounded: Decimal, plus: bool, locale: Locale) -> str:
    return get_plus_sign_symbol(locale) + text if plus and rounded > 0 else text


@lru_cache(maxsize=16)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=256)
def _pattern(locale_name: str, kind: str, places: int) -> NumberPattern:
    """The locale's standard pattern of `kind` (currency, percent, decimal) with exactly
    `places` fraction digits."""
    locale = _locale(locale_name)
    standard = {
        "currency": locale.currency_formats["standard"],
        "percent": locale.percent_formats[None],
        "decimal": locale.decimal_formats[None],
    }[kind]
    pattern = copy.copy(standard)
    pattern.frac_prec = (places, places)
    return pattern


@lru_cache(maxsize=CACHE_SIZE)
def _money(number: Decimal, currency: str, places: int | None, plus: bool, locale_name: str):
    locale = _locale(locale_name)
    places = get_currency_precision(currency) if places is None else _places(places, 2)
    rounded = _round(number, places)
    pattern = _pattern(locale_name, "currency", places)
    text = format_currency(rounded, currency, pattern, locale=locale, currency_digits=False)
    return _signed(_spaced(text, currency, locale), rounded, plus, locale)


@lru_cache(maxsize=CACHE_SIZE)
def _compact_money(number: Decimal, currency: str, plus: bool, locale_name: str) -> str:
    locale = _locale(locale_name)
    # Under a thousand there is no unit: whole currency units, as a market cap is read.
    rounded = _round(number, 0) if abs(number) < 1000 else number
    with localcontext(rounding=ROUND_HALF_UP):
        text = format_compact_currency(
            rounded, currency, locale=locale, fraction_digits=COMPACT_DIGITS
        )
    return _signed(_spaced(text, currency, locale), rounded, plus, locale)


@lru_cache(maxsize=CACHE_SIZE)
def _percent(number: Decimal, places: int, plus: bool, locale_name: str) -> str:
    locale = _locale(locale_name)
    rounded = _round(number, places)
    # Babel's percent patterns multiply by 100; the value is in percent units already.
    text = format_percent(
        rounded.scaleb(-2), _pattern(locale_name, "percent", places), locale=locale
    )
    return _signed(text, rounded, plus, locale)


@lru_cache(maxsize=CACHE_SIZE)
def _number(value: Decimal, places: int, plus: bool, locale_name: str) -> str:
    locale = _locale(locale_name)
    rounded = _round(value, places)
    text = format_decimal(rounded, _pattern(locale_name, "decimal", places), locale=locale)
    return _signed(text, rounded, plus, locale)


@lru_cache(maxsize=CACHE_SIZE)
def _compact_number(value: Decimal, locale_name: str) -> str:
    rounded = _round(value, 0) if abs(value) < 1000 else value
    with localcontext(rounding=ROUND_HALF_UP):
        return format_compact_decimal(
            rounded, locale=_locale(locale_name), fraction_digits=COMPACT_DIGITS
        )
