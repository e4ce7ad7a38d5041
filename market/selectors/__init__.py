"""Reads for the sector dashboard and the miner pages, with query counts that do not grow with
the universe.

A dashboard request costs two queries when its caches are warm (the latest refresh run, the
newest miner quote) plus one cache read for the version tokens, and at most six when they are
cold. What depends only on the daily bars (the YTD base, the 52-week range, correlations and
betas, the daily sector history) is computed for all instruments at once and cached under the
bars token (config/versions.py), so it is recomputed when new bars or splits arrive, not per
request.
"""

from market.selectors.cache import CACHE_PREFIX, cache_key, cached_on_token
from market.selectors.dashboard import FRAGMENT_SECONDS, Dashboard, dashboard
from market.selectors.freshness import (
    RefreshState,
    Tokens,
    current_tokens,
    latest_quotes_run,
    market_today,
    miners_quoted_at,
    stale_after,
)
from market.selectors.history import (
    DEFAULT_MINER_RANGE,
    DEFAULT_SECTOR_RANGE,
    MINER_RANGE_KEYS,
    MINER_RANGES,
    SECTOR_RANGE_KEYS,
    SECTOR_RANGES,
    History,
    HistoryPoint,
    HistoryRange,
    live_sector_total,
    price_history,
    range_start,
    sector_history,
)
from market.selectors.miner import (
    Fact,
    InstrumentSeries,
    MinerDetail,
    find_instrument,
    has_miner,
    has_quote,
    instrument_series,
    miner_detail,
)
from market.selectors.rows import (
    QUOTE_FIELDS,
    SEGMENT_LABELS,
    SEGMENT_SHORT_LABELS,
    InstrumentRow,
    instrument_rows,
    miner_url,
)
from market.selectors.search import all_instruments, search_instruments
from market.selectors.sector import (
    MOVERS_COUNT,
    MoverList,
    SectorSummary,
    SegmentFigures,
    movers,
    sector_summary,
    segment_comparison,
)
from market.selectors.stats import (
    AI_BENCHMARKS,
    BITCOIN,
    CORRELATION_LOOKBACK_DAYS,
    RELATION_BENCHMARKS,
    STATS_CACHE_SECONDS,
    YEAR_LOOKBACK_DAYS,
    InstrumentStats,
    instrument_stats,
    relations_for,
)

__all__ = [
    "AI_BENCHMARKS",
    "BITCOIN",
    "CACHE_PREFIX",
    "CORRELATION_LOOKBACK_DAYS",
    "DEFAULT_MINER_RANGE",
    "DEFAULT_SECTOR_RANGE",
    "Dashboard",
    "FRAGMENT_SECONDS",
    "Fact",
    "History",
    "HistoryPoint",
    "HistoryRange",
    "InstrumentRow",
    "InstrumentSeries",
    "InstrumentStats",
    "MINER_RANGES",
    "MINER_RANGE_KEYS",
    "MOVERS_COUNT",
    "MinerDetail",
    "MoverList",
    "QUOTE_FIELDS",
    "RELATION_BENCHMARKS",
    "RefreshState",
    "SECTOR_RANGES",
    "SECTOR_RANGE_KEYS",
    "SEGMENT_LABELS",
    "SEGMENT_SHORT_LABELS",
    "STATS_CACHE_SECONDS",
    "SectorSummary",
    "Tokens",
    "SegmentFigures",
    "YEAR_LOOKBACK_DAYS",
    "all_instruments",
    "cache_key",
    "cached_on_token",
    "current_tokens",
    "dashboard",
    "find_instrument",
    "has_miner",
    "has_quote",
    "instrument_rows",
    "instrument_series",
    "instrument_stats",
    "latest_quotes_run",
    "live_sector_total",
    "market_today",
    "miners_quoted_at",
    "miner_detail",
    "miner_url",
    "movers",
    "price_history",
    "range_start",
    "relations_for",
    "search_instruments",
    "sector_history",
    "sector_summary",
    "segment_comparison",
    "stale_after",
]
