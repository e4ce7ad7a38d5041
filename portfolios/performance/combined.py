"""All of a user's portfolios as one performance report.

Each day's values are summed in one currency (the portfolios' own when they share one, else USD)
at that day's FX close, and each day's flows at their day's close. The contribution converts the
same way: each position's value at the rates of the range's ends, the cash put into it at each
trade day's rate, and what the rate did to each portfolio's cash is the cash row's currency part,
so that the rows add up to the net performance.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from market.models import DailyBar, Quote
from portfolios.models import PortfolioDay, Transaction
from portfolios.performance import contribution, history
from portfolios.performance.history import CTX, ONE, ZERO, PositionState
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


def _merged(per_portfolio, rate_of: Callable[..., Decimal]) -> list[Point]:
    """One point per day any portfolio has one: each portfolio's last point on or before it,
    converted at the day's rate; its flow only on its own day. The interest less fees adds each
    day's change at that day's rate."""
    dates_of = {portfolio.pk: [p.date for p in points] for portfolio, points, _ in per_portfolio}
    dates = sorted({p.date for _, points, _ in per_portfolio for p in points})
    income = {portfolio.pk: ZERO for portfolio, _, _ in per_portfolio}
    merged, income_total = [], ZERO
    for day in dates:
        total = [ZERO] * 4
        for portfolio, points, _ in per_portfolio:
            i = bisect_right(dates_of[portfolio.pk], day)
            if not i:
                continue
            point = points[i - 1]
            rate = rate_of(portfolio, day)
            flow = point.flow if point.date == day else ZERO
            parts = (point.market_value, point.cash, point.net_invested, flow)
            total = [t + history.q8(v * rate) for t, v in zip(total, parts, strict=True)]
            if point.date == day:
                income_total += history.q8((point.cash_income - income[portfolio.pk]) * rate)
                income[portfolio.pk] = point.cash_income
        merged.append(Point(day, *total, income_total))
    return merged


def _positions_on(portfolios, day: dt.date) -> dict[int, dict[int, PositionState]]:
    """Each portfolio's positions at its last stored day on or before `day` (their trading days
    differ), in one query."""
    last = (
        PortfolioDay.objects.filter(portfolio_id=OuterRef("portfolio_id"), date__lte=day)
        .order_by("-date")
        .values("date")[:1]
    )
    rows = PortfolioDay.objects.filter(portfolio__in=portfolios, date=Subquery(last))
    return {
        pk: history.positions_of(stored)
        for pk, stored in rows.values_list("portfolio_id", "positions")
    }


def _trade_days(portfolios, first: dt.date | None, last: dt.date) -> dict[int, list]:
    """The stored positions of the days in (first, last] with a ledger entry, by portfolio:
    where the cash put into a position can have changed."""
    if not portfolios:
        return {}
    traded = Transaction.objects.filter(
        portfolio_id=OuterRef("portfolio_id"), trade_date=OuterRef("date")
    ).exclude(kind=Transaction.Kind.SPLIT)
    rows = PortfolioDay.objects.filter(portfolio__in=portfolios, date__lte=last)
    if first is not None:
        rows = rows.filter(date__gt=first)
    found: dict[int, list] = defaultdict(list)
    for pk, day, positions in (
        rows.filter(Exists(traded))
        .order_by("portfolio_id", "date")
        .values_list("portfolio_id", "date", "positions")
    ):
        found[pk].append((day, positions))
    return found


def converted_flows(
    before: dict[int, PositionState],
    after: dict[int, PositionState],
    days: Sequence[tuple[dt.date, dict]],
    rate: Callable[[dt.date], Decimal],
    end_rate: Decimal,
) -> dict[int, Decimal]:
    """The cash put into each position between `before` and `after`, each day's change at that
    day's rate; what `after` has beyond the last of `days` (today's entries) at `end_rate`."""
    previous = {iid: state.flow_base for iid, state in before.items()}
    flows: dict[int, Decimal] = defaultdict(Decimal)
    for day, positions in days:
        at = rate(day)
        for key, values in positions.items():
            iid, flow_base = int(key), Decimal(values[1])
            change = flow_base - previous.get(iid, ZERO)
            if change:
                flows[iid] = CTX.add(flows[iid], CTX.multiply(change, at))
                previous[iid] = flow_base
    for iid, state in after.items():
        change = state.flow_base - previous.get(iid, ZERO)
        if change:
            flows[iid] = CTX.add(flows[iid], CTX.multiply(change, end_rate))
    return flows


def cash_currency(
    points: Sequence[Point], first: dt.date | None, last: dt.date, rate: Callable
) -> Decimal:
    """What the rate did to a portfolio's cash over (first, last]: the cash at the end at the
    end's rate, less the cash at the start at the start's rate and each day's change at that
    day's rate."""
    before = [p for p in points if first is not None and p.date <= first]
    cash = before[-1].cash if before else ZERO
    result = -CTX.multiply(cash, rate(first)) if first is not None else ZERO
    for point in points[len(before) :]:
        if point.date > last:
            break
        result = CTX.subtract(result, CTX.multiply(point.cash - cash, rate(point.date)))
        cash = point.cash
    return CTX.add(result, CTX.multiply(cash, rate(last)))


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

    def rate_of(portfolio, day: dt.date) -> Decimal:
        return _rate_at(rates, portfolio.base_currency, target, day)

    per_portfolio = []
    for portfolio in portfolios:
        points, _, live = _live(portfolio)
        per_portfolio.append((portfolio, points, live))
    merged = _merged(per_portfolio, rate_of)
    today = timezone.localdate()
    instruments = _instrument_names({iid for _, _, live in per_portfolio for iid in live})

    def contributions_of(first: dt.date | None, last: dt.date, **totals):
        starts = _positions_on(portfolios, first) if first is not None else {}
        ends = _positions_on(portfolios, last) if last != today else {}
        foreign = [p for p in portfolios if p.base_currency != target]
        trade_days = _trade_days(foreign, first, last)
        parts, on_cash = [], ZERO
        for portfolio, points, live in per_portfolio:

            def rate(day: dt.date, portfolio=portfolio) -> Decimal:
                return rate_of(portfolio, day)

            before = starts.get(portfolio.pk, {})
            after = live if last == today else ends.get(portfolio.pk, {})
            start_rate = rate(first) if first is not None else ONE
            flows = None
            if portfolio.base_currency != target:
                days = trade_days.get(portfolio.pk, [])
                flows = converted_flows(before, after, days, rate, rate(last))
                on_cash += cash_currency(points, first, last, rate)
            parts.append(contribution.Part(before, after, start_rate, rate(last), flows))
        return contribution.contributions(parts, instruments, cash_currency=on_cash, **totals)

    return build(
        title="All portfolios",
        currency=target,
        points=merged,
        contributions_of=contributions_of,
        range_key=range_key,
        start=start,
        end=end,
        compare=compare,
    )
