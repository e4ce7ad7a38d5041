"""Income and cash in CSV files: dividends, interest, fees, deposits and withdrawals exported
with their amount and currency, imported from our own export, Ghostfolio and the brokers'
files, all or nothing, with row-numbered problems for bad rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from market.models import Dividend, SplitEvent
from portfolios.models import Holding, Transaction
from portfolios.services import (
    TradeInput,
    record_cash_entry,
    record_transaction,
    record_transactions,
)
from tests.factories import InstrumentFactory, PortfolioFactory
from tests.portfolios.csv_helpers import cash_entries, confirm, entries, problems, realized, upload

D = Decimal
DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def followed(db):
    return {
        symbol: InstrumentFactory(symbol=symbol, name=symbol, currency="USD")
        for symbol in ("IREN", "CIFR", "WULF")
    }


@pytest.fixture
def target(user, followed):
    return PortfolioFactory(owner=user, name="Imports")


# Our own export, and back ----------------------------------------------------------------------


LEDGER_FIELDS = (
    "holding__instrument__symbol",
    "kind",
    "trade_date",
    "quantity",
    "price",
    "fee",
    "amount",
    "note",
    "split_ratio",
    "automatic",
)


def ledger_of(portfolio):
    return sorted(
        Transaction.objects.filter(portfolio=portfolio).values_list(*LEDGER_FIELDS),
        key=lambda row: (row[2], row[1], row[0] or "", row[6]),
    )


@pytest.fixture
def book(user, followed):
    """Buys, a sell, a dividend of the user's, a dividend from the market's history, a split,
    and every kind of cash entry, with notes a spreadsheet would run as formulas."""
    iren, cifr = followed["IREN"], followed["CIFR"]
    portfolio = PortfolioFactory(owner=user, name="Everything")
    Dividend.objects.create(
        instrument=cifr, ex_date=dt.date(2025, 2, 10), amount=D("0.02"), currency="USD"
    )
    SplitEvent.objects.create(instrument=cifr, date=dt.date(2025, 2, 20), ratio=D("2"))
    record_cash_entry(
        portfolio=portfolio,
        kind="deposit",
        trade_date=dt.date(2025, 1, 1),
        amount=D("10000.00"),
        note="-from savings",
    )
    record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(
                "buy",
                dt.date(2025, 1, 2),
                D("10"),
                D("7.12345678"),
                D("1.5"),
                "=A1",
                instrument=iren,
            ),
            TradeInput("buy", dt.date(2025, 1, 3), D("100"), D("5"), D("0"), instrument=cifr),
            TradeInput(
                "dividend",
                dt.date(2025, 2, 3),
                D("10"),
                D("0.0312"),
                D("0.05"),
                "Q4",
                instrument=iren,
            ),
            TradeInput(
                "sell", dt.date(2025, 3, 4), D("4"), D("12.25"), D("0.5"), "@trim", instrument=iren
            ),
        ],
    )
    for kind, day, amount, note in [
        ("fee", dt.date(2025, 1, 31), D("4.99"), "Platform fee"),
        ("interest", dt.date(2025, 2, 28), D("0.37"), ""),
        ("withdrawal", dt.date(2025, 3, 10), D("250.5"), "+to current account"),
    ]:
        record_cash_entry(portfolio=portfolio, kind=kind, trade_date=day, amount=amount, note=note)
    return portfolio


def test_the_export_gives_every_entry_its_amount_and_currency(user_client, book):
    response = user_client.get(f"/portfolios/{book.pk}/transactions.csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [
        (r["date"], r["symbol"], r["type"], r["currency"], r["price_source"], r["amount"])
        for r in rows
    ] == [
        ("2025-01-01", "", "deposit", "USD", "", "10000"),
        ("2025-01-02", "IREN", "buy", "USD", "trade", "72.7345678"),  # 10 x 7.12345678 + 1.5
        ("2025-01-03", "CIFR", "buy", "USD", "trade", "500"),
        ("2025-01-31", "", "fee", "USD", "", "4.99"),
        ("2025-02-03", "IREN", "dividend", "USD", "trade", "0.262"),  # 10 x 0.0312 - 0.05
        # 100 x 0.04: the history states 0.02 on the basis after the 2-for-1 split
        ("2025-02-10", "CIFR", "dividend", "USD", "dividend history", "4"),
        ("2025-02-20", "CIFR", "split", "USD", "split history", ""),
        ("2025-02-28", "", "interest", "USD", "", "0.37"),
        ("2025-03-04", "IREN", "sell", "USD", "trade", "48.5"),  # 4 x 12.25 - 0.5
        ("2025-03-10", "", "withdrawal", "USD", "", "250.5"),
    ]
    assert rows[0]["note"] == "'-from savings"
    assert (rows[0]["quantity"], rows[0]["price"], rows[0]["fee"]) == ("0", "0", "0")


def test_exporting_and_importing_into_an_empty_portfolio_gives_the_same_ledger(
    user_client, user, book
):
    exported = b"".join(
        user_client.get(f"/portfolios/{book.pk}/transactions.csv").streaming_content
    )
    empty = PortfolioFactory(owner=user, name="Copy")
    response = upload(user_client, empty, exported)
    assert response.status_code == 200
    preview = response.context["preview"]
    # The split and the market's dividend are the ledger's own: it makes them again.
    assert [(s.line, s.kind, s.reason) for s in preview.skipped] == [
        (7, "dividend", "paid from the market's dividend history: the ledger pays it again itself"),
        (8, "split", "splits are applied from the market's split history, not from files"),
    ]
    page = response.content.decode()
    assert "8 rows will be written, 2 skipped" in page
    assert (
        "To write: 2 buys, 1 sell, 1 dividend, 1 deposit, 1 withdrawal, 1 interest payment, "
        "1 fee." in page
    )
    assert confirm(user_client, empty, response).status_code == 302

    assert ledger_of(empty) == ledger_of(book)
    assert len(ledger_of(empty)) == 10
    holdings = "instrument__symbol", "quantity", "average_cost", "cost_basis", "realized_pnl"
    assert sorted(Holding.objects.filter(portfolio=empty).values_list(*holdings)) == sorted(
        Holding.objects.filter(portfolio=book).values_list(*holdings)
    )
    # Imported again, every entry is recognised as already there.
    again = upload(user_client, empty, exported)
    assert again.context["preview"].already_imported
    assert len(again.context["preview"].duplicates) == 8


def test_the_export_of_all_portfolios_carries_cash_in_each_portfolios_currency(
    user_client, user, book
):
    euros = PortfolioFactory(owner=user, name="Euros", base_currency="EUR")
    record_cash_entry(portfolio=euros, kind="deposit", trade_date=dt.date(2025, 1, 5), amount=D(5))
    text = b"".join(user_client.get("/portfolios/transactions.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["portfolio"], r["type"], r["currency"], r["amount"]) for r in rows][:2] == [
        ("Euros", "deposit", "EUR", "5"),
        ("Everything", "deposit", "USD", "10000"),
    ]


def test_a_file_of_cash_entries_needs_no_symbol_quantity_or_price_column(user_client, target):
    content = (
        "date,type,amount,note\n"
        "2025-01-02,deposit,1000,salary\n"
        "2025-01-03,withdrawal,-250.50,\n"  # money out, written as brokers print it
        "2025-01-04,interest,0.42,\n"
        "2025-01-05,fee,1.5,custody\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 200
    assert confirm(user_client, target, response).status_code == 302
    assert cash_entries(target) == [
        ("deposit", dt.date(2025, 1, 2), D("1000"), "salary"),
        ("withdrawal", dt.date(2025, 1, 3), D("250.5"), ""),
        ("interest", dt.date(2025, 1, 4), D("0.42"), ""),
        ("fee", dt.date(2025, 1, 5), D("1.5"), "custody"),
    ]


# Bad rows: a problem on their line, nothing written ---------------------------------------------


def test_a_dividend_without_a_symbol_is_a_problem_on_its_line(user_client, target):
    content = (
        "date,symbol,type,quantity,price,fee,amount\n"
        "2025-01-02,IREN,buy,10,10,0,\n"
        "2025-01-03,,deposit,,,,500\n"
        "2025-01-05,,dividend,10,0.1,0,\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 422
    assert problems(response) == [
        (4, "symbol", "is empty: a dividend needs the security that paid it")
    ]
    page = response.content.decode()
    assert "Read without a problem: 1 buy, 1 deposit." in page
    assert "Import 2 transactions" not in page
    assert Transaction.objects.count() == 0


def test_a_deposit_with_an_amount_that_is_not_a_number_is_a_problem_on_its_line(
    user_client, target
):
    content = (
        "date,type,amount\n"
        "2025-01-02,deposit,1000\n"
        "2025-01-03,deposit,abc\n"
        "2025-01-04,withdrawal,\n"
        "2099-01-05,interest,3\n"
    )
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        response = upload(user_client, target, content)
    assert response.status_code == 422
    assert problems(response) == [
        (3, "amount", "'abc' is not a number"),
        (4, "amount", "is empty: a withdrawal needs its amount"),
        (5, "date", "The date cannot be in the future (today is 2026-03-10)."),
    ]
    assert Transaction.objects.count() == 0


def test_a_second_dividend_of_a_day_already_recorded_is_a_problem(user_client, target, followed):
    record_transaction(
        portfolio=target,
        instrument=followed["IREN"],
        kind="dividend",
        trade_date=dt.date(2025, 2, 3),
        quantity=D(10),
        price=D("0.1"),
    )
    content = (
        "date,symbol,type,quantity,price,fee,amount\n"
        "2025-02-01,,deposit,,,,100\n"
        "2025-02-03,IREN,dividend,10,0.12,0,\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 422
    assert problems(response) == [
        (
            3,
            "date",
            "A dividend of IREN on 2025-02-03 is already recorded (10 x 0.1): the ledger holds "
            "one dividend of a holding a day, so edit that one instead.",
        )
    ]
    assert cash_entries(target) == []


def test_a_change_between_preview_and_confirm_leaves_nothing_half_written(
    user_client, target, followed
):
    content = (
        "date,symbol,type,quantity,price,fee,amount\n"
        "2025-02-01,,deposit,,,,100\n"
        "2025-02-01,IREN,buy,10,10,0,\n"
        "2025-02-03,IREN,dividend,10,0.12,0,\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 200
    record_transaction(
        portfolio=target,
        instrument=followed["IREN"],
        kind="dividend",
        trade_date=dt.date(2025, 2, 3),
        quantity=D(10),
        price=D("0.1"),
    )
    refused = confirm(user_client, target, response)
    assert refused.status_code == 422
    assert [(line, column) for line, column, _ in problems(refused)] == [(4, "date")]
    assert cash_entries(target) == []
    assert entries(target) == [("IREN", "dividend", dt.date(2025, 2, 3), D(10), D("0.1"), D(0))]


def test_an_imported_dividend_takes_the_place_of_the_markets_on_its_ex_date(
    user_client, target, followed
):
    iren = followed["IREN"]
    Dividend.objects.create(
        instrument=iren, ex_date=dt.date(2025, 2, 3), amount=D("0.1"), currency="USD"
    )
    record_transaction(
        portfolio=target,
        instrument=iren,
        kind="buy",
        trade_date=dt.date(2025, 1, 2),
        quantity=D(10),
        price=D(10),
    )
    assert Transaction.objects.get(kind="dividend").automatic
    content = "date,symbol,type,quantity,price,fee\n2025-02-03,IREN,dividend,10,0.1,0.015\n"
    response = upload(user_client, target, content)
    assert response.status_code == 200
    assert confirm(user_client, target, response).status_code == 302
    assert list(
        Transaction.objects.filter(kind="dividend").values_list("trade_date", "fee", "automatic")
    ) == [(dt.date(2025, 2, 3), D("0.015"), False)]
    assert realized(target, "IREN") == D("0.985")
