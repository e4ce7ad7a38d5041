"""Yahoo's v7 quote results read into clean values: the field readers that quotes, profiles and
search share, and the QuoteData of one result.

Numbers are cleaned here, once: the dataclasses returned hold clean values (see base.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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


def _price(value: Any) -> Decimal | None:
    return clean_price(_raw(value))


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
    price = _price(raw.get("regularMarketPrice"))
    if price is None:
        raise MalformedData(
            f"{symbol}: no usable regularMarketPrice ({raw.get('regularMarketPrice')!r})"
        )
    regular_time = _timestamp(raw.get("regularMarketTime"))
    return QuoteData(
        symbol=symbol,
        price=price,
        previous_close=_price(raw.get("regularMarketPreviousClose")),
        currency=_currency(raw.get("currency")),
        market_state=MARKET_STATES.get(str(raw.get("marketState", "")).upper(), CLOSED),
        pre_market_price=_extended_price(raw, "preMarket", regular_time),
        post_market_price=_extended_price(raw, "postMarket", regular_time),
        day_high=_price(raw.get("regularMarketDayHigh")),
        day_low=_price(raw.get("regularMarketDayLow")),
        volume=_count(raw.get("regularMarketVolume")),
        shares_outstanding=_count(raw.get("sharesOutstanding")) or None,
        market_cap=clean_money(_raw(raw.get("marketCap"))),
        provider_time=regular_time,
        source=SOURCE,
    )


def _extended_price(raw: dict, prefix: str, regular_time: datetime | None) -> Decimal | None:
    """The pre- or post-market price, unless it is older than the regular price (Yahoo keeps
    this morning's pre-market price all day, and last night's post-market price until the
    next close)."""
    price = _price(raw.get(f"{prefix}Price"))
    when = _timestamp(raw.get(f"{prefix}Time"))
    if price is None or (when and regular_time and when <= regular_time):
        return None
    return price
