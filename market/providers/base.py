"""The market-data provider interface: plain dataclasses in, typed errors out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol


class ProviderError(Exception):
    """Anything a provider cannot do; subclasses say why."""


class ProviderUnavailable(ProviderError):
    """The vendor did not answer usefully (network error, timeout, 5xx, malformed body)."""


class RateLimited(ProviderUnavailable):
    """The vendor asked us to slow down; `retry_after` is in seconds when it said."""

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class UnknownSymbol(ProviderError):
    """The vendor does not know this symbol (or it is delisted)."""

    def __init__(self, symbol: str, message: str | None = None):
        super().__init__(message or f"unknown symbol {symbol!r}")
        self.symbol = symbol


class MalformedData(ProviderUnavailable):
    """The vendor answered, but not with data we can trust (bad JSON, NaN, missing price)."""


# Market states as the provider reports them for the instrument's own market.
PRE = "pre"
REGULAR = "regular"
POST = "post"
CLOSED = "closed"


@dataclass(frozen=True)
class QuoteData:
    symbol: str
    price: Decimal
    previous_close: Decimal | None = None
    currency: str | None = None
    market_state: str = CLOSED
    pre_market_price: Decimal | None = None
    post_market_price: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None
    volume: int | None = None
    shares_outstanding: int | None = None
    market_cap: Decimal | None = None
    provider_time: datetime | None = None  # aware, UTC
    source: str = "yahoo"


@dataclass(frozen=True)
class ProfileData:
    symbol: str
    name: str | None = None
    exchange: str | None = None
    currency: str | None = None
    kind: str | None = None  # equity, etf, crypto, index
    shares_outstanding: int | None = None
    enterprise_value: Decimal | None = None
    source: str = "yahoo"


@dataclass(frozen=True)
class BarData:
    date: date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal
    adj_close: Decimal
    volume: int | None = None


@dataclass(frozen=True)
class SplitData:
    date: date
    # New shares per old share: 4 for a 4-for-1 split, Decimal("0.1") for a 1-for-10 reverse split.
    ratio: Decimal


@dataclass(frozen=True)
class BarsData:
    symbol: str
    bars: list[BarData] = field(default_factory=list)
    splits: list[SplitData] = field(default_factory=list)


@dataclass(frozen=True)
class SearchHit:
    symbol: str
    name: str
    exchange: str | None = None
    kind: str | None = None


@dataclass
class Batch[T]:
    """What a batched call returns: the symbols that worked, and why each other one failed."""

    items: dict[str, T] = field(default_factory=dict)
    errors: dict[str, ProviderError] = field(default_factory=dict)


class MarketDataProvider(Protocol):
    name: str  # "yahoo", "simulated"

    def fetch_quotes(self, symbols: Sequence[str]) -> Batch[QuoteData]:
        """Latest quotes. Raises ProviderUnavailable/RateLimited when the whole call fails;
        per-symbol problems (unknown symbol, null price) go in `errors`."""
        ...

    def fetch_profiles(self, symbols: Sequence[str]) -> Batch[ProfileData]: ...

    def fetch_daily_bars(
        self, symbols: Sequence[str], start: date, end: date | None = None
    ) -> Batch[BarsData]:
        """Daily bars from `start` to `end` inclusive (today when None), with split events."""
        ...

    def search(self, text: str) -> list[SearchHit]: ...
