"""Yahoo's v7 quote results read into clean values: the field readers that quotes, profiles and
search share, and the QuoteData of one result.

Numbers are cleaned here, once: the dataclasses returned hold clean values (see base.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from market.rules import MINOR_UNITS

from .base import (
    CLOSED,
    POST,
    PRE,
    REGULAR,
    MalformedData,
    QuoteData,
    clean_count,
    clean_money,
    clean_price,
    to_decimal,
)

SOURCE = "yahoo"

# Yahoo's marketState. PREPRE (20:00-04:00 after POSTPOST) and POSTPOST (after 20:00) are hours
# without extended trading, which is "closed" in our sessions.
MARKET_STATES = {
    "PRE": PRE,
    "REGULAR": REGULAR,
    "POST": POST,
    "PREPRE": CLOSED,
    "POSTPOST": CLOSED,
    "CLOSED": CLOSED,
}
KINDS = {"EQUITY": "equity", "ETF": "etf", "CRYPTOCURRENCY": "crypto", "INDEX": "index"}


# -- numbers from Yahoo's JSON ---------------------------------------------------------------------


def _raw(value: Any) -> Any:
    """The value of a Yahoo field: plain, or {"raw": ...} in formatted answers."""
    return value.get("raw") if isinstance(value, dict) else value


def _unit(value: Any) -> tuple[str | None, int]:
    """The ISO currency of a Yahoo currency code and what its prices are divided by."""
    if isinstance(value, str) and value in MINOR_UNITS:
        return MINOR_UNITS[value]
    return _currency(value), 1


def _price(value: Any, divisor: int = 1) -> Decimal | None:
    number = to_decimal(_raw(value))
    return clean_price(number / divisor if number is not None and divisor != 1 else number)


def _count(value: Any) -> int | None:
    return clean_count(_raw(value))


def _currency(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and len(value) == 3 else None


def _timestamp(value: Any) -> datetime | None:
    number = to_decimal(_raw(value))
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(int(number), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _quote(symbol: str, raw: dict) -> QuoteData:
    currency, divisor = _unit(raw.get("currency"))
    price = _price(raw.get("regularMarketPrice"), divisor)
    if price is None:
        raise MalformedData(
            f"{symbol}: no usable regularMarketPrice ({raw.get('regularMarketPrice')!r})"
        )
    regular_time = _timestamp(raw.get("regularMarketTime"))
    shares = _count(raw.get("sharesOutstanding")) or None
    return QuoteData(
        symbol=symbol,
        price=price,
        previous_close=_price(raw.get("regularMarketPreviousClose"), divisor),
        currency=currency,
        market_state=MARKET_STATES.get(str(raw.get("marketState", "")).upper()),
        pre_market_price=_extended_price(raw, "preMarket", regular_time, divisor),
        post_market_price=_extended_price(raw, "postMarket", regular_time, divisor),
        day_high=_price(raw.get("regularMarketDayHigh"), divisor),
        day_low=_price(raw.get("regularMarketDayLow"), divisor),
        volume=_count(raw.get("regularMarketVolume")),
        shares_outstanding=shares,
        market_cap=_market_cap(raw, price, shares, divisor),
        provider_time=regular_time,
        source=SOURCE,
    )


def _market_cap(raw: dict, price: Decimal, shares: int | None, divisor: int) -> Decimal | None:
    """Yahoo's market cap, in the currency's major unit. For a market quoted in a minor unit the
    unit of the cap is not stated: it is taken to be the one that agrees with price x shares,
    and the major unit when there is no share count to tell."""
    cap = to_decimal(_raw(raw.get("marketCap")))
    if cap is not None and divisor != 1 and shares:
        in_major = price * shares
        if abs(cap / divisor - in_major) < abs(cap - in_major):
            cap = cap / divisor
    return clean_money(cap)


def _extended_price(
    raw: dict, prefix: str, regular_time: datetime | None, divisor: int = 1
) -> Decimal | None:
    """The pre- or post-market price, unless it is older than the regular price (Yahoo keeps
    this morning's pre-market price all day, and last night's post-market price until the
    next close)."""
    price = _price(raw.get(f"{prefix}Price"), divisor)
    when = _timestamp(raw.get(f"{prefix}Time"))
    if price is None or (when and regular_time and when <= regular_time):
        return None
    return price
