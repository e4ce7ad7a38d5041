"""Yahoo's daily history, as yfinance's history frame holds it, read into clean bars, splits and
dividends (see base.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from yfinance.exceptions import YFPricesMissingError

from .base import (
    BAR_PLACES,
    BarData,
    BarsData,
    DividendData,
    MalformedData,
    SplitData,
    clean_count,
    clean_price,
    clean_ratio,
    to_decimal,
)


def _means_unknown(exc: YFPricesMissingError) -> bool:
    reason = (exc.yahoo_reason or "").lower()
    return "delisted" in reason or "not found" in reason or "no data found" in reason


def _bars_from_frame(
    symbol: str,
    frame: Any,
    start: date,
    end: date | None,
    currency: str | None,
    divisor: int = 1,
) -> BarsData:
    """Bars at the 6 decimals Yahoo's chart carries (its float32-like values rounded to
    BAR_PLACES), with the split and dividend events of the range; prices and dividends of a
    chart in a minor unit (pence) divided by `divisor` into `currency`'s major unit."""

    def scaled(value: Any) -> Decimal | None:
        number = to_decimal(value)
        return number / divisor if number is not None and divisor != 1 else number

    def price(value: Any) -> Decimal | None:
        return clean_price(scaled(value), BAR_PLACES)

    bars: list[BarData] = []
    splits: list[SplitData] = []
    dividends: list[DividendData] = []
    columns = {name: frame[name].tolist() for name in frame.columns}
    empty = [None] * len(frame.index)
    for row, stamp in enumerate(frame.index):
        day = stamp.date()
        if day < start or (end is not None and day > end):
            continue
        split = to_decimal(columns.get("Stock Splits", empty)[row])
        if split:
            fraction = Fraction(split).limit_denominator(10_000)
            ratio = clean_ratio(Decimal(fraction.numerator) / Decimal(fraction.denominator))
            if ratio is not None:
                splits.append(SplitData(date=day, ratio=ratio))
        amount = clean_price(scaled(columns.get("Dividends", empty)[row]))
        if amount is not None:
            if currency is None:
                raise MalformedData(f"{symbol}: a dividend on {day} without a currency")
            dividends.append(DividendData(date=day, amount=amount, currency=currency))
        close = price(columns["Close"][row])
        if close is None:
            continue  # Yahoo leaves holes (null close) in some series
        adjusted = price(columns.get("Adj Close", empty)[row])
        bars.append(
            BarData(
                date=day,
                open=price(columns["Open"][row]),
                high=price(columns["High"][row]),
                low=price(columns["Low"][row]),
                close=close,
                adj_close=adjusted or close,
                volume=clean_count(columns.get("Volume", empty)[row]),
            )
        )
    return BarsData(symbol=symbol, bars=bars, splits=splits, dividends=dividends)
