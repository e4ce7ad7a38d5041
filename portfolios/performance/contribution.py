"""What each holding added to a portfolio's result over a range, and how much of it was currency.

A holding's P&L over a range is its value at the end less its value at the start, less the net
cash put into it meanwhile (buys in, sales and dividends out, each at its trade date's FX close).
The part due to currency is that P&L less the same P&L in the instrument's own currency converted
at the end's rate: what the rate's move made or cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from portfolios.performance.history import CTX, PositionState, q8

ZERO = Decimal(0)


@dataclass(frozen=True)
class Contribution:
    instrument_id: int | None  # None: the cash (interest less stand-alone fees)
    symbol: str
    name: str
    currency: str
    start_value: Decimal
    end_value: Decimal
    net_flow: Decimal  # cash put in over the range (negative: taken out)
    pnl: Decimal
    currency_pnl: Decimal
    share: Decimal | None  # of the portfolio's net performance
    is_open: bool


def contributions(
    start: Mapping[int, PositionState],
    end: Mapping[int, PositionState],
    instruments: Mapping[int, tuple[str, str, str]],
    *,
    cash_income: Decimal,
    total: Decimal,
) -> list[Contribution]:
    """One row per holding held or traded in the range (closed ones included), largest P&L
    first, then the cash row when there was interest or a fee."""
    rows = []
    empty = PositionState()
    for iid in set(start) | set(end):
        before, after = start.get(iid, empty), end.get(iid, empty)
        flow = after.flow_base - before.flow_base
        if not (before.quantity or after.quantity or flow):
            continue
        pnl = q8(after.value_base - before.value_base - flow)
        local = after.value_local - before.value_local - (after.flow_local - before.flow_local)
        symbol, name, currency = instruments.get(iid, ("?", "", ""))
        rows.append(
            Contribution(
                iid,
                symbol,
                name,
                currency,
                q8(before.value_base),
                q8(after.value_base),
                q8(flow),
                pnl,
                q8(pnl - CTX.multiply(local, after.fx)),
                CTX.divide(pnl, total) if total else None,
                after.quantity != 0,
            )
        )
    rows.sort(key=lambda row: (-row.pnl, row.symbol))
    if cash_income:
        share = CTX.divide(cash_income, total) if total else None
        rows.append(
            Contribution(
                None,
                "Cash",
                "Interest less fees",
                "",
                ZERO,
                ZERO,
                ZERO,
                cash_income,
                ZERO,
                share,
                False,
            )
        )
    return rows
