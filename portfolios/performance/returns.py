"""Returns over a range of a value history: time-weighted, money-weighted (XIRR), net performance.

Pure functions over `Point`s (one per day, oldest first). A day's flow is counted at its close:
the time-weighted growth of day t is (V_t - F_t) / V_(t-1); on a day that starts from nothing
it is measured on the money that arrived, V_t / F_t.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

ZERO = Decimal(0)
ONE = Decimal(1)
CTX = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
RATE_PLACES = Decimal("1E-12")
DAYS_PER_YEAR = 365


class Point(NamedTuple):
    """A day of a value history (a tuple: some thousand are made for every report)."""

    date: dt.date
    market_value: Decimal
    cash: Decimal
    net_invested: Decimal
    flow: Decimal
    cash_income: Decimal = ZERO

    @property
    def value(self) -> Decimal:
        return self.market_value + self.cash

    @property
    def pnl(self) -> Decimal:
        return self.value - self.net_invested


def growths(points: Sequence[Point]) -> list[Decimal | None]:
    """Each day's time-weighted growth factor (None where there is nothing to measure)."""
    result: list[Decimal | None] = []
    previous = ZERO
    for point in points:
        if previous != 0:
            result.append(CTX.divide(point.value - point.flow, previous))
        elif point.flow > 0:
            result.append(CTX.divide(point.value, point.flow))
        else:
            result.append(None)
        previous = point.value
    return result


RANGES = [
    ("1d", "1D", "the last day"),
    ("wtd", "WTD", "this week"),
    ("mtd", "MTD", "this month"),
    ("ytd", "YTD", "this year"),
    ("1y", "1Y", "the last year"),
    ("3y", "3Y", "the last three years"),
    ("5y", "5Y", "the last five years"),
    ("max", "Max", "since the first entry"),
]
RANGE_KEYS = [key for key, *_ in RANGES]


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def range_start(key: str, end: dt.date) -> dt.date | None:
    """The first day of a named range ending on `end` (None: from the beginning). The value of
    the last day before it is the range's starting value."""
    if key == "1d":
        return end
    if key == "wtd":
        return end - dt.timedelta(days=end.weekday())
    if key == "mtd":
        return end.replace(day=1)
    if key == "ytd":
        return end.replace(month=1, day=1)
    if key in ("1y", "3y", "5y"):
        return _years_back(end, int(key[0])) + dt.timedelta(days=1)
    return None


@dataclass(frozen=True)
class Window:
    """The points of a range (`first`..`last` indexes) and the day before it (`base`, None when
    the range starts with the history)."""

    start: int
    stop: int  # exclusive
    base: int | None

    def __bool__(self) -> bool:
        return self.stop > self.start


def window(points: Sequence[Point], start: dt.date | None, end: dt.date | None = None) -> Window:
    """Points with start <= date <= end; a "1d" start (the end itself) keeps one day."""
    dates = [p.date for p in points]
    stop = bisect_right(dates, end) if end is not None else len(points)
    first = 0 if start is None else bisect_left(dates, start)
    first = min(first, stop)
    return Window(first, stop, first - 1 if first > 0 else None)


@dataclass(frozen=True)
class Figures:
    start_value: Decimal
    end_value: Decimal
    flows: Decimal
    net: Decimal  # net performance in money: end - start - flows
    average_capital: Decimal | None
    net_percent: Decimal | None  # net over average invested capital
    twr: Decimal | None
    xirr: Decimal | None  # money-weighted, a rate per year
    mwr: Decimal | None  # money-weighted over the range (from its first cash flow)
    first_date: dt.date | None
    last_date: dt.date | None


@dataclass(frozen=True)
class Series:
    """Points with what every range reads of them, computed once: the daily growths, running
    sums of the flows and of flow x day number, and where the flows are."""

    points: Sequence[Point]
    growth: list[Decimal | None]
    flow_sums: list[Decimal]  # flow_sums[i] = flows of points[:i]
    dated_flow_sums: list[Decimal]  # the same of flow x date ordinal
    flow_at: list[int]  # indexes of the points with a flow

    @classmethod
    def of(cls, points: Sequence[Point]) -> Series:
        flow_sums, dated, flow_at = [ZERO], [ZERO], []
        for i, p in enumerate(points):
            flow_sums.append(flow_sums[-1] + p.flow)
            dated.append(dated[-1] + p.flow * p.date.toordinal())
            if p.flow:
                flow_at.append(i)
        return cls(points, growths(points), flow_sums, dated, flow_at)


