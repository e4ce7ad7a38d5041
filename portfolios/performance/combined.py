"""All of a user's portfolios as one performance report."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from market.models import DailyBar, Quote
from portfolios.models import PortfolioDay
from portfolios.performance import history
from portfolios.performance.history import PositionState
from portfolios.performance.report import Point, Report, _instrument_names, _live, build
from portfolios.services.instruments import fx_symbol


def _rate_series(pairs: set[tuple[str, str]]) -> dict[str, tuple[list, list]]:
    """Daily FX closes (and the live quote, as today's) for (from, to) currency pairs."""
    symbols = {fx_symbol(a, b): a for a, b in pairs if a != b}
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for symbol, day, close in (
        DailyBar.objects.filter(instrument__symbol__in=symbols)
        .order_by("date")
        .values_list("instrument__symbol", "date", "close")
    ):
        series[symbols[symbol]][0].append(day)
        series[symbols[symbol]][1].append(close)
    today = timezone.localdate()
    for symbol, price in Quote.objects.filter(instrument__symbol__in=symbols).values_list(
        "instrument__symbol", "price"
    ):
        dates, values = series[symbols[symbol]]
        if not dates or dates[-1] < today:
            dates.append(today)
            values.append(price)
    return dict(series)


def _rate_at(series, currency: str, target: str, day: dt.date) -> Decimal:
    if currency == target or currency not in series:
        return Decimal(1)
    dates, values = series[currency]
    i = bisect_right(dates, day)
    return values[i - 1] if i else values[0]


def user_report(
    owner,
    range_key: str = "max",
    start: dt.date | None = None,
    end: dt.date | None = None,
    compare: str = "",
) -> Report:
    """All of a user's portfolios as one: each day's values summed (converted to one currency:
    the portfolios' own when they share one, else USD, at the day's FX close)."""
    portfolios = list(owner.portfolios.order_by("pk"))
    bases = {p.base_currency for p in portfolios}
    target = bases.pop() if len(bases) == 1 else "USD"
    rates = _rate_series({(p.base_currency, target) for p in portfolios})
    per_portfolio = []
    for portfolio in portfolios:
        points, _, live = _live(portfolio)
        per_portfolio.append((portfolio, points, live))
    dates_of = {portfolio.pk: [p.date for p in points] for portfolio, points, _ in per_portfolio}
    dates = sorted({p.date for _, points, _ in per_portfolio for p in points})
    merged = []
    for day in dates:
        total = [Decimal(0)] * 5
        for portfolio, points, _ in per_portfolio:
            i = bisect_right(dates_of[portfolio.pk], day)
            if not i:
                continue
            point = points[i - 1]
            rate = _rate_at(rates, portfolio.base_currency, target, day)
            flow = point.flow if point.date == day else Decimal(0)
            parts = (point.market_value, point.cash, point.net_invested, flow, point.cash_income)
            total = [t + history.q8(v * rate) for t, v in zip(total, parts, strict=True)]
        merged.append(Point(day, *total))
    today = timezone.localdate()

    def positions_at(first: dt.date | None, last: dt.date):
        found: dict[tuple[int, dt.date], dict] = {}
        for day in (first, last):
            for portfolio in portfolios if day is not None and day != today else ():
                # Each portfolio's last day on or before `day` (their trading days differ).
                stored = (
                    PortfolioDay.objects.filter(portfolio=portfolio, date__lte=day)
                    .order_by("-date")
                    .values_list("positions", flat=True)
                    .first()
                )
                found[(portfolio.pk, day)] = history.positions_of(stored or {})

        def combined(day: dt.date | None) -> dict[int, PositionState]:
            result: dict[int, PositionState] = {}
            if day is None:
                return result
            for portfolio, _, live in per_portfolio:
                state = live if day == today else found.get((portfolio.pk, day), {})
                rate = _rate_at(rates, portfolio.base_currency, target, day)
                for iid, held in state.items():
                    into = result.setdefault(iid, PositionState(close=held.close, fx=held.fx))
                    into.quantity += held.quantity
                    into.flow_base += held.flow_base * rate
                    into.flow_local += held.flow_local
                    into.fx = held.fx * rate
            return result

        return combined(first), combined(last)

    instruments = set()
    for _, _, live in per_portfolio:
        instruments |= set(live)
    return build(
        title="All portfolios",
        currency=target,
        points=merged,
        positions_at=positions_at,
        range_key=range_key,
        start=start,
        end=end,
        compare=compare,
        instruments=_instrument_names(instruments),
    )
