"""The ledger services refuse bad input with the field's error and write nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from market.models import Instrument
from portfolios.models import Holding, Transaction
from portfolios.services import (
    LedgerError,
    TradeInput,
    delete_transaction,
    record_transaction,
    record_transactions,
    update_transaction,
)

D = Decimal
pytestmark = pytest.mark.django_db


def record(portfolio, instrument, **overrides):
    values = {
        "kind": "buy",
        "trade_date": dt.date(2025, 1, 10),
        "quantity": D("10"),
        "price": D("20"),
        "fee": D("0"),
    }
    values.update(overrides)
    return record_transaction(portfolio=portfolio, instrument=instrument, **values)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"quantity": D("0")}, "quantity", "The quantity must be more than zero."),
        ({"quantity": D("-5")}, "quantity", "The quantity must be more than zero."),
        ({"price": D("0")}, "price", "The price must be more than zero."),
        ({"price": D("-1.5")}, "price", "The price must be more than zero."),
        ({"fee": D("-1")}, "fee", "The fee cannot be negative."),
        (
            {"quantity": D("0.000000001")},
            "quantity",
            "Use at most 8 decimal places for the quantity.",
        ),
        ({"quantity": D("1e13")}, "quantity", "The quantity is too large."),
        (
            {"kind": "split"},
            "kind",
            "Splits come from the market's split history; record a buy or a sell.",
        ),
        ({"kind": "short"}, "kind", "Choose buy, sell or dividend."),
        ({"note": "x" * 201}, "note", "Keep the note to 200 characters (it has 201)."),
        (
            {"kind": "sell"},
            "quantity",
            "You held no IREN on 2025-01-10, so there is nothing to sell.",
        ),
    ],
)
def test_bad_input_is_refused_with_the_fields_error_and_nothing_written(
    portfolio, iren, overrides, field, message
):
    with pytest.raises(LedgerError) as caught:
        record(portfolio, iren, **overrides)
    assert caught.value.message_dict == {field: [message]}
    assert not Transaction.objects.exists()
    assert not Holding.objects.exists()


@time_machine.travel(dt.datetime(2025, 6, 2, 15, 0, tzinfo=dt.UTC), tick=False)
def test_a_future_trade_date_is_refused(portfolio, iren):
    with pytest.raises(LedgerError) as caught:
        record(portfolio, iren, trade_date=dt.date(2025, 6, 3))
    assert caught.value.message_dict == {
        "trade_date": ["The trade date cannot be in the future (today is 2025-06-02)."]
    }
    assert not Transaction.objects.exists()
    record(portfolio, iren, trade_date=dt.date(2025, 6, 2))  # today is fine
    assert Transaction.objects.count() == 1


def test_selling_more_than_held_at_that_date_is_refused(portfolio, iren):
    record(portfolio, iren, quantity=D("10"))
    record(portfolio, iren, kind="sell", quantity=D("4"), trade_date=dt.date(2025, 2, 1))
    with pytest.raises(LedgerError) as caught:
        record(portfolio, iren, kind="sell", quantity=D("7"), trade_date=dt.date(2025, 3, 1))
    assert caught.value.message_dict == {
        "quantity": ["You held 6 IREN on 2025-03-01; you cannot sell 7."]
    }
    assert Transaction.objects.count() == 2
    assert Holding.objects.get().quantity == D("6")


def test_a_back_dated_sell_that_leaves_a_later_sell_oversold_is_refused(portfolio, iren):
    record(portfolio, iren, quantity=D("10"))
    record(portfolio, iren, kind="sell", quantity=D("8"), trade_date=dt.date(2025, 3, 1))
    with pytest.raises(LedgerError) as caught:
        record(portfolio, iren, kind="sell", quantity=D("5"), trade_date=dt.date(2025, 2, 1))
    assert caught.value.message_dict == {
        "quantity": [
            "This sell would leave your sell of 8 IREN on 2025-03-01 larger than the 5 held then."
        ]
    }
    assert Transaction.objects.count() == 2


def test_splits_cannot_be_edited_or_deleted_by_hand(portfolio, iren, split_event):
    record(portfolio, iren)
    split_event(iren, "2025-02-03", "2")
    record(portfolio, iren, trade_date=dt.date(2025, 3, 1))
    split = Transaction.objects.get(kind="split")
    with pytest.raises(LedgerError):
        update_transaction(transaction=split, quantity=D("100"))
    with pytest.raises(LedgerError):
        delete_transaction(transaction=split)
    split.refresh_from_db()
    assert split.quantity == D("10")


def test_update_refuses_fields_that_are_not_editable(portfolio, iren):
    entry = record(portfolio, iren)
    with pytest.raises(TypeError):
        update_transaction(transaction=entry, holding_id=123)


def test_record_transactions_writes_a_batch_and_recomputes_each_holding(portfolio, iren, clsk):
    entries = record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(
                symbol="IREN",
                kind="buy",
                trade_date="2025-01-10",
                quantity="10",
                price="20",
                fee="1",
            ),
            TradeInput(
                instrument=clsk,
                kind="buy",
                trade_date=dt.date(2025, 1, 11),
                quantity=D("5"),
                price=D("9"),
            ),
            TradeInput(
                symbol="iren",
                kind="SELL",
                trade_date="2025-02-10",
                quantity="4",
                price="30",
                fee="",
            ),
        ],
    )
    assert [e.kind for e in entries] == ["buy", "buy", "sell"]
    iren_holding = Holding.objects.get(instrument=iren)
    # cost 201 for 10; sell 4: 120 - 80.40 = 39.60
    assert (iren_holding.quantity, iren_holding.cost_basis, iren_holding.realized_pnl) == (
        D("6"),
        D("120.60"),
        D("39.60"),
    )
    assert Holding.objects.get(instrument=clsk).quantity == D("5")


def test_record_transactions_adds_a_symbol_the_provider_knows(portfolio):
    record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(symbol="BTDR", kind="buy", trade_date="2025-01-10", quantity="1", price="10")
        ],
    )
    assert Instrument.objects.filter(symbol="BTDR").exists()
    assert Holding.objects.get().instrument.symbol == "BTDR"


def test_record_transactions_reports_every_bad_row_and_writes_nothing(portfolio, iren):
    record(portfolio, iren, quantity=D("10"))
    trades = [
        TradeInput(symbol="IREN", kind="buy", trade_date="2025-01-12", quantity="5", price="21"),
        TradeInput(symbol="ZZZZ", kind="buy", trade_date="2025-01-12", quantity="5", price="21"),
        TradeInput(symbol="IREN", kind="buy", trade_date="12/01/2025", quantity="0", price="abc"),
        TradeInput(symbol="IREN", kind="sell", trade_date="2025-02-01", quantity="100", price="25"),
    ]
    with pytest.raises(LedgerError) as caught:
        record_transactions(portfolio=portfolio, trades=trades)
    errors = [(e.row, e.field) for e in caught.value.row_errors]
    assert errors == [
        (1, "symbol"),
        (2, "price"),
        (2, "quantity"),
        (2, "trade_date"),
    ]
    by_row = {(e.row, e.field): e.message for e in caught.value.row_errors}
    assert by_row[(1, "symbol")].startswith(
        "The market-data provider does not know the symbol ZZZZ"
    )
    assert by_row[(2, "trade_date")] == "Enter the trade date as YYYY-MM-DD."
    assert by_row[(2, "price")] == "Enter the price as a number, such as 12.5."
    assert Transaction.objects.count() == 1
    assert not Instrument.objects.filter(symbol="ZZZZ").exists()

    # Once every row is well formed, the ledger is checked as a whole: the sell is oversold.
    trades[1] = TradeInput(
        symbol="IREN", kind="buy", trade_date="2025-01-12", quantity="1", price="21"
    )
    trades[2] = TradeInput(
        symbol="IREN", kind="buy", trade_date="2025-01-13", quantity="1", price="22"
    )
    with pytest.raises(LedgerError) as caught:
        record_transactions(portfolio=portfolio, trades=trades)
    assert [(e.row, e.field, e.message) for e in caught.value.row_errors] == [
        (3, "quantity", "You held 17 IREN on 2025-02-01; you cannot sell 100.")
    ]
    assert caught.value.message_dict == {
        "quantity": ["Row 4: You held 17 IREN on 2025-02-01; you cannot sell 100."]
    }
    assert Transaction.objects.count() == 1
    assert Holding.objects.get().quantity == D("10")


def test_record_transactions_blames_the_new_sell_that_oversells_an_existing_one(portfolio, iren):
    record(portfolio, iren, quantity=D("10"))
    record(portfolio, iren, kind="sell", quantity=D("8"), trade_date=dt.date(2025, 3, 1))
    with pytest.raises(LedgerError) as caught:
        record_transactions(
            portfolio=portfolio,
            trades=[
                TradeInput(
                    symbol="IREN", kind="buy", trade_date="2025-01-20", quantity="1", price="20"
                ),
                TradeInput(
                    symbol="IREN", kind="sell", trade_date="2025-02-01", quantity="5", price="25"
                ),
            ],
        )
    assert [(e.row, e.field) for e in caught.value.row_errors] == [(1, "quantity")]
    assert Transaction.objects.count() == 2
