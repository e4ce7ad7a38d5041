"""Market-data providers: the only code that knows a data vendor."""

from __future__ import annotations

from django.conf import settings

from .base import (
    BarData,
    BarsData,
    Batch,
    DividendData,
    MalformedData,
    MarketDataProvider,
    ProfileData,
    ProviderError,
    ProviderUnavailable,
    QuoteData,
    RateLimited,
    SearchHit,
    SplitData,
    UnknownSymbol,
)

__all__ = [
    "Batch",
    "BarData",
    "BarsData",
    "DividendData",
    "MalformedData",
    "MarketDataProvider",
    "ProfileData",
    "ProviderError",
    "ProviderUnavailable",
    "QuoteData",
    "RateLimited",
    "SearchHit",
    "SplitData",
    "UnknownSymbol",
    "get_provider",
]


def get_provider(name: str | None = None) -> MarketDataProvider:
    """The provider named by `name`, or by settings.MARKET_DATA_PROVIDER (default "yahoo")."""
    name = name or settings.MARKET_DATA_PROVIDER
    if name == "yahoo":
        from .yahoo import YahooProvider

        return YahooProvider()
    if name == "simulated":
        from .simulated import SimulatedProvider

        return SimulatedProvider(always_open=settings.SIMULATED_ALWAYS_OPEN, universe_only=True)
    raise ValueError(f"unknown MARKET_DATA_PROVIDER {name!r} (expected 'yahoo' or 'simulated')")
