"""What the performance page shows of a report, computed once and kept in the cache on the
version tokens.

A report reads every stored day and works out the returns of every range, the risk figures, the
benchmarks and the contribution; a page view needs a small part of it: the figures, the charts'
series (at most CHART_POINTS days) and the tables by period. That summary is kept in the cache
under the owner's token (their ledger, portfolios and base currencies), the market token (quotes
and FX rates, which price today's point), the bars token (closes, splits, instruments), the day
and the range asked for, and the whole PAGE_ETAG_SECONDS since the market token was made, as
a page's ETag is (config/conditional.py): today's point is priced at quotes that the price
stream updates without replacing a token, so a summary is reused that long at most; while quotes
are refreshed more often than that, it is computed once per refresh.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.html import json_script
from django.utils.safestring import SafeString

from config import versions
from market.selectors.cache import cached_on_token
from portfolios.performance import contribution, risk
from portfolios.performance.report import EXPLAIN, RangeFigures, Report, chart_sample
from portfolios.performance.returns import Figures, Point

# The tables under the charts have a row per day over a month at most, else a row per month
# (up to two years), quarter (up to six) or year: two dozen rows or so; the CSV has every day.
PERIODS = (
    ("day", 31, lambda d: d.toordinal()),
    ("month", 2 * 365 + 1, lambda d: (d.year, d.month)),
    ("quarter", 6 * 365 + 2, lambda d: (d.year, (d.month - 1) // 3)),
    ("year", None, lambda d: d.year),
)


def period_of(first: dt.date, last: dt.date) -> tuple[str, Callable[[dt.date], object]]:
    """The period of the tables' rows for a range from `first` to `last`, and its key."""
    span = (last - first).days
    for name, longest, key in PERIODS:
        if longest is None or span <= longest:
            return name, key
    raise AssertionError("unreachable")


def period_label(period: str, day: dt.date) -> str:
    if period == "month":
        return f"{day:%Y-%m}"
    if period == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    return day.isoformat()


@dataclass(frozen=True)
class HistoryRow:
    """A period of the value history: where it ended, and the money brought in over it."""

    label: str
    date: dt.date  # the period's last day in the range
    value: Decimal
    net_invested: Decimal
    pnl: Decimal
    flow: Decimal


@dataclass(frozen=True)
class UnderwaterRow:
    """A period's deepest day below the peak."""

    label: str
    date: dt.date
    depth: Decimal


@dataclass
class Summary:
    title: str
    currency: str
    range_key: str
    is_empty: bool
    selected: Figures
    ranges: list[RangeFigures]
    day_count: int = 0  # days in the range
    period: str = "day"
    history_rows: list[HistoryRow] = field(default_factory=list)  # newest first
    underwater_rows: list[UnderwaterRow] = field(default_factory=list)  # newest first
    comparison_changes: list[tuple[str, float | None]] = field(default_factory=list)
    drawdown: risk.Drawdown | None = None
    volatility: float | None = None
    relations: dict[str, risk.Relation] = field(default_factory=dict)
    contributions: list[contribution.Contribution] = field(default_factory=list)
    # Each chart's series as <script type="application/json"> (see chart_series).
    charts: dict[str, SafeString] = field(default_factory=dict)

    @property
    def explain(self) -> dict[str, str]:
        return EXPLAIN

    @property
    def currency_pnl(self) -> Decimal:
        return sum((c.currency_pnl for c in self.contributions), Decimal(0))


def _grouped(items: Sequence, day_of: Callable, key: Callable) -> list[list]:
    """Consecutive items (oldest first) in runs of one period."""
    groups: list[list] = []
    current = object()
    for item in items:
        k = key(day_of(item))
        if k != current:
            groups.append([])
            current = k
        groups[-1].append(item)
    return groups


