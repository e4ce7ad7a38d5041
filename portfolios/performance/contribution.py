"""What each holding added to a portfolio's result over a range, and how much of it was currency.

A holding's P&L over a range is its value at the end less its value at the start, less the net
cash put into it meanwhile (buys in, sales and dividends out, each at its trade date's FX close).
The part due to currency is that P&L less the same P&L in the instrument's own currency converted
at the end's rate: what the rate's move made or cost.

All of a user's portfolios are reported in one currency: each portfolio's part converts its
values at the rates of the range's start and end, and the cash put into each position at each
day's rate, as the value history converts each day's flow; a holding's rows are then added up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from portfolios.performance.history import CTX, ONE, PositionState, q8

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


@dataclass(frozen=True)
class Part:
    """One portfolio's positions at the start and the end of a range (in its base currency), and
    how they convert into the report's currency: the rates at both ends and, by position, the
    cash put in over the range already converted (None: the same currency, the ends' difference
    of flow_base)."""

    start: Mapping[int, PositionState]
    end: Mapping[int, PositionState]
    start_rate: Decimal = ONE
    end_rate: Decimal = ONE
    flows: Mapping[int, Decimal] | None = None


def contributions(
    parts: Sequence[Part],
    instruments: Mapping[int, tuple[str, str, str]],
    *,
    cash_income: Decimal,
    total: Decimal,
    cash_currency: Decimal = ZERO,
) -> list[Contribution]:
    """One row per holding held or traded in the range (closed ones included), largest P&L
    first, then the cash row when there was interest, a fee, or (across currencies) a move of
    the rate the cash is converted at (`cash_currency`)."""
    # By instrument: start value, end value, net flow, P&L, local P&L at the end's rate.
    sums: dict[int, list[Decimal]] = {}
    held: set[int] = set()
    empty = PositionState()
    for part in parts:
        for iid in set(part.start) | set(part.end):
            before, after = part.start.get(iid, empty), part.end.get(iid, empty)
            base_flow = after.flow_base - before.flow_base
            if not (before.quantity or after.quantity or base_flow):
                continue
            flow = base_flow if part.flows is None else part.flows.get(iid, ZERO)
            start_value = CTX.multiply(before.value_base, part.start_rate)
            end_value = CTX.multiply(after.value_base, part.end_rate)
            local = after.value_local - before.value_local - (after.flow_local - before.flow_local)
            at_end = CTX.multiply(CTX.multiply(local, after.fx), part.end_rate)
            pnl = CTX.subtract(CTX.subtract(end_value, start_value), flow)
            row = sums.setdefault(iid, [ZERO] * 5)
            for k, value in enumerate((start_value, end_value, flow, pnl, at_end)):
                row[k] = CTX.add(row[k], value)
            if after.quantity:
                held.add(iid)
    rows = []
    for iid, (start_value, end_value, flow, pnl, at_end) in sums.items():
        symbol, name, currency = instruments.get(iid, ("?", "", ""))
        pnl = q8(pnl)
        rows.append(
            Contribution(
                iid,
                symbol,
                name,
                currency,
                q8(start_value),
                q8(end_value),
                q8(flow),
                pnl,
                q8(pnl - at_end),
                CTX.divide(pnl, total) if total else None,
                iid in held,
            )
        )
    rows.sort(key=lambda row: (-row.pnl, row.symbol))
    cash = q8(cash_income + cash_currency)
    if cash_income or cash_currency:
        rows.append(
            Contribution(
                None,
                "Cash",
                "Interest less fees" + (", and exchange rates" if cash_currency else ""),
                "",
                ZERO,
                ZERO,
                ZERO,
                cash,
                q8(cash_currency),
                CTX.divide(cash, total) if total else None,
                False,
            )
        )
    return rows
