"""Risk over a range: volatility, beta and correlation to a benchmark, drawdowns.

Statistics over return series use NumPy floats (as the design allows); the money figures they
describe stay Decimal elsewhere.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from portfolios.performance.returns import CTX, ONE, Point, Window


@dataclass(frozen=True)
class Drawdown:
    depth: Decimal  # the largest fall from a peak, as a (negative) fraction
    peak: dt.date | None
    trough: dt.date | None
    recovered: dt.date | None  # back at the peak (None: not yet)


def index(points: Sequence[Point], growth: Sequence, win: Window) -> list[tuple[dt.date, Decimal]]:
    """The time-weighted index over the range: 1 at its start, times each day's growth."""
    level = ONE
    series = []
    for point, g in zip(points[win.start : win.stop], growth[win.start : win.stop], strict=True):
        if g is not None:
            level = CTX.multiply(level, g)
        series.append((point.date, level))
    return series


def underwater(levels: Sequence[tuple[dt.date, Decimal]]) -> list[tuple[dt.date, Decimal]]:
    """How far below its running peak the index is each day (0 at a new peak)."""
    peak = ONE
    series = []
    for day, level in levels:
        peak = max(peak, level)
        series.append((day, CTX.divide(level, peak) - ONE))
    return series


def max_drawdown(levels: Sequence[tuple[dt.date, Decimal]], start: dt.date | None) -> Drawdown:
    peak, peak_date = ONE, start
    worst = Drawdown(Decimal(0), None, None, None)
    worst_peak = None
    for day, level in levels:
        if level >= peak:
            if worst_peak is not None and worst.recovered is None and level >= worst_peak:
                worst = Drawdown(worst.depth, worst.peak, worst.trough, day)
            peak, peak_date = level, day
            continue
        depth = CTX.divide(level, peak) - ONE
        if depth < worst.depth:
            worst = Drawdown(depth, peak_date, day, None)
            worst_peak = peak
    return worst


def daily_returns(levels: Sequence[tuple[dt.date, Decimal]]) -> dict[dt.date, float]:
    returns, previous = {}, 1.0
    for day, level in levels:
        current = float(level)
        if previous:
            returns[day] = current / previous - 1
        previous = current
    return returns


def volatility(returns: dict[dt.date, float], start: dt.date, end: dt.date) -> float | None:
    """Standard deviation of daily returns, annualised by the number of days observed a year."""
    values = np.array(list(returns.values()))
    years = max((end - start).days, 1) / 365.25
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) * math.sqrt(len(values) / years))


def closes_on(
    series: tuple[list[dt.date], list[float]], days: Sequence[dt.date]
) -> list[float | None]:
    """A benchmark's last close on or before each day (days ascending)."""
    dates, closes = series
    result, j, count = [], 0, len(dates)
    for day in days:
        while j < count and dates[j] <= day:
            j += 1
        result.append(float(closes[j - 1]) if j else None)
    return result


def benchmark_returns(
    series: tuple[list[dt.date], list[Decimal]], base: dt.date | None, days: Sequence[dt.date]
) -> dict[dt.date, float]:
    points = closes_on(series, [base, *days] if base else list(days))
    dates = [base, *days] if base else list(days)
    returns = {}
    for i in range(1, len(points)):
        if points[i - 1] and points[i] is not None:
            returns[dates[i]] = points[i] / points[i - 1] - 1
    return returns


@dataclass(frozen=True)
class Relation:
    beta: float | None
    correlation: float | None
    days: int


def relation(portfolio: dict[dt.date, float], benchmark: dict[dt.date, float]) -> Relation:
    """Beta (cov / var of the benchmark) and correlation of the days both have a return."""
    common = sorted(set(portfolio) & set(benchmark))
    if len(common) < 3:
        return Relation(None, None, len(common))
    p = np.array([portfolio[d] for d in common])
    b = np.array([benchmark[d] for d in common])
    var_b = float(np.var(b, ddof=1))
    if var_b == 0 or float(np.var(p, ddof=1)) == 0:
        return Relation(None, None, len(common))
    cov = float(np.cov(p, b, ddof=1)[0, 1])
    return Relation(cov / var_b, float(np.corrcoef(p, b)[0, 1]), len(common))
