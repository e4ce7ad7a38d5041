"""The average-cost ledger walk: a holding's position from its trades and the instrument's splits.

Pure functions over plain values, so the rules can be read (and tested) apart from the database.
`portfolios.services` feeds them a holding's transactions and stores what they return.

Order of one day: the split first (a split date is the ex-date, so trades recorded on it are
already in post-split shares), then the market's dividend (paid on the shares held as the
ex-date opens), then buys, then sells, then dividends the user recorded, then entry order.
Intraday times are not recorded; putting buys before sells means a same-day round trip is never
refused as oversold.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)
# Stored to 8 places like every price and quantity (DecimalField(max_digits=20, decimal_places=8)).
STORED = Decimal("0.00000001")
_RANK = {"split": 0, "buy": 2, "sell": 3, "dividend": 4}
# Enough digits that a long ledger of divisions loses nothing before the final rounding.
_CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Trade:
    """One buy or sell. `key` identifies it to the caller (a transaction id, a row index...)."""

    key: object
    kind: str  # "buy", "sell" or "dividend" (quantity = shares, price = per share, fee = tax)
    trade_date: date
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    sequence: int = 0  # entry order within a day (the transaction id, or its position)


@dataclass(frozen=True)
class Split:
    split_date: date
    ratio: Decimal  # new shares per old share: 4 for 4-for-1, 0.1 for 1-for-10


@dataclass(frozen=True)
class DividendEvent:
    """A dividend from the market's history: `amount` per share held as `ex_date` opens."""

    ex_date: date
    amount: Decimal


@dataclass(frozen=True)
class AppliedDividend:
    ex_date: date
    amount: Decimal
    shares: Decimal


@dataclass(frozen=True)
class AppliedSplit:
    split_date: date
    ratio: Decimal
    shares_before: Decimal
    shares_after: Decimal

    @property
    def quantity_change(self) -> Decimal:
        return self.shares_after - self.shares_before


@dataclass(frozen=True)
class Oversold:
    """A sell of more than was held on its date."""

    key: object
    trade_date: date
    held: Decimal
    wanted: Decimal


@dataclass
class Position:
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    applied_splits: list[AppliedSplit] = field(default_factory=list)
    applied_dividends: list[AppliedDividend] = field(default_factory=list)
    oversold: list[Oversold] = field(default_factory=list)
    trade_count: int = 0

    @property
    def average_cost(self) -> Decimal:
        if self.quantity == 0:
            return ZERO
        return _CONTEXT.divide(self.cost_basis, self.quantity)

    def stored(self, value: Decimal) -> Decimal:
        return value.quantize(STORED, context=_CONTEXT)


def walk(
    trades: Iterable[Trade],
    splits: Sequence[Split] = (),
    dividends: Sequence[DividendEvent] = (),
) -> Position:
    """Replay trades in date order with splits in between (average-cost method).

    A buy adds its quantity and price x quantity + fee to the cost basis. A sell realizes
    (price x quantity - fee) - average cost x quantity and takes average cost x quantity off the
    cost basis; a sell of more than is held is reported in `oversold` and skipped, so one bad
    sell does not hide the others. A split multiplies the quantity and leaves the cost basis
    alone; it applies only while shares are held. A dividend (recorded, or a market event paid
    on the shares then held) adds its cash, less tax withheld, to the realized P&L.
    """
    stream: list[tuple[tuple, object]] = [
        ((trade.trade_date, _RANK[trade.kind], trade.sequence), trade) for trade in trades
    ]
    stream.extend(((split.split_date, 0, 0), split) for split in splits)
    stream.extend(((event.ex_date, 1, 0), event) for event in dividends)
    stream.sort(key=lambda item: item[0])

    position = Position()
    ctx = _CONTEXT
    for _, entry in stream:
        if isinstance(entry, Split):
            if position.quantity > 0:
                after = ctx.multiply(position.quantity, entry.ratio)
                position.applied_splits.append(
                    AppliedSplit(entry.split_date, entry.ratio, position.quantity, after)
                )
                position.quantity = after
            continue
        if isinstance(entry, DividendEvent):
            if position.quantity > 0:
                position.applied_dividends.append(
                    AppliedDividend(entry.ex_date, entry.amount, position.quantity)
                )
                income = ctx.multiply(entry.amount, position.quantity)
                position.realized_pnl = ctx.add(position.realized_pnl, income)
            continue
        position.trade_count += 1
        if entry.kind == "dividend":
            income = ctx.subtract(ctx.multiply(entry.price, entry.quantity), entry.fee)
            position.realized_pnl = ctx.add(position.realized_pnl, income)
            continue
        if entry.kind == "buy":
            position.quantity = ctx.add(position.quantity, entry.quantity)
            cost = ctx.add(ctx.multiply(entry.price, entry.quantity), entry.fee)
            position.cost_basis = ctx.add(position.cost_basis, cost)
            continue
        if entry.quantity > position.quantity:
            position.oversold.append(
                Oversold(entry.key, entry.trade_date, position.quantity, entry.quantity)
            )
            continue
        released = ctx.multiply(position.average_cost, entry.quantity)
        proceeds = ctx.subtract(ctx.multiply(entry.price, entry.quantity), entry.fee)
        position.realized_pnl = ctx.add(position.realized_pnl, ctx.subtract(proceeds, released))
        position.quantity = ctx.subtract(position.quantity, entry.quantity)
        position.cost_basis = (
            ZERO if position.quantity == 0 else ctx.subtract(position.cost_basis, released)
        )
    return position
