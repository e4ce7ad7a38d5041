"""Per-instrument statistics from the daily bars: YTD base, 52-week range, relations."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import Coalesce

from market import analytics
from market.analytics import PriceRange, Relation, TradesLike
from market.models import (
    DailyBar,
    Instrument,
)
from market.selectors.cache import cached_on_token
from market.selectors.freshness import Tokens

BITCOIN = "BTC-USD"
AI_BENCHMARKS = ("NVDA", "SMH")
RELATION_BENCHMARKS = (BITCOIN, *AI_BENCHMARKS)
# Calendar days of bars loaded for correlations: comfortably more than 90 trading days.
CORRELATION_LOOKBACK_DAYS = 150
# Calendar days of bars loaded for one instrument's YTD, 52-week range and correlations.
YEAR_LOOKBACK_DAYS = 400
STATS_CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class InstrumentStats:
    """What the daily bars say about one instrument; combined with the live price per request."""

    ytd_base: Decimal | None
    range_52w: PriceRange | None
    relations: dict[str, Relation] = field(default_factory=dict)
    trades_like: TradesLike = field(default_factory=lambda: analytics.trades_like(None, []))

    def ytd_percent(self, price: Decimal | None) -> Decimal | None:
        return analytics.change_percent(price, self.ytd_base)

    def range_with(self, price: Decimal | None) -> PriceRange | None:
        """The 52-week range stretched to include today's price."""
        if self.range_52w is None:
            return PriceRange(price, price) if price is not None else None
        if price is None:
            return self.range_52w
        return PriceRange(min(self.range_52w.low, price), max(self.range_52w.high, price))


def relations_for(
    series: dict[str, list[tuple[dt.date, Decimal]]], symbol: str
) -> tuple[dict[str, Relation], TradesLike]:
    own = series.get(symbol, [])
    relations = {
        bench: analytics.relation(own, series.get(bench, []), benchmark_symbol=bench)
        for bench in RELATION_BENCHMARKS
        if bench != symbol
    }
    label = analytics.trades_like(
        relations.get(BITCOIN), [relations[b] for b in AI_BENCHMARKS if b in relations]
    )
    return relations, label


def _compute_all_stats(today: dt.date) -> dict[int, InstrumentStats]:
    """Two queries, whatever the number of instruments: one aggregate for the YTD base and the
    52-week range; one for the recent adjusted closes behind the
    correlations (the miners' and the benchmarks' in the same query)."""
    year_start = dt.date(today.year, 1, 1)
    window_start = analytics.fifty_two_week_start(today)
    ytd_base = Subquery(
        DailyBar.objects.filter(instrument=OuterRef("pk"), date__lt=year_start)
        .order_by("-date")
        .values("adj_close")[:1]
    )
    in_window = Q(bars__date__gte=window_start, bars__date__lte=today)
    aggregates = (
        Instrument.objects.filter(Q(miner__isnull=False) | Q(symbol__in=RELATION_BENCHMARKS))
        .annotate(
            ytd_base=ytd_base,
            range_high=Max(Coalesce("bars__high", "bars__close"), filter=in_window),
            range_low=Min(Coalesce("bars__low", "bars__close"), filter=in_window),
        )
        .values_list("id", "symbol", "ytd_base", "range_high", "range_low")
    )
    rows = list(aggregates)
    symbols = {pk: symbol for pk, symbol, *_ in rows}
    series: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    closes = (
        DailyBar.objects.filter(
            instrument_id__in=list(symbols),
            date__gte=today - dt.timedelta(days=CORRELATION_LOOKBACK_DAYS),
        )
        .order_by()
        .values_list("instrument_id", "date", "adj_close")
    )
    for instrument_id, day, close in closes.iterator(chunk_size=5000):
        series[symbols[instrument_id]].append((day, close))
    stats = {}
    for pk, symbol, base, high, low in rows:
        relations, label = relations_for(series, symbol)
        stats[pk] = InstrumentStats(
            ytd_base=base,
            range_52w=PriceRange(low, high) if low is not None and high is not None else None,
            relations=relations,
            trades_like=label,
        )
    return stats


def instrument_stats(tokens: Tokens) -> dict[int, InstrumentStats]:
    """Stats of every miner and benchmark, keyed by instrument id, cached per bars token and
    market day (the YTD base and the 52-week window move with the day)."""
    return cached_on_token(
        tokens.bars,
        "stats",
        (tokens.market_date.isoformat(),),
        lambda: _compute_all_stats(tokens.market_date),
        STATS_CACHE_SECONDS,
    )
