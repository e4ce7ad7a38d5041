"""Builders of market data for the page tests: instruments, quotes and a year of daily bars,
written with bulk inserts so that a universe of hundreds of instruments builds in seconds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from market.models import DailyBar, Instrument, Miner, Quote

D = Decimal
SEGMENTS = [Miner.Segment.MINER, Miner.Segment.PIVOT, Miner.Segment.AI_HPC, Miner.Segment.HARDWARE]


def trading_days(end: dt.date, days: int, *, weekends: bool = False) -> list[dt.date]:
    """Calendar days (weekdays unless `weekends`) from `days` before `end` to `end`."""
    every = [end - dt.timedelta(days=i) for i in range(days, -1, -1)]
    return every if weekends else [d for d in every if d.weekday() < 5]


def wiggle(index: int, seed: int) -> Decimal:
    """A deterministic daily return between -4 % and +4 %."""
    return D((index * (7 + seed) + seed * 13) % 9 - 4) / D(100)


def closes_for(days: list[dt.date], start: Decimal, seed: int) -> dict[dt.date, Decimal]:
    price = start
    closes = {}
    for i, day in enumerate(days):
        price = (price * (1 + wiggle(i, seed))).quantize(D("0.0001"))
        closes[day] = price
    return closes


def bars_from(instrument: Instrument, closes: dict[dt.date, Decimal]) -> list[DailyBar]:
    return [
        DailyBar(
            instrument=instrument,
            date=day,
            open=close,
            high=(close * D("1.02")).quantize(D("0.0001")),
            low=(close * D("0.98")).quantize(D("0.0001")),
            close=close,
            adj_close=close,
            volume=1_000_000,
            source="simulated",
        )
        for day, close in closes.items()
    ]


def quote_for(instrument: Instrument, price: Decimal, previous_close: Decimal, **extra) -> Quote:
    shares = instrument.shares_outstanding or 100_000_000
    fields = {
        "instrument": instrument,
        "price": price,
        "previous_close": previous_close,
        "change": price - previous_close,
        "change_percent": ((price / previous_close - 1) * 100).quantize(D("0.0001")),
        "market_state": "regular",
        "volume": 2_000_000,
        "shares_outstanding": shares,
        "market_cap": (price * shares).quantize(D("0.01")),
        "currency": "USD",
        "fetched_at": timezone.now(),
        "source": "simulated",
    }
    fields.update(extra)
    return Quote(**fields)


def build_benchmarks(today: dt.date, days: int = 365) -> dict[str, Instrument]:
    """BTC-USD (trading every day), NVDA and SMH, with bars and quotes."""
    specs = [
        ("BTC-USD", "Bitcoin USD", Instrument.Kind.CRYPTO, True, D("60000"), 1),
        ("NVDA", "NVIDIA", Instrument.Kind.EQUITY, False, D("120"), 2),
        ("SMH", "VanEck Semiconductor ETF", Instrument.Kind.ETF, False, D("250"), 3),
    ]
    created = {}
    bars = []
    quotes = []
    for symbol, name, kind, weekends, start, seed in specs:
        instrument = Instrument.objects.create(
            symbol=symbol,
            name=name,
            kind=kind,
            is_benchmark=True,
            shares_outstanding=None if kind == Instrument.Kind.CRYPTO else 1_000_000_000,
        )
        closes = closes_for(
            trading_days(today - dt.timedelta(days=1), days, weekends=weekends), start, seed
        )
        bars += bars_from(instrument, closes)
        last = list(closes.values())[-1]
        quotes.append(quote_for(instrument, (last * D("1.01")).quantize(D("0.01")), last))
        created[symbol] = instrument
    DailyBar.objects.bulk_create(bars, batch_size=5000)
    Quote.objects.bulk_create(quotes)
    return created


def build_miners(
    count: int, today: dt.date, *, days: int = 365, prefix: str = "M"
) -> list[Instrument]:
    """`count` miners over the four segments, each with a quote and `days` of weekday bars."""
    instruments = Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=f"{prefix}{i:04d}",
                name=f"Miner {i} Corp",
                shares_outstanding=100_000_000 + i * 1_000_000,
                enterprise_value=D(1_000_000_000 + i * 10_000_000),
            )
            for i in range(count)
        ]
    )
    Miner.objects.bulk_create(
        [
            Miner(
                instrument=instrument,
                segment=SEGMENTS[i % len(SEGMENTS)],
                hashrate_eh=D(10 + i % 30),
                hpc_contracted_mw=D(100 + i) if i % 2 else None,
            )
            for i, instrument in enumerate(instruments)
        ]
    )
    bars = []
    quotes = []
    days_list = trading_days(today - dt.timedelta(days=1), days)
    for i, instrument in enumerate(instruments):
        closes = closes_for(days_list, D(5 + i % 50), seed=i + 5)
        bars += bars_from(instrument, closes)
        last = list(closes.values())[-1]
        price = (last * (1 + D(i % 11 - 5) / 100)).quantize(D("0.01"))
        quotes.append(quote_for(instrument, price, last))
    DailyBar.objects.bulk_create(bars, batch_size=5000)
    Quote.objects.bulk_create(quotes)
    return instruments
