"""Sector analytics on plain series: YTD, 52-week range, returns, correlation and beta, milestones.

Pure functions: they take dates, Decimals and sequences, never query the database, so the pages
and the tests share one definition of every figure. Money stays Decimal; statistics over returns
use NumPy floats (a correlation is not money).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np

HUNDRED = Decimal(100)

# Correlations and betas use this many daily returns (trading days of the stock)...
CORRELATION_WINDOW = 90
# ...and are not reported on fewer aligned returns than this.
MIN_OBSERVATIONS = 60
# A benchmark close older than this (calendar days) before a stock's trading date does not
# count as that day's close (a long gap in the benchmark's history, not a weekend or holiday).
MAX_BENCHMARK_GAP_DAYS = 5
# The label needs one correlation to lead the other by at least this much...
LEAN_MARGIN = 0.05
# ...and the leading one to be at least this strong; below it the stock follows neither.
MIN_MEANINGFUL_CORRELATION = 0.2


# --- Returns over a period ---------------------------------------------------------------------


def change_percent(current: Decimal | None, base: Decimal | None) -> Decimal | None:
    """(current / base - 1) x 100, or None when either is missing or the base is not positive."""
    if current is None or base is None or base <= 0:
        return None
    return (Decimal(current) / Decimal(base) - 1) * HUNDRED


def ytd_base_close(closes: Iterable[tuple[dt.date, Decimal]], year: int) -> Decimal | None:
    """The last adjusted close before 1 January of `year`: the base of the year-to-date change.

    None when the series has no bar in an earlier year (a listing of this year has no YTD).
    """
    first_day = dt.date(year, 1, 1)
    best: tuple[dt.date, Decimal] | None = None
    for day, close in closes:
        if day < first_day and (best is None or day > best[0]):
            best = (day, close)
    return best[1] if best else None


# --- 52-week range -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRange:
    low: Decimal
    high: Decimal

    def position_percent(self, price: Decimal | None) -> Decimal | None:
        """Where `price` sits in the range, 0 at the low and 100 at the high (clamped)."""
        if price is None:
            return None
        if self.high == self.low:
            return Decimal(50)
        position = (Decimal(price) - self.low) / (self.high - self.low) * HUNDRED
        return min(max(position, Decimal(0)), HUNDRED)


def fifty_two_week_start(as_of: dt.date) -> dt.date:
    """The first day inside the 52-week window that ends on `as_of`."""
    return as_of - dt.timedelta(days=364)


def fifty_two_week_range(
    bars: Iterable[tuple[dt.date, Decimal | None, Decimal | None, Decimal]], as_of: dt.date
) -> PriceRange | None:
    """Lowest low and highest high of the daily bars (date, high, low, close) in the 52 weeks
    ending on `as_of`; a bar without a high or low counts with its close. None without bars."""
    start = fifty_two_week_start(as_of)
    low: Decimal | None = None
    high: Decimal | None = None
    for day, bar_high, bar_low, close in bars:
        if not start <= day <= as_of:
            continue
        top = bar_high if bar_high is not None else close
        bottom = bar_low if bar_low is not None else close
        high = top if high is None or top > high else high
        low = bottom if low is None or bottom < low else low
    if low is None or high is None:
        return None
    return PriceRange(low=low, high=high)


# --- Returns, correlation, beta ----------------------------------------------------------------


def daily_returns(closes: Sequence[Decimal | float]) -> np.ndarray:
    """Simple returns between consecutive closes: close[t] / close[t-1] - 1."""
    prices = np.asarray([float(c) for c in closes], dtype=np.float64)
    if prices.size < 2:
        return np.empty(0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return prices[1:] / prices[:-1] - 1.0


def align_to_trading_dates(
    stock: Iterable[tuple[dt.date, Decimal]], benchmark: Iterable[tuple[dt.date, Decimal]]
) -> tuple[list[dt.date], list[Decimal], list[Decimal]]:
    """Pair each of the stock's trading dates with the benchmark's close on that date, or its last
    close before it (Bitcoin trades on weekends, so its Friday-to-Monday move lands in Monday's
    return, like the stock's). Dates with no recent benchmark close are dropped."""
    stock_sorted = sorted(dict(stock).items())
    bench_sorted = sorted(dict(benchmark).items())
    dates: list[dt.date] = []
    stock_closes: list[Decimal] = []
    bench_closes: list[Decimal] = []
    j = -1
    for day, close in stock_sorted:
        while j + 1 < len(bench_sorted) and bench_sorted[j + 1][0] <= day:
            j += 1
        if j < 0:
            continue
        bench_day, bench_close = bench_sorted[j]
        if (day - bench_day).days > MAX_BENCHMARK_GAP_DAYS:
            continue
        dates.append(day)
        stock_closes.append(close)
        bench_closes.append(bench_close)
    return dates, stock_closes, bench_closes


@dataclass(frozen=True)
class Relation:
    """How a stock's daily returns moved with a benchmark's."""

    benchmark: str
    correlation: float | None
    beta: float | None
    observations: int

    @property
    def known(self) -> bool:
        return self.correlation is not None


def relation(
    stock: Iterable[tuple[dt.date, Decimal]],
    benchmark: Iterable[tuple[dt.date, Decimal]],
    *,
    benchmark_symbol: str,
    window: int = CORRELATION_WINDOW,
    min_observations: int = MIN_OBSERVATIONS,
) -> Relation:
    """Correlation and beta of the stock's daily returns against the benchmark's over the last
    `window` trading days of the stock (adjusted closes, aligned on the stock's dates).

    Correlation is None when there are fewer than `min_observations` returns or either series
    did not move; beta is None when the benchmark did not move (a flat stock has beta 0).
    """
    _dates, stock_closes, bench_closes = align_to_trading_dates(stock, benchmark)
    stock_closes = stock_closes[-(window + 1) :]
    bench_closes = bench_closes[-(window + 1) :]
    stock_returns = daily_returns(stock_closes)
    bench_returns = daily_returns(bench_closes)
    usable = np.isfinite(stock_returns) & np.isfinite(bench_returns)
    stock_returns = stock_returns[usable]
    bench_returns = bench_returns[usable]
    observations = int(stock_returns.size)
    if observations < max(min_observations, 2):
        return Relation(benchmark_symbol, None, None, observations)
    stock_dev = stock_returns - stock_returns.mean()
    bench_dev = bench_returns - bench_returns.mean()
    covariance = float(np.dot(stock_dev, bench_dev)) / (observations - 1)
    stock_var = float(np.dot(stock_dev, stock_dev)) / (observations - 1)
    bench_var = float(np.dot(bench_dev, bench_dev)) / (observations - 1)
    # Variances this small are rounding noise on a series that did not move.
    tiny = 1e-18
    beta = covariance / bench_var if bench_var > tiny else None
    if stock_var > tiny and bench_var > tiny:
        correlation = covariance / (stock_var * bench_var) ** 0.5
        correlation = max(-1.0, min(1.0, correlation))
    else:
        correlation = None
    return Relation(benchmark_symbol, correlation, beta, observations)


class Lean(StrEnum):
    AI = "ai"
    BITCOIN = "bitcoin"
    MIXED = "mixed"
    NEITHER = "neither"
    UNKNOWN = "unknown"


LEAN_TEXT = {
    Lean.AI: "trades more like AI infrastructure",
    Lean.BITCOIN: "trades more like Bitcoin",
    Lean.MIXED: "trades like both",
    Lean.NEITHER: "follows neither closely",
    Lean.UNKNOWN: "not enough data",
}

LEAN_SHORT = {
    Lean.AI: "AI",
    Lean.BITCOIN: "Bitcoin",
    Lean.MIXED: "Both",
    Lean.NEITHER: "Neither",
    Lean.UNKNOWN: "",
}

LEAN_RULE = (
    f"Compares the correlation of daily returns over {CORRELATION_WINDOW} trading days with "
    "BTC-USD to the average correlation with the AI benchmarks (NVDA, SMH). The higher one wins "
    f"when it leads by at least {LEAN_MARGIN:.2f} and is at least "
    f"{MIN_MEANINGFUL_CORRELATION:.1f}; "
    f"fewer than {MIN_OBSERVATIONS} days of returns is not enough data."
)


@dataclass(frozen=True)
class TradesLike:
    lean: Lean
    bitcoin_correlation: float | None
    ai_correlation: float | None

    @property
    def text(self) -> str:
        return LEAN_TEXT[self.lean]

    @property
    def short(self) -> str:
        return LEAN_SHORT[self.lean]

    @property
    def sort_value(self) -> float | None:
        """AI minus Bitcoin correlation: high for AI-like names, low for Bitcoin-like ones."""
        if self.bitcoin_correlation is None or self.ai_correlation is None:
            return None
        return self.ai_correlation - self.bitcoin_correlation


def trades_like(bitcoin: Relation | None, ai: Sequence[Relation]) -> TradesLike:
    """The plain-words label: which benchmark family the stock's returns follow more closely.

    The AI side is the average of the known AI-benchmark correlations. The rule is LEAN_RULE.
    """
    btc = bitcoin.correlation if bitcoin is not None else None
    ai_known = [r.correlation for r in ai if r.correlation is not None]
    ai_avg = sum(ai_known) / len(ai_known) if ai_known else None
    if btc is None or ai_avg is None:
        return TradesLike(Lean.UNKNOWN, btc, ai_avg)
    if max(btc, ai_avg) < MIN_MEANINGFUL_CORRELATION:
        lean = Lean.NEITHER
    elif ai_avg - btc >= LEAN_MARGIN:
        lean = Lean.AI
    elif btc - ai_avg >= LEAN_MARGIN:
        lean = Lean.BITCOIN
    else:
        lean = Lean.MIXED
    return TradesLike(lean, btc, ai_avg)


# --- Sector totals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    target: Decimal
    total: Decimal

    @property
    def to_go_percent(self) -> Decimal:
        """How much the total must still rise, in percent of the total, to reach the target."""
        return (self.target / self.total - 1) * HUNDRED

    @property
    def reached_percent(self) -> Decimal:
        """The total as a percentage of the target (the progress bar)."""
        return self.total / self.target * HUNDRED


def next_milestone(total: Decimal | None, milestones: Iterable[int | Decimal]) -> Milestone | None:
    """The smallest milestone strictly above `total`; None when there is none or no total."""
    if total is None or total <= 0:
        return None
    above = sorted(Decimal(m) for m in milestones if Decimal(m) > total)
    return Milestone(target=above[0], total=Decimal(total)) if above else None


@dataclass(frozen=True)
class TotalChange:
    total: Decimal
    change: Decimal
    percent: Decimal | None


def total_change(positions: Iterable[tuple[Decimal | None, Decimal | None]]) -> TotalChange:
    """Sum of current values and of their changes, and the change in percent of the value before.

    `positions` are (value now, change in value); a position without a value is left out, one
    without a change counts as unchanged.
    """
    total = Decimal(0)
    change = Decimal(0)
    for value, delta in positions:
        if value is None:
            continue
        total += value
        change += delta or Decimal(0)
    before = total - change
    return TotalChange(total, change, change / before * HUNDRED if before > 0 else None)


@dataclass(frozen=True)
class Movers[T]:
    gainers: list[T]
    losers: list[T]


def movers[T](items: Iterable[T], key: Callable[[T], Decimal | None], count: int = 5) -> Movers[T]:
    """The `count` biggest rises and falls by `key` (a change in percent); zero and None are
    neither. Ties keep the input order."""
    valued = [(key(item), index, item) for index, item in enumerate(items)]
    rises = sorted(
        (v for v in valued if v[0] is not None and v[0] > 0), key=lambda v: (-v[0], v[1])
    )
    falls = sorted((v for v in valued if v[0] is not None and v[0] < 0), key=lambda v: (v[0], v[1]))
    return Movers([v[2] for v in rises[:count]], [v[2] for v in falls[:count]])
