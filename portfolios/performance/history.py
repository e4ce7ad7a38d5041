"""A portfolio's value history: one stored row per day, from the ledger, daily bars and FX closes.

Cash model. The portfolio holds its positions and a cash balance in its base currency. Deposits
bring money in and withdrawals take it out; sells, dividends and interest add to the cash; buys
and stand-alone fees are paid from it. A buy or fee larger than the cash held is paid with new
money brought in for it, so a ledger of buys and sells alone (no deposits recorded) reads as
"each buy was paid with new money, each sale's proceeds stayed in the portfolio". Those inflows
and the deposits and withdrawals are the day's `flow`, and their running sum is `net_invested`.

Share basis. Stored closes are split-adjusted (today's share basis), so each trade's quantity is
put on today's basis too (times the ratios of the later splits): a split never shows as a jump.
Foreign positions are converted at each day's FX close, trades at their trade date's close.

Rows are rebuilt from the first day a ledger write touches (`invalidate` drops them, `ensure`
rebuilds the missing tail from the last row kept), never from scratch on every page.
"""

from __future__ import annotations

import datetime as dt
import decimal
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction as db
from django.utils import timezone

from market.models import DailyBar, Instrument, Quote, SplitEvent
from portfolios.models import Holding, Portfolio, PortfolioDay, Transaction
from portfolios.services.instruments import fx_symbol

ZERO = Decimal(0)
ONE = Decimal(1)
STORED = Decimal("0.00000001")
CTX = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
# How far back to look for the last close of an instrument or rate before a rebuilt range.
LOOKBACK_DAYS = 14
INFLOWS = ("deposit", "sell", "dividend", "interest")


def q8(value: Decimal) -> Decimal:
    return value.quantize(STORED, context=CTX)


@dataclass
class PositionState:
    quantity: Decimal = ZERO  # on today's share basis
    flow_base: Decimal = ZERO  # net cash put into the position, base currency
    flow_local: Decimal = ZERO  # the same in the instrument's currency
    close: Decimal | None = None  # the instrument's last close (today's share basis)
    fx: Decimal = ONE  # the last rate to the base currency

    def as_list(self) -> list[str]:
        close = "" if self.close is None else str(self.close)
        return [str(self.quantity), str(self.flow_base), str(self.flow_local), close, str(self.fx)]

    @classmethod
    def from_list(cls, values: list[str]) -> PositionState:
        quantity, flow_base, flow_local, close, fx = values
        return cls(
            Decimal(quantity),
            Decimal(flow_base),
            Decimal(flow_local),
            Decimal(close) if close else None,
            Decimal(fx),
        )

    @property
    def value_local(self) -> Decimal:
        return CTX.multiply(self.quantity, self.close or ZERO)

    @property
    def value_base(self) -> Decimal:
        return CTX.multiply(self.value_local, self.fx)


def positions_of(stored: dict) -> dict[int, PositionState]:
    """A stored day's `positions` as PositionStates by instrument id."""
    return {int(k): PositionState.from_list(v) for k, v in stored.items()}


@dataclass
class State:
    """Where a portfolio stands at a day's close."""

    cash: Decimal = ZERO
    net_invested: Decimal = ZERO
    cash_income: Decimal = ZERO
    positions: dict[int, PositionState] = field(default_factory=dict)

    @classmethod
    def from_day(cls, day: PortfolioDay) -> State:
        return cls(day.cash, day.net_invested, day.cash_income, positions_of(day.positions))

    @property
    def market_value(self) -> Decimal:
        return sum((p.value_base for p in self.positions.values()), ZERO)


@dataclass(frozen=True)
class Entry:
    trade_date: dt.date
    kind: str
    instrument_id: int | None
    quantity: Decimal
    price: Decimal
    fee: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Prices:
    """Closes and FX rates by date, looked up as "the last one on or before a day"."""

    closes: dict[int, tuple[list[dt.date], list[Decimal]]]
    rates: dict[str, tuple[list[dt.date], list[Decimal]]]  # currency -> base rate
    currencies: dict[int, str]
    base: str
    splits: dict[int, list[tuple[dt.date, Decimal]]]

    @staticmethod
    def _at(series, day: dt.date) -> Decimal | None:
        if not series:
            return None
        dates, values = series
        index = bisect_right(dates, day)
        return values[index - 1] if index else None

    def close(self, instrument_id: int, day: dt.date) -> Decimal | None:
        return self._at(self.closes.get(instrument_id), day)

    def rate(self, currency: str, day: dt.date) -> Decimal | None:
        if currency == self.base:
            return ONE
        found = self._at(self.rates.get(currency), day)
        if found is None and self.rates.get(currency):
            return self.rates[currency][1][0]  # before the first rate known: the first one
        return found

    def basis(self, instrument_id: int, day: dt.date) -> Decimal:
        """Shares of today per share traded on `day`: the product of the later splits' ratios."""
        factor = ONE
        for split_date, ratio in self.splits.get(instrument_id, ()):
            if split_date > day:
                factor = CTX.multiply(factor, ratio)
        return factor


