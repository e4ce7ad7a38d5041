"""The ledger walk's rules as properties over generated trades, and the cases they pin down.

`portfolios.ledger.walk` is pure, so most of this file needs no database. Sums are compared with
a tolerance of 1e-30: the walk divides (the average cost) in a 50-digit context, so an identity
that holds exactly on paper may differ in the 40th digit; anything a user could see (8 places)
is far above that. The test's own sums run in an 80-digit context, so they add no rounding.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from portfolios import ledger
from portfolios.models import Holding, Transaction
from portfolios.services import TradeInput, record_transactions, update_transaction
from tests.portfolios.test_ledger import assert_holding

D = Decimal
TOLERANCE = D("1e-30")
START = dt.date(2025, 1, 6)
DAYS = 12  # few days, so that many trades share one

PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _exact_sums():
    with decimal.localcontext(prec=80):
        yield


quantities = st.decimals(min_value=D("0.001"), max_value=D("500"), places=3)
prices = st.decimals(min_value=D("0.01"), max_value=D("900"), places=2)
fees = st.one_of(st.just(D(0)), st.decimals(min_value=D("0"), max_value=D("15"), places=2))
ratios = st.sampled_from([D("2"), D("3"), D("4"), D("1.5"), D("10"), D("0.1"), D("0.5")])
days = st.integers(min_value=0, max_value=DAYS - 1).map(lambda n: START + dt.timedelta(days=n))


@st.composite
def trade_lists(draw, *, min_size=0, max_size=16, sell_share=0.4):
    count = draw(st.integers(min_value=min_size, max_value=max_size))
    trades = []
    for index in range(count):
        is_sell = draw(st.floats(min_value=0, max_value=1)) < sell_share
        quantity = draw(quantities)
        trades.append(
            ledger.Trade(
                key=index,
                kind="sell" if is_sell else "buy",
                trade_date=draw(days),
                quantity=quantity / 4 if is_sell else quantity,
                price=draw(prices),
                fee=draw(fees),
                sequence=index,
            )
        )
    return trades


split_lists = st.lists(
    st.builds(ledger.Split, split_date=days, ratio=ratios),
    max_size=2,
    unique_by=lambda split: split.split_date,
)


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= TOLERANCE


def same_position(a: ledger.Position, b: ledger.Position) -> bool:
    return (
        close(a.quantity, b.quantity)
        and close(a.cost_basis, b.cost_basis)
        and close(a.realized_pnl, b.realized_pnl)
        and {o.key for o in a.oversold} == {o.key for o in b.oversold}
    )


# -- properties -------------------------------------------------------------------------------


@PROPERTIES
@given(trades=trade_lists(sell_share=0.6), splits=split_lists)
def test_quantity_and_cost_are_never_negative_on_any_day(trades, splits):
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        position = ledger.walk(
            [t for t in trades if t.trade_date <= day], [s for s in splits if s.split_date <= day]
        )
        assert position.quantity >= 0
        assert position.cost_basis >= 0
        assert position.quantity > 0 or position.cost_basis == 0
        # Every refused sell asked for more than was held, and what it found is reported.
        for refused in position.oversold:
            assert refused.wanted > refused.held >= 0


@PROPERTIES
@given(trades=trade_lists(), splits=split_lists, mark=prices)
def test_realized_plus_unrealized_plus_fees_is_proceeds_plus_value_minus_cost(trades, splits, mark):
    position = ledger.walk(trades, splits)
    refused = {o.key for o in position.oversold}
    counted = [t for t in trades if t.key not in refused]
    proceeds = sum((t.price * t.quantity for t in counted if t.kind == "sell"), D(0))
    cost = sum((t.price * t.quantity for t in counted if t.kind == "buy"), D(0))
    fees_paid = sum((t.fee for t in counted), D(0))
    value = position.quantity * mark
    unrealized = value - position.cost_basis
    assert close(position.realized_pnl + unrealized + fees_paid, proceeds + value - cost)


@PROPERTIES
@given(trades=trade_lists(), splits=split_lists, data=st.data())
def test_the_entry_order_within_a_day_changes_nothing_once_every_sell_is_covered(
    trades, splits, data
):
    position = ledger.walk(trades, splits)
    assume(not position.oversold)
    # Renumber the entries in any order (as if typed in another order on the same days).
    order = data.draw(st.permutations(range(len(trades))))
    renumbered = [
        ledger.Trade(t.key, t.kind, t.trade_date, t.quantity, t.price, t.fee, sequence=order[i])
        for i, t in enumerate(trades)
    ]
    assert same_position(ledger.walk(renumbered, splits), position)


@PROPERTIES
@given(trades=trade_lists(), splits=split_lists)
def test_a_days_sells_always_see_that_days_buys(trades, splits):
    # Listing every sell before every buy changes nothing: buys of a day come first.
    sells_first = [
        ledger.Trade(
            t.key,
            t.kind,
            t.trade_date,
            t.quantity,
            t.price,
            t.fee,
            sequence=t.sequence + (0 if t.kind == "sell" else 1000),
        )
        for t in trades
    ]
    assert same_position(ledger.walk(sells_first, splits), ledger.walk(trades, splits))


def restated(trades: list[ledger.Trade], split: ledger.Split) -> list[ledger.Trade]:
    """The trades before the split, written in post-split shares."""
    return [
        ledger.Trade(
            t.key,
            t.kind,
            t.trade_date,
            t.quantity * split.ratio,
            ledger._CONTEXT.divide(t.price, split.ratio),
            t.fee,
            t.sequence,
        )
        if t.trade_date < split.split_date
        else t
        for t in trades
    ]


@PROPERTIES
@given(trades=trade_lists(), split=st.builds(ledger.Split, split_date=days, ratio=ratios))
def test_a_split_is_the_same_as_trades_before_it_written_in_post_split_shares(trades, split):
    with_split = ledger.walk(trades, [split])
    assert same_position(ledger.walk(restated(trades, split), []), with_split)


@PROPERTIES
@given(trades=trade_lists(min_size=1), ratio=ratios, data=st.data())
def test_a_split_moves_freely_between_trades_on_other_days(trades, ratio, data):
    # Between two trading days a split commutes with the days around it: any date in the gap
    # (after the last trade before it, up to the first trade on or after it) gives one position.
    trade_days = sorted({t.trade_date for t in trades})
    gap_end = data.draw(st.sampled_from(trade_days))
    earlier = [d for d in trade_days if d < gap_end]
    gap_start = earlier[-1] + dt.timedelta(days=1) if earlier else gap_end - dt.timedelta(days=30)
    moved = data.draw(
        st.integers(min_value=0, max_value=(gap_end - gap_start).days).map(
            lambda n: gap_start + dt.timedelta(days=n)
        )
    )
    at_end = ledger.walk(trades, [ledger.Split(gap_end, ratio)])
    at_moved = ledger.walk(trades, [ledger.Split(moved, ratio)])
    assert same_position(at_moved, at_end)
    assert [(s.shares_before, s.shares_after) for s in at_moved.applied_splits] == [
        (s.shares_before, s.shares_after) for s in at_end.applied_splits
    ]


@PROPERTIES
@given(trades=trade_lists(), splits=split_lists)
def test_the_order_splits_are_given_in_does_not_matter(trades, splits):
    assert same_position(ledger.walk(trades, list(reversed(splits))), ledger.walk(trades, splits))


# -- cases --------------------------------------------------------------------------------------


def trade(key, kind, day, quantity, price, fee="0"):
    return ledger.Trade(
        key=key,
        kind=kind,
        trade_date=dt.date.fromisoformat(day),
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        sequence=key,
    )


def test_a_same_day_sell_entered_before_its_buy_is_not_oversold():
    position = ledger.walk(
        [
            trade(1, "sell", "2025-03-03", "4", "12", fee="1"),
            trade(2, "buy", "2025-03-03", "10", "10", fee="2"),
        ]
    )
    assert position.oversold == []
    # Buy: 102 for 10 (10.2 each). Sell 4: (48 - 1) - 40.8 = 6.2.
    assert (position.quantity, position.cost_basis, position.realized_pnl) == (
        D("6"),
        D("61.2"),
        D("6.2"),
    )


def test_a_same_day_sell_larger_than_the_days_buys_is_still_oversold():
    position = ledger.walk(
        [
            trade(1, "sell", "2025-03-03", "11", "12"),
            trade(2, "buy", "2025-03-03", "10", "10"),
        ]
    )
    assert position.oversold == [ledger.Oversold(1, dt.date(2025, 3, 3), D("10"), D("11"))]
    assert position.quantity == D("10")


def test_a_repeating_average_cost_is_rounded_only_when_stored():
    # 3 shares for $10 (3 at $3 plus a $1 fee): 3.333... each.
    position = ledger.walk([trade(1, "buy", "2025-01-06", "3", "3", fee="1")])
    assert position.stored(position.average_cost) == D("3.33333333")
    position = ledger.walk(
        [
            trade(1, "buy", "2025-01-06", "3", "3", fee="1"),
            trade(2, "sell", "2025-02-03", "1", "5"),
        ]
    )
    assert position.stored(position.realized_pnl) == D("1.66666667")
    assert position.stored(position.cost_basis) == D("6.66666667")
    assert position.stored(position.average_cost) == D("3.33333333")
    # Selling the other two at $5 realizes exactly $5 in all: no cent lost to rounding on the way.
    position = ledger.walk(
        [
            trade(1, "buy", "2025-01-06", "3", "3", fee="1"),
            trade(2, "sell", "2025-02-03", "1", "5"),
            trade(3, "sell", "2025-03-03", "2", "5"),
        ]
    )
    assert (position.quantity, position.cost_basis) == (D(0), D(0))
    assert position.stored(position.realized_pnl) == D("5.00000000")


# -- the same cases through the service and the database --------------------------------------


@pytest.mark.django_db
def test_an_import_listing_a_days_sell_before_its_buy_is_recorded(portfolio, iren):
    record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput("sell", "2025-03-03", "4", "12", "1", instrument=iren),
            TradeInput("buy", "2025-03-03", "10", "10", "2", instrument=iren),
        ],
    )
    assert_holding(
        Holding.objects.get(portfolio=portfolio, instrument=iren),
        quantity="6",
        average_cost="10.2",
        cost_basis="61.2",
        realized_pnl="6.2",
    )


@pytest.mark.django_db
def test_the_split_entry_goes_when_the_only_buy_before_it_moves_after_it(
    portfolio, iren, trade, split_event
):
    from portfolios.services import apply_splits

    buy = trade(iren, "buy", "2025-01-06", 10, "40")
    apply_splits([split_event(iren, "2025-02-03", "4").pk])
    holding = Holding.objects.get(portfolio=portfolio, instrument=iren)
    assert holding.transactions.filter(kind="split").count() == 1
    assert_holding(holding, quantity="40", average_cost="10", cost_basis="400", realized_pnl="0")

    update_transaction(transaction=buy, trade_date=dt.date(2025, 3, 3))
    assert not Transaction.objects.filter(kind="split").exists()
    assert_holding(holding, quantity="10", average_cost="40", cost_basis="400", realized_pnl="0")


@pytest.mark.django_db
def test_a_repeating_average_cost_is_stored_to_eight_places(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-06", 3, "3", fee="1")
    holding = Holding.objects.get(portfolio=portfolio, instrument=iren)
    assert_holding(
        holding, quantity="3", average_cost="3.33333333", cost_basis="10", realized_pnl="0"
    )
    trade(iren, "sell", "2025-02-03", 1, "5")
    assert_holding(
        holding,
        quantity="2",
        average_cost="3.33333333",
        cost_basis="6.66666667",
        realized_pnl="1.66666667",
    )
    trade(iren, "sell", "2025-03-03", 2, "5")
    assert_holding(holding, quantity="0", average_cost="0", cost_basis="0", realized_pnl="5")
