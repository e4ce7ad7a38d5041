"""P&L on worked examples (average-cost method), exact to the stored 8 decimal places."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portfolios.models import Holding, Transaction
from portfolios.services import (
    LedgerError,
    apply_splits,
    delete_transaction,
    recompute_holding,
    update_transaction,
)

D = Decimal
pytestmark = pytest.mark.django_db


def holding_of(portfolio, instrument) -> Holding:
    return Holding.objects.get(portfolio=portfolio, instrument=instrument)


def assert_holding(holding, *, quantity, average_cost, cost_basis, realized_pnl):
    holding.refresh_from_db()
    assert (holding.quantity, holding.average_cost, holding.cost_basis, holding.realized_pnl) == (
        D(quantity),
        D(average_cost),
        D(cost_basis),
        D(realized_pnl),
    )


def test_buys_with_fees_put_the_fees_in_the_average_cost(portfolio, iren, trade):
    # 10 @ 20.00 + 5 fee = 205; 30 @ 24.00 + 7 fee = 727; 932 / 40 = 23.30
    trade(iren, "buy", "2025-01-10", 10, "20.00", fee="5")
    trade(iren, "buy", "2025-02-10", 30, "24.00", fee="7")
    assert_holding(
        holding_of(portfolio, iren),
        quantity="40",
        average_cost="23.30",
        cost_basis="932",
        realized_pnl="0",
    )


def test_a_partial_sell_realizes_proceeds_less_fee_less_average_cost(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-10", 10, "20.00", fee="5")
    trade(iren, "buy", "2025-02-10", 30, "24.00", fee="7")
    # (15 x 30.00 - 4.50) - 23.30 x 15 = 445.50 - 349.50 = 96.00
    trade(iren, "sell", "2025-03-10", 15, "30.00", fee="4.50")
    assert_holding(
        holding_of(portfolio, iren),
        quantity="25",
        average_cost="23.30",
        cost_basis="582.50",
        realized_pnl="96.00",
    )


def test_a_full_sell_then_a_rebuy_starts_a_fresh_average(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-06", 100, "5.00", fee="10")  # cost 510, avg 5.10
    trade(iren, "sell", "2025-02-03", 100, "6.00", fee="10")  # 590 - 510 = 80
    holding = holding_of(portfolio, iren)
    assert_holding(holding, quantity="0", average_cost="0", cost_basis="0", realized_pnl="80")
    trade(iren, "buy", "2025-03-03", 50, "8.00", fee="5")  # 405 / 50 = 8.10
    assert_holding(holding, quantity="50", average_cost="8.10", cost_basis="405", realized_pnl="80")


def test_a_sell_back_dated_between_buys_uses_the_average_of_its_date(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-10", 10, "100")
    trade(iren, "buy", "2025-03-10", 5, "130")
    # Entered last, but dated between the buys: average then is 100, not (1000 + 650) / 15 = 110.
    trade(iren, "sell", "2025-02-10", 5, "150")
    # 5 x 150 - 5 x 100 = 250; then 500 + 650 = 1150 for 10 shares.
    assert_holding(
        holding_of(portfolio, iren),
        quantity="10",
        average_cost="115",
        cost_basis="1150",
        realized_pnl="250",
    )


def test_a_back_dated_sell_cannot_sell_shares_bought_after_it(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-10", 10, "100")
    trade(iren, "buy", "2025-03-10", 5, "130")
    with pytest.raises(LedgerError) as caught:
        trade(iren, "sell", "2025-02-10", 15, "150")
    assert caught.value.message_dict == {
        "quantity": ["You held 10 IREN on 2025-02-10; you cannot sell 15."]
    }
    assert Transaction.objects.filter(kind="sell").count() == 0
    assert_holding(
        holding_of(portfolio, iren),
        quantity="15",
        average_cost="110",
        cost_basis="1650",
        realized_pnl="0",
    )


def test_a_one_for_ten_reverse_split_between_trades(portfolio, iren, trade, split_event):
    trade(iren, "buy", "2025-01-06", 1000, "1.20", fee="10")  # cost 1210
    event = split_event(iren, "2025-02-03", "0.1")  # 1000 shares become 100, cost unchanged
    assert apply_splits([event.pk]) == 1
    holding = holding_of(portfolio, iren)
    assert_holding(
        holding, quantity="100", average_cost="12.10", cost_basis="1210", realized_pnl="0"
    )
    # After the split: (40 x 15.00 - 6) - 12.10 x 40 = 594 - 484 = 110
    trade(iren, "sell", "2025-03-03", 40, "15.00", fee="6")
    assert_holding(
        holding, quantity="60", average_cost="12.10", cost_basis="726", realized_pnl="110"
    )
    split = Transaction.objects.get(holding=holding, kind="split")
    assert (split.trade_date, split.quantity, split.split_ratio, split.note) == (
        dt.date(2025, 2, 3),
        D("-900"),
        D("0.1"),
        "1-for-10 reverse split",
    )


def test_a_trade_recorded_before_an_existing_split_is_adjusted_by_it(
    portfolio, iren, trade, split_event
):
    trade(iren, "buy", "2025-01-06", 1000, "1.20", fee="10")
    apply_splits([split_event(iren, "2025-02-03", "0.1").pk])
    trade(iren, "sell", "2025-03-03", 40, "15.00", fee="6")
    # Recorded later, dated before the split: 500 pre-split shares are 50 after it.
    trade(iren, "buy", "2025-01-20", 500, "1.00")
    # Before the split: 1500 shares for 1710; after: 150 at 11.40. Sell 40: 594 - 456 = 138.
    holding = holding_of(portfolio, iren)
    assert_holding(
        holding, quantity="110", average_cost="11.40", cost_basis="1254", realized_pnl="138"
    )
    assert Transaction.objects.get(holding=holding, kind="split").quantity == D("-1350")


def test_a_split_is_applied_once_however_often_it_is_announced(portfolio, iren, trade, split_event):
    trade(iren, "buy", "2025-01-06", 10, "40")
    event = split_event(iren, "2025-02-03", "4")
    apply_splits([event.pk])
    apply_splits([event.pk])
    recompute_holding(holding_of(portfolio, iren))
    holding = holding_of(portfolio, iren)
    assert holding.quantity == D("40")
    assert holding.transactions.filter(kind="split").count() == 1


def test_trades_on_the_split_date_are_in_post_split_shares(portfolio, iren, trade, split_event):
    trade(iren, "buy", "2025-01-06", 10, "40")
    split_event(iren, "2025-02-03", "4")
    trade(iren, "sell", "2025-02-03", 40, "11")  # 40 new shares exist that day
    assert_holding(
        holding_of(portfolio, iren),
        quantity="0",
        average_cost="0",
        cost_basis="0",
        realized_pnl="40",  # 440 - 400
    )


def test_a_split_before_the_first_buy_does_not_touch_the_ledger(
    portfolio, iren, trade, split_event
):
    split_event(iren, "2024-06-03", "0.1")
    trade(iren, "buy", "2025-01-06", 10, "40")
    holding = holding_of(portfolio, iren)
    assert holding.quantity == D("10")
    assert not holding.transactions.filter(kind="split").exists()


def test_a_split_that_contradicts_a_later_sell_is_not_applied_and_the_owner_is_told(
    portfolio, iren, trade, split_event
):
    trade(iren, "buy", "2025-01-06", 100, "1")
    trade(iren, "sell", "2025-03-03", 100, "2")  # recorded in pre-split shares by mistake
    event = split_event(iren, "2025-02-03", "0.1")
    assert apply_splits([event.pk]) == 0
    holding = holding_of(portfolio, iren)
    assert holding.realized_pnl == D("100")
    assert not holding.transactions.filter(kind="split").exists()
    notification = portfolio.owner.notifications.get()
    assert "1-for-10 reverse split" in notification.text
    assert "sell of 100 on 2025-03-03 is more than the 10 shares held then" in notification.text


def test_editing_a_buy_recomputes_and_deleting_the_last_trade_removes_the_holding(
    portfolio, iren, trade
):
    buy = trade(iren, "buy", "2025-01-10", 10, "20", fee="5")
    update_transaction(transaction=buy, quantity=D("20"), price=D("10"), fee=D("0"))
    assert_holding(
        holding_of(portfolio, iren),
        quantity="20",
        average_cost="10",
        cost_basis="200",
        realized_pnl="0",
    )
    delete_transaction(transaction=buy)
    assert not Holding.objects.exists()
    assert not Transaction.objects.exists()


def test_an_edit_that_would_oversell_a_later_sell_is_refused(portfolio, iren, trade):
    buy = trade(iren, "buy", "2025-01-10", 10, "20")
    trade(iren, "sell", "2025-02-10", 8, "25")
    with pytest.raises(LedgerError) as caught:
        update_transaction(transaction=buy, quantity=D("5"))
    assert caught.value.message_dict == {
        "quantity": [
            "This change would leave your sell of 8 IREN on 2025-02-10 larger than the 5 held then."
        ]
    }
    with pytest.raises(LedgerError) as caught:
        update_transaction(transaction=buy, trade_date=dt.date(2025, 3, 1))
    assert list(caught.value.message_dict) == ["trade_date"]
    buy.refresh_from_db()
    assert (buy.quantity, buy.trade_date) == (D("10"), dt.date(2025, 1, 10))
    assert holding_of(portfolio, iren).quantity == D("2")


def test_a_delete_that_would_oversell_a_later_sell_is_refused(portfolio, iren, trade):
    buy = trade(iren, "buy", "2025-01-10", 10, "20")
    trade(iren, "sell", "2025-02-10", 8, "25")
    with pytest.raises(LedgerError) as caught:
        delete_transaction(transaction=buy)
    assert caught.value.messages == [
        "Deleting this buy would leave your sell of 8 IREN on 2025-02-10 with no IREN held to sell."
    ]
    assert Transaction.objects.count() == 2
    assert holding_of(portfolio, iren).quantity == D("2")


def test_the_splits_recorded_signal_queues_the_ledgers_update(
    portfolio, iren, trade, split_event, eager_tasks, django_capture_on_commit_callbacks
):
    from market.signals import splits_recorded

    trade(iren, "buy", "2025-01-06", 10, "40")
    event = split_event(iren, "2025-02-03", "4")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        splits_recorded.send(sender=None, split_event_ids=[event.pk])
    # Nothing runs inside the sender's transaction: the update waits for the commit.
    assert holding_of(portfolio, iren).quantity == D("10")
    assert len(queued) == 1
    queued[0]()
    assert holding_of(portfolio, iren).quantity == D("40")
