"""What makes the simulated market look like the one it imitates: which symbols it prices, where
each starts, and how it moves with Bitcoin and with AI.

- **Symbols**: the universe (market/data/universe.csv), FX rates between the currencies a
  portfolio may use, and EXTRA_SYMBOLS. Anything else is refused (UnknownSymbol), so a typo gets
  no invented price and no page.
- **Reference points**: where universe.csv has a `reference_price` (with `reference_at` and
  `reference_source`, and `reference_shares` when sourced), the walk passes through that price at
  that minute and uses that share count. Only sourced figures are there; every other instrument
  starts from a price derived from its symbol, and needs a sourced reference to look like itself.
- **Calendar**: equities trade on the New York exchange's real calendar (holidays included), the
  one the pages' session comes from (market.sessions), with pre- and post-market hours.
- **Factors**: every walk mixes a Bitcoin factor, an AI factor and the symbol's own moves, in the
  proportions FACTOR_LOADINGS gives its segment (BTC-USD is the Bitcoin factor, NVDA, SMH and QQQ
  load on the AI factor), so correlations, and "Trades like", differ by segment.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np

UNIVERSE_FILE = Path(__file__).resolve().parents[1] / "data" / "universe.csv"
# Symbols priced besides the universe and FX rates: none yet. A symbol added here needs a sourced
# reference point in universe.csv to start from a real price.
EXTRA_SYMBOLS: frozenset[str] = frozenset()
# Rough units of USD per currency, where FX walks start (the rates are labelled simulated like
# every price here); their pairs are the FX rates the simulated market quotes.
FX_START_USD = {
    "USD": 1.0, "CAD": 0.72, "AUD": 0.65, "EUR": 1.08, "GBP": 1.27, "SGD": 0.74,
    "CHF": 1.12, "JPY": 0.0067, "HKD": 0.128, "NOK": 0.093, "SEK": 0.095,
}  # fmt: skip
FX_CURRENCIES = frozenset(FX_START_USD)

# (Bitcoin, AI) loadings by segment; the rest of the variance is the symbol's own.
FACTOR_LOADINGS: dict[str, tuple[float, float]] = {
    "miner": (0.85, 0.10),  # pure miners: trade like Bitcoin
    "pivot": (0.55, 0.50),  # signed AI/HPC business: both
    "ai_hpc": (0.20, 0.85),  # mostly AI/HPC now: trade like AI infrastructure
    "hardware": (0.70, 0.25),
}
BENCHMARK_LOADINGS: dict[str, tuple[float, float]] = {
    "BTC-USD": (1.0, 0.0),
    "WGMI": (0.85, 0.30),
    "NVDA": (0.0, 0.95),
    "SMH": (0.0, 0.97),
    "QQQ": (0.10, 0.80),
}
BITCOIN_FACTOR_SEED = int.from_bytes(hashlib.blake2b(b"factor:bitcoin", digest_size=8).digest())
AI_FACTOR_SEED = int.from_bytes(hashlib.blake2b(b"factor:ai", digest_size=8).digest())


@dataclass(frozen=True)
class ReferencePoint:
    price: Decimal
    at: datetime
    source: str
    shares: int | None = None


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    segment: str
    reference: ReferencePoint | None


@lru_cache(maxsize=4)
def universe(path: Path = UNIVERSE_FILE) -> dict[str, UniverseEntry]:
    """The universe file's symbols with their segment and sourced reference point, if any."""
    entries = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            symbol = (row.get("symbol") or "").strip().upper()
            if not symbol:
                continue
            reference = None
            price = (row.get("reference_price") or "").strip()
            if price:
                shares = (row.get("reference_shares") or "").strip()
                reference = ReferencePoint(
                    price=Decimal(price),
                    at=datetime.fromisoformat(row["reference_at"].strip()),
                    source=row["reference_source"].strip(),
                    shares=int(shares) if shares else None,
                )
            entries[symbol] = UniverseEntry(symbol, (row.get("segment") or "").strip(), reference)
    return entries


def is_priced(symbol: str) -> bool:
    """Whether the simulated market quotes this symbol (see the module docstring)."""
    if symbol in universe() or symbol in EXTRA_SYMBOLS:
        return True
    return (
        len(symbol) == 8
        and symbol.endswith("=X")
        and symbol[:3] in FX_CURRENCIES
        and symbol[3:6] in FX_CURRENCIES
        and symbol[:3] != symbol[3:6]
    )


def loadings(symbol: str) -> tuple[float, float, float]:
    """(Bitcoin, AI, own) weights of a symbol's walk; their squares add up to one."""
    if symbol in BENCHMARK_LOADINGS:
        bitcoin, ai = BENCHMARK_LOADINGS[symbol]
    else:
        entry = universe().get(symbol)
        bitcoin, ai = FACTOR_LOADINGS.get(entry.segment if entry else "", (0.0, 0.0))
    common = bitcoin * bitcoin + ai * ai
    if common > 1:
        scale = 1 / math.sqrt(common)
        bitcoin, ai, common = bitcoin * scale, ai * scale, 1.0
    return bitcoin, ai, math.sqrt(1 - common)


def mixed_walk(walk, symbols: list[str], seeds, minutes, minute_vol) -> np.ndarray:
    """Log-price offsets of `symbols` at `minutes`, one row per symbol: each symbol's mix of the
    Bitcoin factor, the AI factor and its own walk. `walk` is the provider's Brownian bridge;
    `seeds` and `minute_vol` are columns (one row per symbol), `minutes` a row or a matrix
    (one symbol)."""
    weights = np.array([loadings(symbol) for symbol in symbols])
    if len(symbols) == 1:
        bitcoin, ai, own = weights[0]
    else:
        bitcoin, ai, own = weights[:, 0:1], weights[:, 1:2], weights[:, 2:3]
    return (
        bitcoin * walk(np.uint64(BITCOIN_FACTOR_SEED), minutes, minute_vol)
        + ai * walk(np.uint64(AI_FACTOR_SEED), minutes, minute_vol)
        + own * walk(seeds, minutes, minute_vol)
    )


def reference_start(
    walk, symbol: str, seed: int, minute_vol: float, default_base: float
) -> tuple[float, int | None]:
    """(base price, share count) that make the walk pass through the symbol's sourced reference
    price at its reference minute; (default_base, None) when it has none."""
    entry = universe().get(symbol)
    if entry is None or entry.reference is None:
        return default_base, None
    minute = np.array([int(entry.reference.at.timestamp()) // 60], dtype=np.int64)
    offset = mixed_walk(walk, [symbol], np.uint64(seed), minute, minute_vol)[0]
    return float(entry.reference.price) / math.exp(float(offset)), entry.reference.shares


def is_trading_day(day) -> bool:
    """A New York session day on the exchange's calendar (weekends and holidays are not)."""
    from market import sessions

    return sessions.trading_day(day) is not None
