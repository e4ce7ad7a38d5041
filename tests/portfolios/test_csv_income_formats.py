"""Income and cash rows of the files other tools write: Ghostfolio's activities, Interactive
Brokers' flex query of cash transactions, Schwab's dividend and tax lines; and the rows the
ledger cannot hold, skipped with why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from portfolios.csv_import import parse_transactions_csv
from portfolios.models import Transaction
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


# Ghostfolio ---------------------------------------------------------------------------------


GHOSTFOLIO = (
    "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n"
    "2025-01-06T00:00:00.000Z,IREN,YAHOO,USD,10,20,BUY,1,\n"
    "2025-01-20T00:00:00.000Z,IREN,YAHOO,USD,0.05,20,DIVIDEND,0.15,Q4 dividend\n"
    "2025-01-31T00:00:00.000Z,6a1e2b5c-4d2a-9c3e,MANUAL,USD,0,0,FEE,4.99,Account fee\n"
    "2025-02-01T00:00:00.000Z,9b7c1d2e-4f3a-8b4c,MANUAL,USD,1.23,1,INTEREST,0,Cash interest\n"
    "2025-02-02T00:00:00.000Z,house-on-oak-street,MANUAL,USD,400000,1,ITEM,0,\n"
    "2025-02-03T00:00:00.000Z,car-loan,MANUAL,USD,15000,1,LIABILITY,0,\n"
)


def test_a_ghostfolio_file_imports_its_dividends_fees_and_interest(user_client, target):
    response = upload(user_client, target, GHOSTFOLIO)
    assert response.status_code == 200
    assert [(s.line, s.reason) for s in response.context["preview"].skipped] == [
        (6, "valuables (items) are not tracked"),
        (7, "liabilities are not tracked"),
    ]
    assert confirm(user_client, target, response).status_code == 302
    assert entries(target) == [
        ("IREN", "buy", dt.date(2025, 1, 6), D("20"), D("10"), D("1")),
        ("IREN", "dividend", dt.date(2025, 1, 20), D("20"), D("0.05"), D("0.15")),
    ]
    # Ghostfolio's fee is quantity x price + fee, its interest quantity x price.
    assert cash_entries(target) == [
        ("fee", dt.date(2025, 1, 31), D("4.99"), "Account fee"),
        ("interest", dt.date(2025, 2, 1), D("1.23"), "Cash interest"),
    ]
    assert realized(target, "IREN") == D("0.85")  # 20 x 0.05 - 0.15


# Interactive Brokers -------------------------------------------------------------------------


def test_interactive_brokers_trades_then_cash_transactions(user_client, target):
    trades = upload(user_client, target, (DATA / "ibkr-flex-trades.csv").read_bytes())
    assert confirm(user_client, target, trades).status_code == 302
    response = upload(user_client, target, (DATA / "ibkr-flex-cash.csv").read_bytes())
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.parsed.layout == "Interactive Brokers flex query (cash transactions)"
    assert [(s.line, s.reason) for s in preview.skipped] == [
        (8, "reversed within this file (lines 8, 9)"),
        (9, "reversed within this file (lines 8, 9)"),
        (
            11,
            "a deposit in EUR: no EURUSD=X close on or before 2025-02-13 to convert it into USD, "
            "the currency Imports keeps its cash in (the rate is fetched from now on)",
        ),
    ]
    assert [(c.line, c.reason) for c in preview.combined] == [
        (7, "taken as tax withheld on the dividend on line 6")
    ]
    assert confirm(user_client, target, response).status_code == 302

    assert entries(target) == [
        ("IREN", "buy", dt.date(2025, 1, 6), D("100"), D("10.25"), D("1")),
        ("CIFR", "buy", dt.date(2025, 1, 15), D("200"), D("5.1"), D("1.02")),
        # "USD 0.02 PER SHARE" for a total of 2: held as 100 shares x 0.02, tax 0.30.
        ("IREN", "dividend", dt.date(2025, 2, 5), D("100"), D("0.02"), D("0.3")),
        ("IREN", "sell", dt.date(2025, 2, 10), D("40"), D("15.5"), D("1.0216")),
    ]
    assert cash_entries(target) == [
        ("deposit", dt.date(2025, 1, 3), D("5000"), "CASH RECEIPTS / ELECTRONIC FUND TRANSFERS"),
        ("fee", dt.date(2025, 2, 3), D("10"), "MONTHLY MINIMUM FEE"),
        ("interest", dt.date(2025, 2, 4), D("3.21"), "USD CREDIT INT FOR JAN-2025"),
        ("fee", dt.date(2025, 2, 4), D("0.45"), "USD DEBIT INT FOR JAN-2025"),
        ("withdrawal", dt.date(2025, 2, 12), D("1000"), "DISBURSEMENT INITIATED BY JOHN DOE"),
    ]
    # 208.5784 from the sell (see test_csv_formats), and the dividend's 2 - 0.3.
    assert realized(target, "IREN") == D("210.2784")


# Rows the ledger cannot hold are skipped with why -------------------------------------------

SCHWAB_HEADER = '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'


def test_a_refunded_fee_and_a_tax_without_its_dividend_are_skipped_with_why():
    parsed = parse_transactions_csv(
        (
            SCHWAB_HEADER + '"03/03/2025","Service Fee","","FEE REFUND","","","","$25.00"\n'
            '"03/03/2025","Bank Interest","","BANK INT","","","","$0.50"\n'
            '"03/04/2025","NRA Tax Adj","WULF","TERAWULF INC","","","","-$0.15"\n'
            '"03/05/2025","Qualified Dividend","CIFR","CIPHER","","","","-$1.00"\n'
        ).encode()
    )
    assert parsed.problems == []
    assert [(c.line, c.kind, c.amount) for c in parsed.cash] == [(3, "interest", D("0.50"))]
    assert [(s.line, s.reason) for s in parsed.skipped] == [
        (
            2,
            "money in on a fee row (a refund or a reversal): the ledger holds a fee only as "
            "money out",
        ),
        (
            4,
            "tax on a dividend of WULF on 2025-03-04 that this file does not hold: add it to "
            "that dividend's tax (fee) in the portfolio",
        ),
        (
            5,
            "reverses a dividend this file does not hold: the ledger cannot hold a negative "
            "dividend (correct that dividend in the portfolio instead)",
        ),
    ]


def test_dividend_lines_of_one_day_with_the_same_shares_are_added_up():
    parsed = parse_transactions_csv(
        b"date,symbol,type,quantity,price,fee\n"
        b"2025-03-03,WULF,dividend,10,0.25,0.05\n"
        b"2025-03-03,WULF,dividend,10,0.05,0\n"
        b"2025-03-03,CIFR,dividend,10,0.1,0\n"
        b"2025-03-03,CIFR,dividend,20,0.1,0\n"
    )
    assert [(t.line, t.code, t.quantity, t.price, t.fee) for t in parsed.trades] == [
        (2, "WULF", D("10"), D("0.30"), D("0.05")),
        (4, "CIFR", D("10"), D("0.1"), D("0")),
        (5, "CIFR", D("20"), D("0.1"), D("0")),
    ]
    assert [(c.line, c.reason) for c in parsed.combined] == [(3, "added to the dividend on line 2")]


def test_two_dividends_of_a_day_with_different_shares_are_a_problem(user_client, target):
    content = (
        "date,symbol,type,quantity,price\n"
        "2025-03-03,CIFR,dividend,10,0.1\n"
        "2025-03-03,CIFR,dividend,20,0.1\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 422
    assert problems(response) == [
        (
            3,
            "date",
            "a second dividend of CIFR on 2025-03-03 (line 2 has one, for another number of "
            "shares): the ledger holds one dividend of a holding a day, so put them on one line",
        )
    ]
    assert Transaction.objects.count() == 0


def test_an_older_trading_212_file_names_the_currency_of_its_totals_in_the_header():
    parsed = parse_transactions_csv(
        b"Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),"
        b"Exchange rate,Total (EUR),Withholding tax,Currency (Withholding tax),Notes,ID\n"
        b"Deposit,2021-03-01 10:00:00,,,,,,,,1000.00,,,,\n"
        b"Dividend (Ordinary),2021-03-15 11:00:00,US0378331005,AAPL,Apple,2,0.205,USD,"
        b"Not available,0.30,0.06,USD,,\n"
    )
    assert parsed.layout == "Trading 212 history"
    assert parsed.problems == []
    assert [(c.line, c.kind, c.amount, c.currency) for c in parsed.cash] == [
        (2, "deposit", D("1000.00"), "EUR")
    ]
    assert [(t.line, t.code, t.quantity, t.price, t.fee, t.currency) for t in parsed.trades] == [
        (3, "AAPL", D("2"), D("0.205"), D("0.06"), "USD")
    ]


@pytest.mark.parametrize(
    ("note", "currency", "total", "held"),
    [
        ("IREN CASH DIVIDEND USD 0.02 PER SHARE (Ordinary)", "USD", "2", ("100", "0.02")),
        ("CASH DIVIDEND USD 0.015 PER SHARE", "USD", "1.5", ("100", "0.015")),
        # Not exact to 4 places of a share, another currency, no rate stated: 1 x the total.
        ("CASH DIVIDEND USD 0.03 PER SHARE", "USD", "1", ("1", "1")),
        ("CASH DIVIDEND EUR 0.02 PER SHARE", "USD", "2", ("1", "2")),
        ("Qualified Dividend", "USD", "2", ("1", "2")),
    ],
)
def test_a_total_dividend_is_held_per_share_when_its_description_says_so(
    note, currency, total, held
):
    from portfolios.csv_import.combine import _per_share
    from portfolios.csv_import.rows import TradeRow

    row = TradeRow(
        line=2,
        symbol="IREN",
        kind="dividend",
        trade_date=dt.date(2025, 2, 5),
        quantity=D(1),
        price=D(total),
        fee=D(0),
        note=note,
        currency=currency,
        total=True,
    )
    result = _per_share(row)
    assert (result.quantity, result.price) == (D(held[0]), D(held[1]))
    assert result.quantity * result.price == D(total)
