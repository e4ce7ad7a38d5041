"""The simulated provider's price model: one deterministic random walk per symbol.

Every symbol follows its own random walk in log price, one step per minute, seeded from the
symbol. The walk is built as a Brownian bridge (midpoint displacement), so the value at any minute
costs one pass over ~20 levels, needs no state, and is the same on every machine: the same
symbol at the same minute always has the same price. The bridge is pinned back to the symbol's
base price once every ~2 years (at a different instant for each symbol), which keeps prices in a
sensible range however far the clock runs.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from . import simulated_market

# The walk: 2**LEVELS minutes per bridge segment (~2 years).
LEVELS = 20
PERIOD = 1 << LEVELS
MINUTES_PER_DAY = 1440

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SEGMENT_SALT = np.uint64(0xD6E8FEB86659FD93)
_U53 = 1.0 / (1 << 53)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _unit(x: np.ndarray) -> np.ndarray:
    """uint64 hashes -> floats uniform in [0, 1)."""
    return (x >> np.uint64(11)).astype(np.float64) * _U53


def _scalar_unit(seed: int, salt: int) -> float:
    """One stable uniform [0, 1) number for (seed, salt): `_splitmix` in plain integers, which
    beats a one-element array by far."""
    x = ((seed ^ (salt * 0x2545F4914F6CDD1D)) + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return (x >> 11) * _U53


@lru_cache(maxsize=65_536)
def _seed(symbol: str) -> int:
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "big")


def is_crypto(symbol: str) -> bool:
    return symbol.endswith("-USD")


def is_fx(symbol: str) -> bool:
    """An FX rate in Yahoo's form: CADUSD=X is the price of one CAD in USD."""
    return len(symbol) == 8 and symbol.endswith("=X")


def trades_round_the_clock(symbol: str) -> bool:
    return is_crypto(symbol) or is_fx(symbol)


@lru_cache(maxsize=65_536)
def _symbol_params(symbol: str) -> tuple[int, float, float, int, int, float]:
    """(seed, base price, volatility per minute, shares/supply, average daily volume, EV factor)."""
    seed = _seed(symbol)
    if is_fx(symbol):
        start = simulated_market.FX_START_USD
        base = start.get(symbol[:3], 1.0) / start.get(symbol[3:6], 1.0)
    elif is_crypto(symbol):
        base = float(np.exp(np.log(0.5) + _scalar_unit(seed, 1) * np.log(200_000 / 0.5)))
    else:
        base = float(np.exp(np.log(2.0) + _scalar_unit(seed, 1) * np.log(150 / 2.0)))
    daily_vol = 0.02 + 0.03 * _scalar_unit(seed, 2)  # 2%..5% a day: miners move a lot
    if is_fx(symbol):
        daily_vol = 0.005
    minute_vol = daily_vol / np.sqrt(MINUTES_PER_DAY)
    # A sourced reference point: the walk passes through it (and its share count, if sourced).
    base, shares = simulated_market.reference_start(walk, symbol, seed, minute_vol, base)
    if not shares and is_crypto(symbol):
        shares = int(10 ** (6 + 4 * _scalar_unit(seed, 3)))
    elif not shares:
        shares = int(10 ** (7.5 + 2 * _scalar_unit(seed, 3))) // 1000 * 1000  # 30M..3B
    average_volume = int(shares * (0.005 + 0.03 * _scalar_unit(seed, 4)))
    ev_factor = 0.9 + 0.4 * _scalar_unit(seed, 5)
    return seed, base, float(minute_vol), int(shares), average_volume, ev_factor


def walk(seeds: np.ndarray, minutes: np.ndarray, minute_vol: np.ndarray) -> np.ndarray:
    """Log-price offset of each (seed, minute) pair; arrays broadcast together.

    `seeds` is uint64, `minutes` int64 minutes since the Unix epoch, `minute_vol` float.
    """
    seeds, minutes, minute_vol = np.broadcast_arrays(seeds, minutes, minute_vol)
    shifted = minutes + (seeds % np.uint64(PERIOD)).astype(np.int64)  # per-symbol pin instants
    segment = (shifted >> LEVELS).astype(np.uint64)
    position = shifted & (PERIOD - 1)
    key = seeds ^ (segment * _SEGMENT_SALT)
    low = np.zeros(position.shape, dtype=np.int64)
    left = np.zeros(position.shape, dtype=np.float64)
    right = np.zeros(position.shape, dtype=np.float64)
    node = np.ones(position.shape, dtype=np.uint64)
    for level in range(LEVELS):
        half = PERIOD >> (level + 1)
        # Midpoint of a bridge over 2*half steps: mean of the ends, std vol*sqrt(half/2).
        z = (_unit(_splitmix(key ^ (node * _GOLDEN))) - 0.5) * 3.4641016151377544  # unit var
        middle = 0.5 * (left + right) + minute_vol * np.sqrt(half / 2) * z
        go_right = position >= low + half
        left = np.where(go_right, middle, left)
        right = np.where(go_right, right, middle)
        low = np.where(go_right, low + half, low)
        node = (node << np.uint64(1)) | go_right.astype(np.uint64)
    return left
