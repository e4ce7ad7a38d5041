"""Reads that pages and exports share: positions with P&L, exposure, transactions, watchlists.

Every function takes the owner or an object already fetched through the owner, and runs a
constant number of queries (the holdings with their instrument, quote and miner facts in one;
the FX rates they need in one more).

Import from here (`from portfolios.selectors import portfolio_positions`); the modules are split
by subject only to keep each one readable.
"""

from portfolios.selectors.allocation import Exposure, Slice, exposure, exposure_from_positions
from portfolios.selectors.positions import (
    AI_HPC_SEGMENTS,
    CAP_TIERS,
    COUNTRY_NAMES,
    HUNDRED,
    NO_TIER,
    POSITION_FIELDS,
    SEGMENT_ORDER,
    ZERO,
    PositionRow,
    Positions,
    PositionTotals,
    cap_tier,
    portfolio_positions,
    portfolio_summaries,
)
from portfolios.selectors.transactions import portfolio_transactions, user_transactions
from portfolios.selectors.watchlists import user_watchlists, watchlist_items

__all__ = [
    "AI_HPC_SEGMENTS",
    "CAP_TIERS",
    "COUNTRY_NAMES",
    "HUNDRED",
    "NO_TIER",
    "POSITION_FIELDS",
    "SEGMENT_ORDER",
    "ZERO",
    "Exposure",
    "PositionRow",
    "PositionTotals",
    "Positions",
    "Slice",
    "cap_tier",
    "exposure",
    "exposure_from_positions",
    "portfolio_positions",
    "portfolio_summaries",
    "portfolio_transactions",
    "user_transactions",
    "user_watchlists",
    "watchlist_items",
]
