"""One miner's page: facts with their dates and sources, statistics and its series."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from market import analytics
from market.analytics import PriceRange, Relation, TradesLike
from market.models import DailyBar, Instrument, Miner, Quote
from market.selectors.cache import cached_on_token
from market.selectors.freshness import Tokens, current_tokens
from market.selectors.history import DEFAULT_MINER_RANGE, MINER_RANGE_KEYS, History, price_history
from market.selectors.stats import (
    RELATION_BENCHMARKS,
    STATS_CACHE_SECONDS,
    YEAR_LOOKBACK_DAYS,
    InstrumentStats,
    relations_for,
)


@dataclass(frozen=True)
class Fact:
    label: str
    value: Decimal | None
    unit: str
    decimals: int
    as_of: str
    detail: str = ""


@dataclass(frozen=True)
class MinerDetail:
    instrument: Instrument
    quote: Quote | None
    miner: Miner | None
    stats: InstrumentStats
    ytd_percent: Decimal | None
    range_52w: PriceRange | None
    relations: list[Relation]
    trades_like: TradesLike
    facts: list[Fact]
    sources: list[str]
    ev_per_eh: Decimal | None
    history: History

    @property
    def simulated(self) -> bool:
        return self.quote is not None and self.quote.source == "simulated"

    @property
    def shares_outstanding(self) -> int | None:
        if self.instrument.shares_outstanding:
            return self.instrument.shares_outstanding
        return self.quote.shares_outstanding if self.quote else None


def find_instrument(symbol: str) -> Instrument | None:
    """The active instrument with this symbol (any case), with its miner facts and quote."""
    return (
        Instrument.objects.select_related("miner", "quote")
        .filter(symbol__iexact=symbol.strip())
        .first()
    )


def _facts(miner: Miner | None) -> tuple[list[Fact], list[str]]:
    """The AI/HPC facts worth showing: only when the company's facts carry sources."""
    if miner is None or not miner.source_urls:
        return [], []
    facts = []
    if miner.hashrate_eh is not None:
        facts.append(Fact("Hashrate", miner.hashrate_eh, "EH/s", 1, miner.hashrate_as_of))
    if miner.power_mw is not None:
        facts.append(Fact("Power", miner.power_mw, "MW", 0, miner.power_as_of, miner.power_kind))
    if miner.hpc_contracted_mw is not None or miner.hpc_counterparties:
        facts.append(
            Fact(
                "HPC contracted",
                miner.hpc_contracted_mw,
                "MW",
                0,
                miner.hpc_as_of,
                miner.hpc_counterparties,
            )
        )
    return facts, miner.source_urls


def _bars_by_symbol(
    symbols: Sequence[str], start: dt.date
) -> dict[str, list[tuple[dt.date, Decimal, Decimal | None, Decimal | None, Decimal]]]:
    """(date, adj_close, high, low, close) per symbol since `start`: one query."""
    bars = (
        DailyBar.objects.filter(instrument__symbol__in=symbols, date__gte=start)
        .order_by("instrument_id", "date")
        .values_list("instrument__symbol", "date", "adj_close", "high", "low", "close")
    )
    by_symbol: dict[str, list] = defaultdict(list)
    for symbol, day, adj_close, high, low, close in bars:
        by_symbol[symbol].append((day, adj_close, high, low, close))
    return by_symbol


@dataclass(frozen=True)
class InstrumentSeries:
    """What one instrument's last ~13 months of bars say, cached per bars token."""

    stats: InstrumentStats
    closes: list[tuple[dt.date, Decimal]]  # (date, close) over YEAR_LOOKBACK_DAYS


def _compute_instrument_series(symbol: str, today: dt.date) -> InstrumentSeries:
    """One query: the bars of the instrument and of the benchmarks over ~13 months."""
    symbols = list(dict.fromkeys([symbol, *RELATION_BENCHMARKS]))
    bars = _bars_by_symbol(symbols, today - dt.timedelta(days=YEAR_LOOKBACK_DAYS))
    own = bars.get(symbol, [])
    adjusted = {name: [(b[0], b[1]) for b in series] for name, series in bars.items()}
    relations, label = relations_for(adjusted, symbol)
    stats = InstrumentStats(
        ytd_base=analytics.ytd_base_close(adjusted.get(symbol, []), today.year),
        range_52w=analytics.fifty_two_week_range([(b[0], b[2], b[3], b[4]) for b in own], today),
        relations=relations,
        trades_like=label,
    )
    return InstrumentSeries(stats=stats, closes=[(b[0], b[4]) for b in own])


def instrument_series(symbol: str, tokens: Tokens) -> InstrumentSeries:
    return cached_on_token(
        tokens.bars,
        "instrument-series",
        (symbol, tokens.market_date.isoformat()),
        lambda: _compute_instrument_series(symbol, tokens.market_date),
        STATS_CACHE_SECONDS,
    )


def miner_detail(instrument: Instrument, *, history_range: str | None, now=None) -> MinerDetail:
    """Stats, facts and the price history of one instrument: when the cache does not have them,
    one query for the bars of the instrument and the benchmarks over ~13 months (plus one for a
    five-year chart)."""
    tokens = current_tokens(now)
    today = tokens.market_date
    quote = getattr(instrument, "quote", None) if has_quote(instrument) else None
    miner = getattr(instrument, "miner", None) if has_miner(instrument) else None
    series = instrument_series(instrument.symbol, tokens)
    stats = series.stats
    price = quote.price if quote else None
    facts, sources = _facts(miner)
    ev_per_eh = (
        instrument.enterprise_value / miner.hashrate_eh
        if miner is not None and instrument.enterprise_value is not None and miner.hashrate_eh
        else None
    )
    chosen = MINER_RANGE_KEYS.get(history_range or "") or MINER_RANGE_KEYS[DEFAULT_MINER_RANGE]
    return MinerDetail(
        instrument=instrument,
        quote=quote,
        miner=miner,
        stats=stats,
        ytd_percent=stats.ytd_percent(price),
        range_52w=stats.range_with(price),
        relations=[stats.relations[b] for b in RELATION_BENCHMARKS if b in stats.relations],
        trades_like=stats.trades_like,
        facts=facts,
        sources=sources,
        ev_per_eh=ev_per_eh,
        history=price_history(
            instrument,
            chosen.key,
            today=today,
            quote=quote,
            loaded=series.closes,
            bars_token=tokens.bars,
        ),
    )


def has_quote(instrument: Instrument) -> bool:
    try:
        instrument.quote  # noqa: B018 - select_related caches a missing row as an exception
    except Quote.DoesNotExist:
        return False
    return True


def has_miner(instrument: Instrument) -> bool:
    try:
        instrument.miner  # noqa: B018
    except Miner.DoesNotExist:
        return False
    return True
