"""The performance page's reads: one portfolio's (or all of a user's) value history, returns for
every range, benchmarks, risk and contribution, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.core.cache import cache
from django.utils import timezone

from config import versions
from market.models import Instrument
from portfolios.models import Portfolio, PortfolioDay
from portfolios.performance import benchmarks, contribution, history, returns, risk
from portfolios.performance.returns import Figures, Point, Window

BENCHMARKS = ["BTC-USD", "NVDA", "SMH"]
RELATED = ["BTC-USD", "NVDA"]
SECTOR = benchmarks.SECTOR
EXPLAIN = {
    "twr": "Time-weighted return: how the investments themselves did, each day's result linked, "
    "so money added or taken out does not change it.",
    "mwr": "Money-weighted return: the XIRR of your deposits, withdrawals and the final value "
    "over the range, so the timing of your money counts.",
    "net": "Net performance: the value at the end less the value at the start and less the "
    "money added (plus the money taken out) in between.",
    "net_percent": "Net performance over the average capital invested in the range (the "
    "starting value plus each deposit weighted by the time it was in).",
    "xirr": "The money-weighted return as a rate per year.",
    "volatility": "Annualised volatility: the standard deviation of the daily time-weighted "
    "returns, scaled to a year.",
    "drawdown": "Max drawdown: the largest fall of the time-weighted value from a peak.",
    "beta": "Beta: how much the portfolio moved, on average, for a 1% move of the benchmark "
    "on the same day.",
    "correlation": "Correlation of daily returns: 1 moves in step, 0 unrelated, -1 opposite.",
    "currency": "The part of the P&L that came from exchange rates: the P&L less the same P&L "
    "in the instrument's currency converted at the end's rate.",
}


@dataclass(frozen=True)
class RangeFigures:
    key: str
    label: str
    description: str
    figures: Figures


@dataclass
class Report:
    title: str
    currency: str
    points: list[Point]
    window: Window
    range_key: str
    selected: Figures
    ranges: list[RangeFigures]
    levels: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    underwater: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    drawdown: risk.Drawdown | None = None
    volatility: float | None = None
    relations: dict[str, risk.Relation] = field(default_factory=dict)
    # Each series' change since the range's start, one value per day of the range.
    comparison: dict[str, list[float | None]] = field(default_factory=dict)
    contributions: list[contribution.Contribution] = field(default_factory=list)
    explain: dict[str, str] = field(default_factory=lambda: EXPLAIN)

    @cached_property
    def in_range(self) -> list[Point]:
        return self.points[self.window.start : self.window.stop]

    @property
    def comparison_changes(self) -> list[tuple[str, float | None]]:
        """Each series' change over the whole range."""
        return [
            (name, next((v for v in reversed(values) if v is not None), None))
            for name, values in self.comparison.items()
        ]

    @property
    def currency_pnl(self) -> Decimal:
        return sum((c.currency_pnl for c in self.contributions), Decimal(0))

    @property
    def is_empty(self) -> bool:
        return not self.points


CHART_POINTS = 400


def chart_sample(count: int) -> list[int]:
    """Indexes of at most CHART_POINTS of `count` days, evenly spaced, first and last in."""
    if count <= CHART_POINTS:
        return list(range(count))
    step = (count - 1) / (CHART_POINTS - 1)
    return sorted({round(i * step) for i in range(CHART_POINTS)})


def _points(days) -> list[Point]:
    return list(map(Point._make, days))


POINT_FIELDS = ("date", "market_value", "cash", "net_invested", "flow", "cash_income")


DAYS_CACHE_SECONDS = 6 * 3600


def _stored_days(portfolio: Portfolio) -> tuple[list[tuple], PortfolioDay | None]:
    """The stored days (brought up to yesterday) as tuples, and the last one. Cached on the
    owner's token (any ledger write replaces it), the bars token and the date."""
    tokens = (versions.user_token(portfolio.owner_id), versions.bars_token())
    key = f"performance:days:{portfolio.pk}:{':'.join(tokens)}:{timezone.localdate()}"
    if all(tokens):
        found = cache.get(key)
        if found is not None:
            return found
    history.ensure(portfolio)
    days = list(
        PortfolioDay.objects.filter(portfolio=portfolio).order_by("date").values_list(*POINT_FIELDS)
    )
    last = PortfolioDay.objects.filter(portfolio=portfolio).order_by("-date").first()
    if all(tokens):
        cache.set(key, (days, last), DAYS_CACHE_SECONDS)
    return days, last


