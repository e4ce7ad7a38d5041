"""A foreign holding's cost basis and realized P&L in its portfolio's currency at trade-date FX.

The ledger walk runs again with every trade's price and fee (and every dividend) converted at
the FX close of its own date (the last daily bar of the rate on or before it; the first bar for
a date before the rate's history), so the cost basis says what the shares cost in the
portfolio's money then, not at today's rate. Without any FX history the figures stay unknown
(None) and pages fall back to today's rate.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal

from market.models import DailyBar
from portfolios import ledger
from portfolios.models import Holding, Portfolio
from portfolios.services.instruments import fx_symbol


def base_position(
    holding: Holding,
    trades: Sequence[ledger.Trade],
    splits: Sequence[ledger.Split],
    dividends: Sequence[ledger.DividendEvent],
    position: ledger.Position,
) -> tuple[str, Decimal | None, Decimal | None]:
    """(base currency, cost basis, realized P&L) in the portfolio's currency."""
    base = Portfolio.objects.values_list("base_currency", flat=True).get(pk=holding.portfolio_id)
    currency = holding.instrument.currency or base
    if currency == base:
        return base, position.stored(position.cost_basis), position.stored(position.realized_pnl)
    closes = list(
        DailyBar.objects.filter(instrument__symbol=fx_symbol(currency, base))
        .order_by("date")
        .values_list("date", "close")
    )
    if not closes:
        return base, None, None
    dates = [day for day, _ in closes]

    def rate(day) -> Decimal:
        index = bisect_right(dates, day)
        return closes[index - 1][1] if index else closes[0][1]

    converted = [
        ledger.Trade(
            t.key,
            t.kind,
            t.trade_date,
            t.quantity,
            t.price * rate(t.trade_date),
            t.fee * rate(t.trade_date),
            t.sequence,
        )
        for t in trades
    ]
    events = [ledger.DividendEvent(e.ex_date, e.amount * rate(e.ex_date)) for e in dividends]
    walked = ledger.walk(converted, splits, events)
    return base, walked.stored(walked.cost_basis), walked.stored(walked.realized_pnl)