def figures(series: Series, win: Window) -> Figures:
    if not win:
        return Figures(ZERO, ZERO, ZERO, ZERO, None, None, None, None, None, None, None)
    points = series.points
    base = points[win.base] if win.base is not None else None
    first, end = points[win.start], points[win.stop - 1]
    start_value = base.value if base else ZERO
    flows = series.flow_sums[win.stop] - series.flow_sums[win.start]
    net = end.value - start_value - flows
    origin = base.date if base else first.date
    span = (end.date - origin).days
    # Each flow weighted by the share of the range left after it: (end - day) / span.
    if span:
        dated = series.dated_flow_sums[win.stop] - series.dated_flow_sums[win.start]
        weighted = CTX.divide(flows * end.date.toordinal() - dated, Decimal(span))
    else:
        weighted = flows
    capital = start_value + weighted
    net_percent = CTX.divide(net, capital) if capital > 0 else None
    twr, product = None, ONE
    for g in series.growth[win.start : win.stop]:
        if g is not None:
            product = CTX.multiply(product, g)
            twr = product - ONE
    cash_flows = [(base.date, -start_value)] if base and start_value else []
    lo, hi = bisect_left(series.flow_at, win.start), bisect_left(series.flow_at, win.stop)
    cash_flows += [(points[i].date, -points[i].flow) for i in series.flow_at[lo:hi]]
    cash_flows.append((end.date, end.value))
    mwr, rate = money_weighted_and_xirr(cash_flows)
    return Figures(
        start_value,
        end.value,
        flows,
        net,
        capital if capital > 0 else None,
        net_percent,
        twr,
        rate,
        mwr,
        origin,
        end.date,
    )


def _decimal(value: float) -> Decimal | None:
    if not math.isfinite(value):
        return None
    try:
        return Decimal(repr(value)).quantize(RATE_PLACES, context=CTX)
    except decimal.InvalidOperation:  # a yearly rate too large to write down
        return None


def _log_growth(cash_flows: Sequence[tuple[dt.date, Decimal]]) -> tuple[float, int] | None:
    """The continuously compounded return y over the flows' span (first to last date) at which
    their net present value is zero, sum(c * exp(-y * days since the first / span)) = 0, and the
    span in days; None when there is no such return (all flows of one sign) or none is found.

    Solving for the span's log return rather than a yearly rate keeps short ranges and heavy
    losses well conditioned (a 30% gain over four days is a yearly rate of about 10^11)."""
    combined: dict[dt.date, float] = {}
    for day, amount in cash_flows:
        combined[day] = combined.get(day, 0.0) + float(amount)
    days = sorted(combined)
    amounts = np.array([combined[d] for d in days])
    span = (days[-1] - days[0]).days
    if not span or not (amounts > 0).any() or not (amounts < 0).any():
        return None
    exponents = np.array([(d - days[0]).days / span for d in days])
    amounts = amounts / np.abs(amounts).max()

    # Both are scaled by exp(-largest exponent), a positive factor: their signs and their
    # ratio (Newton's step) are unchanged, and no exp() overflows for returns near -100%.
    def npv(y: float) -> float:
        powers = -y * exponents
        return float(np.sum(amounts * np.exp(powers - powers.max())))

    def slope(y: float) -> float:
        powers = -y * exponents
        return float(np.sum(-exponents * amounts * np.exp(powers - powers.max())))

    y = 0.0
    for _ in range(60):
        value, derivative = npv(y), slope(y)
        if not math.isfinite(value) or not math.isfinite(derivative) or derivative == 0:
            break
        following = y - value / derivative
        if not math.isfinite(following) or abs(following) > 700:
            break
        if abs(following - y) < 1e-15 * max(1.0, abs(y)):
            return following, span
        y = following
    found = _bisect(npv)
    return (found, span) if found is not None else None


def money_weighted_and_xirr(
    cash_flows: Sequence[tuple[dt.date, Decimal]],
) -> tuple[Decimal | None, Decimal | None]:
    """The money-weighted return over the flows' span, and the same as a yearly rate (the
    XIRR); None where there is none (or the yearly rate is too large to write)."""
    solved = _log_growth(cash_flows)
    if solved is None:
        return None, None
    y, span = solved
    try:
        over_span = _decimal(math.expm1(y))
    except OverflowError:  # a gain too large to write
        return None, None
    try:
        rate = _decimal(math.expm1(y * DAYS_PER_YEAR / span))
    except OverflowError:
        rate = None
    return over_span, rate


def xirr(cash_flows: Sequence[tuple[dt.date, Decimal]]) -> Decimal | None:
    """The yearly rate r at which sum(c / (1 + r) ** (days / 365)) = 0 (None: no such rate)."""
    return money_weighted_and_xirr(cash_flows)[1]


def _bisect(npv) -> float | None:
    """Bisection over log returns from -2**20 to 2**20 (the NPV falls as y rises when money goes in
    first, and rises otherwise; either way one sign change is looked for)."""
    low, high = -1.0, 1.0
    while (npv(low) > 0) == (npv(high) > 0):
        low, high = low * 2, high * 2
        if high > 2**20:
            return None
    low_value = npv(low)
    for _ in range(200):
        middle = (low + high) / 2
        value = npv(middle)
        if not math.isfinite(value):
            return None
        if (value > 0) == (low_value > 0):
            low, low_value = middle, value
        else:
            high = middle
        if high - low < 1e-16 * max(1.0, abs(middle)):
            break
    return (low + high) / 2