def _live(portfolio: Portfolio) -> tuple[list[Point], dict, dict]:
    """(points with today's live one, -, today's positions)."""
    days, last = _stored_days(portfolio)
    state, flow = history.live_state(portfolio, last)
    points = _points(days)
    if state.positions or state.cash or flow:
        points.append(
            Point(
                timezone.localdate(),
                history.q8(state.market_value),
                state.cash,
                state.net_invested,
                flow,
                state.cash_income,
            )
        )
    return points, {}, state.positions


def _window(points: Sequence[Point], key: str, start, end) -> Window:
    if not points:
        return Window(0, 0, None)
    if key == "custom":
        return returns.window(points, start, end)
    return returns.window(points, returns.range_start(key, points[-1].date))


def _all_ranges(series: returns.Series) -> list[RangeFigures]:
    points = series.points
    return [
        RangeFigures(key, label, text, returns.figures(series, _window(points, key, None, None)))
        for key, label, text in returns.RANGES
    ]


def build(
    *,
    title: str,
    currency: str,
    points: list[Point],
    contributions_of: Callable[..., list[contribution.Contribution]],
    range_key: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    compare: str = "",
) -> Report:
    """The report of `points` over the range. `contributions_of(first, last, cash_income=,
    total=)` gives the contribution rows from the day before the range (None: from nothing) to
    its last day, the interest less fees over it and its net performance."""
    series = returns.Series.of(points)
    growth = series.growth
    win = _window(points, range_key, start, end)
    report = Report(
        title,
        currency,
        points,
        win,
        range_key,
        returns.figures(series, win),
        _all_ranges(series),
    )
    if not win:
        return report
    inside = points[win.start : win.stop]
    base_date = points[win.base].date if win.base is not None else inside[0].date
    report.levels = risk.index(points, growth, win)
    report.underwater = risk.underwater(report.levels)
    report.drawdown = risk.max_drawdown(report.levels, base_date)
    daily = risk.daily_returns(report.levels)
    report.volatility = risk.volatility(daily, base_date, inside[-1].date)
    symbols = [*BENCHMARKS, *([compare] if compare and compare not in BENCHMARKS else [])]
    series = benchmarks.series_of(symbols, base_date, inside[-1].date)
    days = [p.date for p in inside]
    base = points[win.base].date if win.base is not None else None
    report.comparison = {"Portfolio": [float(level - 1) for _, level in report.levels]}
    for name in [*symbols, SECTOR]:
        if name in series:
            report.comparison[name] = benchmarks.rebased(series[name], base_date, days)
    for symbol in RELATED:
        if symbol in series:
            report.relations[symbol] = risk.relation(
                daily, risk.benchmark_returns(series[symbol], base, days)
            )
    start_income = points[win.base].cash_income if win.base is not None else Decimal(0)
    report.contributions = contributions_of(
        points[win.base].date if win.base is not None else None,
        inside[-1].date,
        cash_income=inside[-1].cash_income - start_income,
        total=report.selected.net,
    )
    return report


def _instrument_names(ids) -> dict[int, tuple[str, str, str]]:
    return {
        pk: (symbol, name, ccy)
        for pk, symbol, name, ccy in Instrument.objects.filter(pk__in=ids).values_list(
            "pk", "symbol", "name", "currency"
        )
    }


def portfolio_report(
    portfolio: Portfolio,
    range_key: str = "max",
    start: dt.date | None = None,
    end: dt.date | None = None,
    compare: str = "",
) -> Report:
    points, _, live_positions = _live(portfolio)
    today = timezone.localdate()

    def positions_at(first: dt.date | None, last: dt.date):
        wanted = [d for d in (first, last) if d is not None and d != today]
        found = {
            day: history.positions_of(positions)
            for day, positions in PortfolioDay.objects.filter(
                portfolio=portfolio, date__in=wanted
            ).values_list("date", "positions")
        }
        before = found.get(first, {}) if first else {}
        after = live_positions if last == today else found.get(last, {})
        return before, after

    instruments = _instrument_names(set(live_positions))

    def contributions_of(first: dt.date | None, last: dt.date, **totals):
        before, after = positions_at(first, last)
        return contribution.contributions([contribution.Part(before, after)], instruments, **totals)

    return build(
        title=portfolio.name,
        currency=portfolio.base_currency,
        points=points,
        contributions_of=contributions_of,
        range_key=range_key,
        start=start,
        end=end,
        compare=compare,
    )
