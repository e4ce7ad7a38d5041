"""The market-data provider interface: plain dataclasses in, typed errors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Protocol


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

# -- clean numbers ---------------------------------------------------------------------------------
# Providers deliver numbers that can be stored as they are: finite Decimals rounded to the places
# of their database column and inside its range, non-negative ints that fit a BIGINT, aware UTC
# datetimes. Every dataclass below checks this when it is built (MalformedData otherwise), so
# the services store and compute without cleaning again.

PRICE_PLACES = Decimal("0.00000001")  # quotes: DecimalField(max_digits=20, decimal_places=8)
BAR_PLACES = Decimal("0.000001")  # daily bars: the 6 decimals Yahoo's chart carries
CENTS = Decimal("0.01")  # market caps, enterprise values: DecimalField(max_digits=24, ...=2)
RATIO_PLACES = Decimal("0.0000000001")  # split ratios: DecimalField(max_digits=20, ...=10)
PRICE_LIMIT = Decimal(10) ** 12
MONEY_LIMIT = Decimal(10) ** 22
RATIO_LIMIT = Decimal(10) ** 10
COUNT_LIMIT = 2**63  # BigIntegerField


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, float, Decimal or numeric string; None for anything else
    (None, booleans, NaN, infinities, junk). A float goes through its shortest repr:
    244.6 -> Decimal("244.6"), never 244.59999..."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = str(value)
    if not isinstance(value, (int, str, Decimal)):
        return None
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _rounded(value: Any, places: Decimal, limit: Decimal, *, positive: bool) -> Decimal | None:
    number = to_decimal(value)
    if number is None:
        return None
    number = number.quantize(places, rounding=ROUND_HALF_EVEN)
    if abs(number) >= limit or (positive and number <= 0):
        return None
    return number


def clean_price(value: Any, places: Decimal = PRICE_PLACES) -> Decimal | None:
    """A positive price rounded to `places`, None if unusable."""
    return _rounded(value, places, PRICE_LIMIT, positive=True)


def clean_money(value: Any, *, positive: bool = True) -> Decimal | None:
    """An amount in currency units (market cap, enterprise value) rounded to cents."""
    return _rounded(value, CENTS, MONEY_LIMIT, positive=positive)


def clean_ratio(value: Any) -> Decimal | None:
    """A positive split ratio to 10 places (0.1 for a 1-for-10 reverse split)."""
    return _rounded(value, RATIO_PLACES, RATIO_LIMIT, positive=True)


def clean_count(value: Any) -> int | None:
    """A non-negative whole count (volume, shares) that fits a BIGINT, None otherwise."""
    number = to_decimal(value)
    if number is None or number < 0 or number >= COUNT_LIMIT:
        return None
    return int(number)


def _check(record: object, **cleaners: Callable[[Any], Any]) -> None:
    """MalformedData unless every named field is None or already what its cleaner makes of it."""
    for name, cleaner in cleaners.items():
        value = getattr(record, name)
        if value is None:
            continue
        wanted = int if cleaner is clean_count else Decimal
        if type(value) is not wanted or cleaner(value) != value:
            symbol = getattr(record, "symbol", "")
            raise MalformedData(f"{symbol}: {name} is not a clean value: {value!r}".lstrip(": "))


def _check_time(value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() != timedelta(0)):
        raise MalformedData(f"provider time must be aware UTC, got {value!r}")


def _bar_price(value: Any) -> Decimal | None:
    return clean_price(value, BAR_PLACES)


@dataclass(frozen=True)
class QuoteData:
    """A latest quote. Prices are clean_price() values, `market_cap` the provider's own figure
    (clean_money(), None when it gives none), counts clean_count() values."""

    symbol: str
    price: Decimal
    previous_close: Decimal | None = None
    currency: str | None = None  # ISO 4217, upper case
    # The provider's own state of the instrument's market (Yahoo's marketState); None when it
    # does not say, and the refresh goes by New York's clock.
    market_state: str | None = None
    pre_market_price: Decimal | None = None
    post_market_price: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None
    volume: int | None = None
    shares_outstanding: int | None = None
    market_cap: Decimal | None = None
    provider_time: datetime | None = None  # aware, UTC
    source: str = "yahoo"

    def __post_init__(self) -> None:
        if self.price is None:
            raise MalformedData(f"{self.symbol}: no price")
        price_fields = ("price", "previous_close", "pre_market_price", "post_market_price")
        _check(self, **dict.fromkeys((*price_fields, "day_high", "day_low"), clean_price))
        _check(self, volume=clean_count, shares_outstanding=clean_count, market_cap=clean_money)
        _check_time(self.provider_time)
        if self.currency is not None and not (len(self.currency) == 3 and self.currency.isupper()):
            raise MalformedData(f"{self.symbol}: currency {self.currency!r} is no ISO code")


@dataclass(frozen=True)
class ProfileData:
    """Company facts; `enterprise_value` may be negative (more cash than debt and equity)."""

    symbol: str
    name: str | None = None
    exchange: str | None = None
    currency: str | None = None
    kind: str | None = None  # equity, etf, crypto, index
    shares_outstanding: int | None = None
    enterprise_value: Decimal | None = None
    source: str = "yahoo"

    def __post_init__(self) -> None:
        _check(self, shares_outstanding=clean_count)
        _check(self, enterprise_value=lambda value: clean_money(value, positive=False))


@dataclass(frozen=True)
class BarData:
    """One trading day; prices to the 6 decimals of BAR_PLACES."""

    date: date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal
    adj_close: Decimal
    volume: int | None = None

    def __post_init__(self) -> None:
        if self.close is None or self.adj_close is None:
            raise MalformedData(f"bar of {self.date}: no close")
        _check(self, **dict.fromkeys(("open", "high", "low", "close", "adj_close"), _bar_price))
        _check(self, volume=clean_count)


@dataclass(frozen=True)
class SplitData:
    date: date
    # New shares per old share: 4 for a 4-for-1 split, Decimal("0.1") for a 1-for-10 reverse split.
    ratio: Decimal

    def __post_init__(self) -> None:
        if self.ratio is None:
            raise MalformedData(f"split of {self.date}: no ratio")
        _check(self, ratio=clean_ratio)


@dataclass(frozen=True)
class DividendData:
    """A cash dividend per share, on its ex-date, in `currency` (ISO 4217)."""

    date: date
    amount: Decimal  # clean_price(): positive, 8 places
    currency: str

    def __post_init__(self) -> None:
        if self.amount is None:
            raise MalformedData(f"dividend of {self.date}: no amount")
        _check(self, amount=clean_price)
        if not (len(self.currency) == 3 and self.currency.isupper()):
            raise MalformedData(f"dividend of {self.date}: currency {self.currency!r}")


@dataclass(frozen=True)
class BarsData:
    symbol: str
    bars: list[BarData] = field(default_factory=list)
    splits: list[SplitData] = field(default_factory=list)
    dividends: list[DividendData] = field(default_factory=list)


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
        """Daily bars from `start` to `end` inclusive (today when None), with the split and
        dividend events of that range."""
        ...

    def search(self, text: str) -> list[SearchHit]: ...