def history_rows(points: Sequence[Point], period: str, key: Callable) -> list[HistoryRow]:
    rows = []
    for group in _grouped(points, lambda p: p.date, key):
        last = group[-1]
        rows.append(
            HistoryRow(
                period_label(period, last.date),
                last.date,
                last.value,
                last.net_invested,
                last.pnl,
                sum((p.flow for p in group), Decimal(0)),
            )
        )
    return rows[::-1]


def underwater_rows(
    underwater: Sequence[tuple[dt.date, Decimal]], period: str, key: Callable
) -> list[UnderwaterRow]:
    rows = []
    for group in _grouped(underwater, lambda u: u[0], key):
        day, depth = min(group, key=lambda u: u[1])  # the first of the deepest
        rows.append(UnderwaterRow(period_label(period, day), day, depth))
    return rows[::-1]


def chart_series(report: Report) -> dict[str, dict]:
    """The charts' series as columns (one list of dates, a list of values per series): a third
    of the size of a list of points; at most CHART_POINTS days, evenly spaced."""
    inside = report.in_range
    keep = chart_sample(len(inside))
    days = [inside[i].date.isoformat() for i in keep]

    def column(values: Sequence) -> list:
        return [None if values[i] is None else float(values[i]) for i in keep]

    return {
        "value": {
            "format": "money",
            "times": days,
            "series": [
                {"name": "Value", "kind": "area", "values": column([p.value for p in inside])},
                {
                    "name": "Net invested",
                    "kind": "line",
                    "values": column([p.net_invested for p in inside]),
                },
            ],
        },
        "comparison": {
            "format": "percent",
            "times": days,
            "series": [
                {
                    "name": name,
                    "kind": "line",
                    "values": column([None if v is None else v * 100 for v in values]),
                }
                for name, values in report.comparison.items()
            ],
        },
        "underwater": {
            "format": "percent",
            "times": days,
            "series": [
                {
                    "name": "Below the peak",
                    "kind": "area",
                    "values": column([v * 100 for _, v in report.underwater]),
                }
            ],
        },
    }


def summarize(report: Report) -> Summary:
    summary = Summary(
        title=report.title,
        currency=report.currency,
        range_key=report.range_key,
        is_empty=report.is_empty,
        selected=report.selected,
        ranges=report.ranges,
        charts={
            name: json_script(series, f"chart-{name}")
            for name, series in chart_series(report).items()
        },
    )
    inside = report.in_range
    if not inside:
        return summary
    summary.day_count = len(inside)
    summary.period, key = period_of(inside[0].date, inside[-1].date)
    summary.history_rows = history_rows(inside, summary.period, key)
    summary.underwater_rows = underwater_rows(report.underwater, summary.period, key)
    summary.comparison_changes = report.comparison_changes
    summary.drawdown = report.drawdown
    summary.volatility = report.volatility
    summary.relations = report.relations
    summary.contributions = report.contributions
    return summary


def _interval(market_token: str) -> int:
    """Whole PAGE_ETAG_SECONDS since the market token was made (the token read with its epoch),
    counted as a page's ETag counts them."""
    seconds = max(1, settings.PAGE_ETAG_SECONDS)
    born = versions.born(market_token.partition(".")[2]) or 0
    return int((time.time() - born) // seconds)


def cached_summary(owner_id: int, scope: str, values: dict, compute: Callable[[], Report]):
    """The summary of `compute()`'s report for `scope` (a portfolio, or all of the owner's) and
    the range in `values`, from the cache when the tokens have not changed since (and for
    PAGE_ETAG_SECONDS at most)."""
    tokens = versions.current([versions.user_key(owner_id), versions.MARKET, versions.BARS])
    token = ".".join(tokens) if all(tokens) else ""
    parts = (
        scope,
        str(timezone.localdate()),
        str(_interval(tokens[1])),
        values.get("range_key") or "",
        str(values.get("start") or ""),
        str(values.get("end") or ""),
        values.get("compare") or "",
    )
    return cached_on_token(
        token,
        "performance:page",
        parts,
        lambda: summarize(compute()),
        max(1, settings.PAGE_ETAG_SECONDS),
    )