def step(state: State, day: dt.date, entries: list[Entry], prices: Prices) -> Decimal:
    """Apply one day's entries to `state`, then price it at the day's close; returns the day's
    external flow. Money in comes first (so a sale can pay for a buy the same day)."""
    flow = ZERO

    def pay(amount: Decimal) -> None:
        nonlocal flow
        short = amount - max(state.cash, ZERO)
        if short > 0:
            state.cash += short
            state.net_invested += short
            flow += short
        state.cash -= amount

    for entry in sorted(entries, key=lambda e: e.kind not in INFLOWS):
        if entry.instrument_id is None:
            if entry.kind == "deposit":
                state.cash += entry.amount
                state.net_invested += entry.amount
                flow += entry.amount
            elif entry.kind == "withdrawal":
                state.cash -= entry.amount
                state.net_invested -= entry.amount
                flow -= entry.amount
            elif entry.kind == "interest":
                state.cash += entry.amount
                state.cash_income += entry.amount
            elif entry.kind == "fee":
                pay(entry.amount)
                state.cash_income -= entry.amount
            continue
        iid = entry.instrument_id
        position = state.positions.setdefault(iid, PositionState())
        fx = prices.rate(prices.currencies[iid], day)
        position.fx = fx if fx is not None else position.fx
        gross = CTX.multiply(entry.price, entry.quantity)
        if entry.kind == "buy":
            local = gross + entry.fee
            base = CTX.multiply(local, position.fx)
            pay(base)
            basis = prices.basis(iid, day)
            position.quantity += CTX.multiply(entry.quantity, basis)
            if position.close is None:  # no bar yet: the trade's price, on today's basis
                position.close = CTX.divide(entry.price, basis)
        else:  # a sell or a dividend brings cash in
            local = gross - entry.fee
            base = CTX.multiply(local, position.fx)
            state.cash += base
            if entry.kind == "sell":
                position.quantity -= CTX.multiply(entry.quantity, prices.basis(iid, day))
            local, base = -local, -base
        position.flow_base += base
        position.flow_local += local

    for iid, position in state.positions.items():
        close = prices.close(iid, day)
        if close is not None:
            position.close = close
        fx = prices.rate(prices.currencies[iid], day)
        if fx is not None:
            position.fx = fx
    _round(state)
    return q8(flow)


def _round(state: State) -> None:
    """Keep the state to stored precision, so a rebuild from a stored row equals a full one."""
    state.cash, state.net_invested = q8(state.cash), q8(state.net_invested)
    state.cash_income = q8(state.cash_income)
    for position in state.positions.values():
        position.quantity = q8(position.quantity)
        position.flow_base, position.flow_local = q8(position.flow_base), q8(position.flow_local)


def invalidate(portfolio_id: int, from_date: dt.date) -> None:
    """Drop the stored days from `from_date` on: a ledger write changed them."""
    PortfolioDay.objects.filter(portfolio_id=portfolio_id, date__gte=from_date).delete()


def _entries(portfolio: Portfolio, since: dt.date | None, before: dt.date) -> list[Entry]:
    rows = Transaction.objects.filter(portfolio=portfolio, trade_date__lt=before).exclude(
        kind=Transaction.Kind.SPLIT
    )
    if since is not None:
        rows = rows.filter(trade_date__gte=since)
    return [
        Entry(*row)
        for row in rows.order_by("trade_date", "id").values_list(
            "trade_date", "kind", "holding__instrument_id", "quantity", "price", "fee", "amount"
        )
    ]


def load_prices(portfolio: Portfolio, instrument_ids: set[int], since: dt.date | None) -> Prices:
    """Closes, FX closes and splits for these instruments from `since` (with a look-back)."""
    currencies = dict(
        Instrument.objects.filter(pk__in=instrument_ids).values_list("pk", "currency")
    )
    base = portfolio.base_currency
    fx_symbols = {fx_symbol(c, base): c for c in set(currencies.values()) if c != base}
    bars = DailyBar.objects.filter(instrument_id__in=instrument_ids) | DailyBar.objects.filter(
        instrument__symbol__in=fx_symbols
    )
    if since is not None:
        bars = bars.filter(date__gte=since - dt.timedelta(days=LOOKBACK_DAYS))
    closes: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    rates: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for iid, symbol, day, close in bars.order_by("date").values_list(
        "instrument_id", "instrument__symbol", "date", "close"
    ):
        target = rates[fx_symbols[symbol]] if symbol in fx_symbols else closes[iid]
        target[0].append(day)
        target[1].append(close)
    splits: dict[int, list] = defaultdict(list)
    for iid, day, ratio in SplitEvent.objects.filter(instrument_id__in=instrument_ids).values_list(
        "instrument_id", "date", "ratio"
    ):
        splits[iid].append((day, ratio))
    return Prices(dict(closes), dict(rates), currencies, base, dict(splits))


def rebuild(portfolio: Portfolio, since: dt.date | None = None) -> int:
    """Recompute and store the days from `since` (None: from the first entry) up to yesterday,
    starting from the last stored day before it. Returns the number of days written."""
    today = timezone.localdate()
    with db.atomic():
        previous = None
        if since is not None:
            previous = (
                PortfolioDay.objects.filter(portfolio=portfolio, date__lt=since)
                .order_by("-date")
                .first()
            )
        if previous is None:
            since = None
        state = State.from_day(previous) if previous else State()
        PortfolioDay.objects.filter(portfolio=portfolio, date__gte=since or dt.date.min).delete()
        entries = _entries(portfolio, since, today)
        instrument_ids = set(
            Holding.objects.filter(portfolio=portfolio).values_list("instrument_id", flat=True)
        ) | set(state.positions)
        prices = load_prices(portfolio, instrument_ids, since)
        if not entries and previous is None:
            return 0
        start = since or entries[0].trade_date
        by_day: dict[dt.date, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_day[entry.trade_date].append(entry)
        days = set(by_day)
        for iid in instrument_ids:
            dates = prices.closes.get(iid, ((), ()))[0]
            days.update(d for d in dates[bisect_right(dates, start - dt.timedelta(days=1)) :])
        rows = []
        for day in sorted(d for d in days if start <= d < today):
            flow = step(state, day, by_day.get(day, []), prices)
            rows.append(_row(portfolio, day, state, flow))
        PortfolioDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _row(portfolio: Portfolio, day: dt.date, state: State, flow: Decimal) -> PortfolioDay:
    return PortfolioDay(
        portfolio=portfolio,
        date=day,
        market_value=q8(state.market_value),
        cash=state.cash,
        net_invested=state.net_invested,
        flow=flow,
        cash_income=state.cash_income,
        positions={str(k): v.as_list() for k, v in state.positions.items()},
    )


def ensure(portfolio: Portfolio) -> None:
    """Bring the stored days up to yesterday: rebuild from the last stored day when bars or
    entries newer than it exist (that day too, as its bars may have arrived since). Three
    small queries when the days are current."""
    today = timezone.localdate()
    last = (
        PortfolioDay.objects.filter(portfolio=portfolio)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    newer = Transaction.objects.filter(portfolio=portfolio, trade_date__lt=today)
    if last is None:
        if newer.exists():
            rebuild(portfolio, None)
        return
    newer_bars = DailyBar.objects.filter(
        instrument_id__in=Holding.objects.filter(portfolio=portfolio).values("instrument_id"),
        date__gt=last,
        date__lt=today,
    )
    if newer_bars.exists() or newer.filter(trade_date__gt=last).exists():
        rebuild(portfolio, last)


def live_state(portfolio: Portfolio, last: PortfolioDay | None) -> tuple[State, Decimal]:
    """Today's state priced at the live quotes: the last stored day plus the entries after it
    (today's). Returns (state, today's flow)."""
    today = timezone.localdate()
    state = State.from_day(last) if last else State()
    since = last.date + dt.timedelta(days=1) if last else None
    entries = _entries(portfolio, since, today + dt.timedelta(days=1))
    instrument_ids = set(state.positions) | {e.instrument_id for e in entries if e.instrument_id}
    currencies = dict(
        Instrument.objects.filter(pk__in=instrument_ids).values_list("pk", "currency")
    )
    base = portfolio.base_currency
    fx = {fx_symbol(c, base): c for c in set(currencies.values()) if c != base}
    quotes = Quote.objects.filter(instrument_id__in=instrument_ids) | Quote.objects.filter(
        instrument__symbol__in=fx
    )
    closes, rates = {}, {}
    for iid, symbol, price in quotes.values_list("instrument_id", "instrument__symbol", "price"):
        if symbol in fx:
            rates[fx[symbol]] = ([today], [price])
        else:
            closes[iid] = ([today], [price])
    flow = step(state, today, entries, Prices(closes, rates, currencies, base, {}))
    return state, flow
