"""Files people already have: broker exports, Ghostfolio's crypto codes, ISINs, rows without a
market price, fees written as debits; and a preview that never contradicts itself.

Broker files in tests/portfolios/data/ are built from the column layouts the brokers publish
(Interactive Brokers flex query of trades, Charles Schwab transactions, Trading 212 history).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from market.models import DailyBar, Instrument
from market.providers import SearchHit
from market.providers.simulated import SimulatedProvider
from portfolios.csv_import import (
    confirm_import,
    parse_transactions_csv,
    parse_us_date,
    preview_import,
)
from portfolios.models import Transaction
from tests.factories import InstrumentFactory, PortfolioFactory
from tests.portfolios.csv_helpers import cash_entries, confirm, entries, position, upload

D = Decimal
DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def followed(db):
    return {
        symbol: InstrumentFactory(symbol=symbol, name=name, kind=kind, currency="USD")
        for symbol, name, kind in [
            ("IREN", "IREN Ltd", "equity"),
            ("CIFR", "Cipher Mining", "equity"),
            ("WULF", "TeraWulf", "equity"),
            ("MSFT", "Microsoft", "equity"),
            ("BTC-USD", "Bitcoin USD", "crypto"),
        ]
    }


@pytest.fixture
def target(user, followed):
    return PortfolioFactory(owner=user, name="Imports")


class FakeProvider:
    """A market-data provider that knows a few ISINs (what Yahoo's search answers for them)."""

    name = "fake"

    def __init__(self, listings: dict[str, list[SearchHit]]):
        self.listings = listings
        self.searched: list[str] = []

    def search(self, text: str) -> list[SearchHit]:
        self.searched.append(text)
        return self.listings.get(text, [])


MSFT_LISTINGS = [
    SearchHit("MSFT", "Microsoft Corporation", "NasdaqGS", "equity"),
    SearchHit("MSF.DE", "Microsoft Corporation", "XETRA", "equity"),
]


# -- broker files through the import view --------------------------------------------------------


def test_an_interactive_brokers_flex_export_imports_as_it_is(user_client, target):
    response = upload(user_client, target, (DATA / "ibkr-flex-trades.csv").read_bytes())
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.parsed.layout == "Interactive Brokers flex query (trades)"
    assert [(s.line, s.reason) for s in preview.skipped] == [
        (3, "a currency conversion: cash is not tracked")
    ]
    page = response.content.decode()
    assert "Recognised as: Interactive Brokers flex query (trades)." in page
    assert "3 rows will be written, 1 skipped" in page

    assert confirm(user_client, target, response).status_code == 302
    assert entries(target) == [
        ("IREN", "buy", dt.date(2025, 1, 6), D("100"), D("10.25"), D("1")),
        ("CIFR", "buy", dt.date(2025, 1, 15), D("200"), D("5.1"), D("1.02")),
        ("IREN", "sell", dt.date(2025, 2, 10), D("40"), D("15.5"), D("1.0216")),
    ]
    # 1026 for 100; sell 40: (620 - 1.0216) - 40 x 10.26 = 208.5784
    assert position(target, "IREN") == (D("60"), D("10.26"), D("615.6"), D("208.5784"))
    assert position(target, "CIFR") == (D("200"), D("5.1051"), D("1021.02"), D("0"))
    assert Transaction.objects.get(kind="sell").note == "IREN LTD"


def test_a_schwab_export_imports_with_its_income_and_cash_and_its_total_line(user_client, target):
    response = upload(user_client, target, (DATA / "schwab-transactions.csv").read_bytes())
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.parsed.layout == "Charles Schwab transactions"
    assert [(s.line, s.kind, s.reason) for s in preview.skipped] == [
        (14, "Journaled Shares", "transfers of shares are not tracked"),
        (15, "", "the file's total line"),
    ]
    assert [(c.line, c.reason) for c in preview.combined] == [
        (6, "taken as tax withheld on the dividend on line 5")
    ]
    page = response.content.decode()
    assert "10 rows will be written, 2 skipped</strong>, 1 combined with another row." in page
    assert (
        "To write: 2 buys, 1 sell, 2 dividends, 1 deposit, 1 withdrawal, 1 interest payment, "
        "2 fees." in page
    )

    assert confirm(user_client, target, response).status_code == 302
    # A dividend given as a total is 1 x the total; its tax line is its fee.
    assert entries(target) == [
        ("WULF", "buy", dt.date(2025, 2, 3), D("1000"), D("5.25"), D("0.65")),
        ("WULF", "sell", dt.date(2025, 2, 13), D("400"), D("6.10"), D("0.12")),
        ("WULF", "dividend", dt.date(2025, 2, 20), D("1"), D("1.00"), D("0.15")),
        ("CIFR", "buy", dt.date(2025, 2, 25), D("2.5"), D("4.00"), D("0")),
        ("CIFR", "dividend", dt.date(2025, 2, 26), D("1"), D("0.05"), D("0")),
    ]
    # Money in and out by the sign of Amount; margin interest paid is a fee.
    assert cash_entries(target) == [
        ("deposit", dt.date(2025, 2, 21), D("10000"), "Tfr BANK OF EXAMPLE, JOHN DOE"),
        ("withdrawal", dt.date(2025, 2, 24), D("2500"), "Tfr BANK OF EXAMPLE, JOHN DOE"),
        ("fee", dt.date(2025, 2, 28), D("25"), "ACCOUNT SERVICE FEE"),
        ("fee", dt.date(2025, 3, 1), D("1.37"), "MARGIN INT 01/30-02/27"),
        ("interest", dt.date(2025, 3, 3), D("0.12"), "SCHWAB1 INT 01/30-02/27"),
    ]
    # 5250.65 for 1000; sell 400 on the trade date: 2439.88 - 400 x 5.25065 = 339.62; the
    # dividend adds 1.00 - 0.15.
    assert position(target, "WULF") == (D("600"), D("5.25065"), D("3150.39"), D("340.47"))
    assert position(target, "CIFR") == (D("2.5"), D("4"), D("10"), D("0.05"))


def no_eur_rate(line: int, what: str, day: str) -> tuple[int, str]:
    return (
        line,
        f"{what} in EUR: no EURUSD=X close on or before {day} to convert it into USD, the "
        "currency Imports keeps its cash in (the rate is fetched from now on)",
    )


def test_a_trading_212_export_imports_with_fees_converted_at_its_rate(user_client, target):
    response = upload(user_client, target, (DATA / "trading212-history.csv").read_bytes())
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.parsed.layout == "Trading 212 history"
    # The account's cash is in euros; this portfolio keeps its cash in dollars, and there is no
    # EUR rate yet to convert it at.
    assert [(s.line, s.reason) for s in preview.skipped] == [
        no_eur_rate(2, "a deposit", "2025-01-02"),
        no_eur_rate(6, "an interest payment", "2025-02-11"),
        no_eur_rate(7, "a withdrawal", "2025-02-12"),
    ]
    assert Instrument.objects.filter(symbol="EURUSD=X", is_active=True).exists()
    assert confirm(user_client, target, response).status_code == 302
    # Fees in EUR at the trade's rate (USD per EUR): 0.15 x 1.03, 0.09 x 1.05. The dividend's
    # withholding tax is its fee.
    assert entries(target) == [
        ("IREN", "buy", dt.date(2025, 1, 6), D("10"), D("10"), D("0.1545")),
        ("IREN", "dividend", dt.date(2025, 1, 27), D("10"), D("0.05"), D("0.08")),
        ("IREN", "sell", dt.date(2025, 2, 10), D("4"), D("15"), D("0.0945")),
    ]
    assert cash_entries(target) == []
    # 100.1545 for 10; sell 4: 59.9055 - 4 x 10.01545 = 19.8437; dividend 0.50 - 0.08.
    assert position(target, "IREN") == (D("6"), D("10.01545"), D("60.0927"), D("20.2637"))


T212_HEADER = (
    "Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),"
    "Exchange rate,Result,Currency (Result),Total,Currency (Total),Withholding tax,"
    "Currency (Withholding tax),Notes,ID,Currency conversion fee,"
    "Currency (Currency conversion fee)\n"
)


def test_a_trading_212_price_in_pence_is_kept_in_pounds(user_client, user):
    """London's shares are priced in GBX (pence) in the file: the ledger holds pounds, and a
    fee in another currency is converted at the row's rate, which is in pence."""
    InstrumentFactory(symbol="ARB.L", name="Argo Blockchain", currency="GBP")
    pounds = PortfolioFactory(owner=user, name="Pounds", base_currency="GBP")
    rows = (
        "Market buy,2025-01-06 09:30:00.000,GB00BZ15CS02,ARB.L,Argo,1000,7.05,GBX,"
        "100.00000,,,70.50,GBP,,,,EOF1,,\n"
        "Market buy,2025-01-07 09:30:00.000,GB00BZ15CS02,ARB.L,Argo,500,6.80,GBX,"
        "85.00000,,,40.60,EUR,,,,EOF2,0.20,EUR\n"
    )
    response = upload(user_client, pounds, T212_HEADER + rows)
    assert response.status_code == 200 and response.context["preview"].skipped == []
    assert confirm(user_client, pounds, response).status_code == 302
    # 7.05 pence = 0.0705 pounds; the EUR fee: 0.20 x 85 pence per euro = 17 pence = 0.17 pounds.
    assert entries(pounds) == [
        ("ARB.L", "buy", dt.date(2025, 1, 6), D("1000"), D("0.0705"), D("0")),
        ("ARB.L", "buy", dt.date(2025, 1, 7), D("500"), D("0.068"), D("0.17")),
    ]


def test_cash_in_another_currency_is_converted_at_the_fx_close_of_its_date(user_client, target):
    rate = InstrumentFactory(symbol="EURUSD=X", kind="fx", currency="USD")
    for day, close in [("2024-12-31", "1.0350"), ("2025-02-11", "1.0300")]:
        DailyBar.objects.create(
            instrument=rate, date=dt.date.fromisoformat(day), close=D(close), adj_close=D(close)
        )
    response = upload(user_client, target, (DATA / "trading212-history.csv").read_bytes())
    assert response.context["preview"].skipped == []
    assert confirm(user_client, target, response).status_code == 302
    # The last close on or before each date: 1.0350 for 2 January, 1.0300 from 11 February.
    assert cash_entries(target) == [
        ("deposit", dt.date(2025, 1, 2), D("517.50"), "Bank Transfer (500 EUR at 1.035)"),
        ("interest", dt.date(2025, 2, 11), D("0.38"), "Interest on cash (0.37 EUR at 1.03)"),
        ("withdrawal", dt.date(2025, 2, 12), D("103.00"), "Sent to Bank Account (100 EUR at 1.03)"),
    ]


def test_a_trading_212_export_into_a_euro_portfolio_keeps_its_cash(user_client, user, followed):
    euros = PortfolioFactory(owner=user, name="Euros", base_currency="EUR")
    response = upload(user_client, euros, (DATA / "trading212-history.csv").read_bytes())
    assert response.status_code == 200
    assert response.context["preview"].skipped == []
    page = response.content.decode()
    assert (
        "To write: 1 buy, 1 sell, 1 dividend, 1 deposit, 1 withdrawal, 1 interest payment." in page
    )
    assert confirm(user_client, euros, response).status_code == 302
    assert cash_entries(euros) == [
        ("deposit", dt.date(2025, 1, 2), D("500"), "Bank Transfer"),
        ("interest", dt.date(2025, 2, 11), D("0.37"), "Interest on cash"),
        ("withdrawal", dt.date(2025, 2, 12), D("100"), "Sent to Bank Account"),
    ]
    assert len(entries(euros)) == 3


def test_a_schwab_date_reads_month_first_and_keeps_the_trade_date():
    assert parse_us_date("07/15/2024 as of 07/12/2024") == dt.date(2024, 7, 12)
    assert parse_us_date("01/31/2025") == dt.date(2025, 1, 31)
    with pytest.raises(ValueError, match="not a real date"):
        parse_us_date("31/01/2025")


# -- fees written as debits --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, fee",
    [
        (
            "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n"
            "2025-01-06,IREN,YAHOO,USD,10,5,buy,-1.99,\n",
            D("1.99"),
        ),
        (
            "Buy/Sell,TradeDate,Symbol,Quantity,TradePrice,IBCommission,CurrencyPrimary\n"
            "BUY,20250106,IREN,5,10,-0.35,USD\n",
            D("0.35"),
        ),
        (
            "Date,Action,Symbol,Description,Quantity,Price,Fees & Comm,Amount\n"
            '01/06/2025,Buy,IREN,IREN LTD,5,$10.00,-$0.65,"-$50.65"\n',
            D("0.65"),
        ),
        (
            "Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),"
            "Exchange rate,Transaction fee,Currency (Transaction fee)\n"
            "Market buy,2025-01-06 14:30:00,AU0000185993,IREN,IREN,5,10,USD,1.03,-0.50,USD\n",
            D("0.50"),
        ),
    ],
    ids=["generic", "interactive-brokers", "schwab", "trading212"],
)
def test_a_fee_written_negative_is_taken_as_its_size(content, fee):
    parsed = parse_transactions_csv(content.encode())
    assert parsed.problems == []
    assert [trade.fee for trade in parsed.trades] == [fee]


# -- symbols: crypto pairs, ISINs, rows we cannot price ----------------------------------------


GHOSTFOLIO_MIXED = (
    "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n"
    "2025-01-06T00:00:00.000Z,BTCUSD,YAHOO,USD,95000,0.05,buy,-2.5,\n"
    "2025-01-07T00:00:00.000Z,house-oak-street,MANUAL,USD,400000,1,buy,0,home\n"
    "2025-01-08T00:00:00.000Z,My Private Holding,YAHOO,USD,100,10,buy,0,\n"
    "2025-01-09T00:00:00.000Z,IREN,YAHOO,USD,10,20,buy,0,\n"
)


def test_a_ghostfolio_file_with_a_crypto_code_and_assets_without_a_price(user_client, target):
    response = upload(user_client, target, GHOSTFOLIO_MIXED)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(m.code, m.symbol, m.reason) for m in preview.mappings] == [
        ("BTCUSD", "BTC-USD", "crypto pair")
    ]
    assert [(s.line, s.symbol, s.reason) for s in preview.skipped] == [
        (
            3,
            "house-oak-street",
            "priced by hand (DataSource MANUAL): there is no market price for it",
        ),
        (4, "My Private Holding", "“My Private Holding” is not a ticker symbol we can price"),
    ]
    page = response.content.decode()
    assert "2 rows will be written, 2 skipped" in page
    assert "crypto pair written without its dash" in page
    assert "Import 2 transactions" in page

    assert confirm(user_client, target, response).status_code == 302
    assert entries(target) == [
        ("BTC-USD", "buy", dt.date(2025, 1, 6), D("0.05"), D("95000"), D("2.5")),
        ("IREN", "buy", dt.date(2025, 1, 9), D("20"), D("10"), D("0")),
    ]
    assert position(target, "BTC-USD") == (D("0.05"), D("95050"), D("4752.5"), D("0"))


def test_a_plain_code_we_follow_is_not_read_as_a_crypto_pair(target):
    InstrumentFactory(symbol="ABCUSD", name="ABC USD Trust")
    preview = preview_import(
        portfolio=target,
        content=b"date,symbol,type,quantity,price\n2025-01-06,ABCUSD,buy,1,10\n",
    )
    assert preview.mappings == []
    assert [(t.symbol, i.symbol) for t, i in preview.to_write] == [("ABCUSD", "ABCUSD")]


def test_an_isin_with_one_listing_resolves_through_the_providers_search(target):
    provider = FakeProvider({"US5949181045": MSFT_LISTINGS[:1]})
    content = b"Date,Symbol,Type,Quantity,Price\n2025-01-06,US5949181045,buy,3,420.5\n"
    preview = preview_import(portfolio=target, content=content, provider=provider)
    assert [(m.code, m.symbol, m.reason, m.several) for m in preview.mappings] == [
        ("US5949181045", "MSFT", "ISIN", False)
    ]
    assert [(t.isin, i.symbol) for t, i in preview.to_write] == [("US5949181045", "MSFT")]
    confirm_import(
        portfolio=target,
        content=content,
        sha256=preview.parsed.sha256,
        searched=preview.searched,
        provider=FakeProvider({}),  # confirming uses the preview's lookup, not a new search
    )
    assert position(target, "MSFT") == (D("3"), D("420.5"), D("1261.5"), D("0"))
    assert provider.searched == ["US5949181045"]


def test_an_isin_the_provider_cannot_list_is_skipped_and_the_rest_imports(target):
    # The simulated provider lists no ISIN (it echoes symbol-shaped text, which is not a listing).
    content = (
        b"Date,Symbol,ISIN,Type,Quantity,Price\n"
        b"2025-01-06,,US88160R1014,buy,1,400\n"
        b"2025-01-06,IREN,,buy,5,10\n"
    )
    preview = preview_import(portfolio=target, content=content, provider=SimulatedProvider())
    assert [(s.line, s.symbol, s.reason) for s in preview.skipped] == [
        (
            2,
            "US88160R1014",
            "no listing found for the ISIN US88160R1014: there is no price to follow",
        )
    ]
    assert [t.line for t, _ in preview.to_write] == [3]
    result = confirm_import(
        portfolio=target,
        content=content,
        sha256=preview.parsed.sha256,
        provider=SimulatedProvider(),
    )
    assert (result.written, result.skipped) == (1, 1)
    assert entries(target) == [("IREN", "buy", dt.date(2025, 1, 6), D("5"), D("10"), D("0"))]


def test_an_isin_with_several_listings_lets_the_user_pick_one(user_client, target, monkeypatch):
    provider = FakeProvider({"US5949181045": MSFT_LISTINGS})
    monkeypatch.setattr("portfolios.csv_import.codes.get_provider", lambda: provider)
    InstrumentFactory(symbol="MSF.DE", name="Microsoft (Xetra)", currency="EUR")
    content = "Date,Code,Currency,Price,Quantity,Action\n2025-01-06,US5949181045,EUR,390,2,buy\n"
    response = upload(user_client, target, content)
    # The first listing is proposed; its currency (USD) is not the file's, so the row waits.
    assert response.status_code == 422
    page = response.content.decode()
    assert 'name="listing-US5949181045"' in page
    assert "ISIN listed 2 times: pick one" in page
    assert "MSFT trades in USD, not EUR" in page

    picked = user_client.post(
        f"/portfolios/{target.pk}/import/listings/",
        {"sha256": response.context["sha256"], "listing-US5949181045": "MSF.DE"},
    )
    assert picked.status_code == 200
    assert [(t.line, i.symbol) for t, i in picked.context["preview"].to_write] == [(2, "MSF.DE")]
    assert confirm(user_client, target, picked).status_code == 302
    assert entries(target) == [("MSF.DE", "buy", dt.date(2025, 1, 6), D("2"), D("390"), D("0"))]
    assert provider.searched == ["US5949181045"]  # once: the pick and confirm reuse it


def test_a_listing_that_was_not_offered_cannot_be_picked(user_client, target, monkeypatch):
    provider = FakeProvider({"US5949181045": MSFT_LISTINGS})
    monkeypatch.setattr("portfolios.csv_import.codes.get_provider", lambda: provider)
    content = "Date,Code,Price,Quantity,Action\n2025-01-06,US5949181045,420,2,buy\n"
    response = upload(user_client, target, content)
    picked = user_client.post(
        f"/portfolios/{target.pk}/import/listings/",
        {"sha256": response.context["sha256"], "listing-US5949181045": "IREN"},
    )
    assert [i.symbol for _, i in picked.context["preview"].to_write] == ["MSFT"]


def test_another_user_cannot_pick_listings_of_an_import(client, other_user, target):
    client.force_login(other_user)
    response = client.post(f"/portfolios/{target.pk}/import/listings/", {"sha256": "x"})
    assert response.status_code == 404


# -- the preview never contradicts itself ------------------------------------------------------


def test_a_row_with_a_problem_is_not_also_listed_as_read_without_one(user_client, target):
    content = (
        "date,symbol,type,quantity,price\n"
        "2025-01-06,IREN,buy,10,10\n"
        "2025-01-07,IREN,sell,15,12\n"
        "2025-01-08,CIFR,buy,abc,5\n"
    )
    response = upload(user_client, target, content)
    assert response.status_code == 422
    preview = response.context["preview"]
    assert [(p.line, p.column) for p in preview.problems] == [(3, "quantity"), (4, "quantity")]
    assert [t.line for t, _ in preview.to_write] == [2]
    page = response.content.decode()
    assert "1 transaction read without a problem" in page


def test_an_oversold_sell_shows_with_the_other_problems_at_once(user_client, target):
    content = (
        "date,symbol,type,quantity,price\n"
        "2099-01-06,CIFR,buy,10,10\n"  # a future date
        "2025-01-06,IREN,buy,10,10\n"
        "2025-01-07,IREN,sell,15,12\n"  # oversold
        "2025-01-06,NEWCO,buy,1,10\n"  # not followed yet
        "2025-01-07,NEWCO,sell,2,10\n"  # oversold in the file itself
    )
    response = upload(user_client, target, content)
    problems = {(p.line, p.column): p.message for p in response.context["preview"].problems}
    assert set(problems) == {
        (2, "date"),
        (4, "quantity"),
        (5, "symbol"),
        (6, "symbol"),
        (6, "quantity"),
    }
    assert problems[(4, "quantity")] == "You held 10 IREN on 2025-01-07; you cannot sell 15."
    assert problems[(6, "quantity")] == "the file holds 1 NEWCO on 2025-01-07; it cannot sell 2"
    assert Transaction.objects.count() == 0
    assert not Instrument.objects.filter(symbol="NEWCO").exists()


def test_a_crypto_pair_we_do_not_follow_yet_is_added_under_the_providers_symbol(
    user_client, user, db
):
    portfolio = PortfolioFactory(owner=user, name="Crypto")
    content = "Date,Code,Price,Quantity,Action\n2025-01-06,ETHUSD,3300,0.5,buy\n"
    response = upload(user_client, portfolio, content)
    assert response.status_code == 422
    preview = response.context["preview"]
    assert preview.unknown_symbols == ["ETH-USD"]
    assert [(m.code, m.symbol) for m in preview.mappings] == [("ETHUSD", "ETH-USD")]
    added = user_client.post(
        f"/portfolios/{portfolio.pk}/import/add-symbols/",
        {"sha256": response.context["sha256"], "symbol": ["ETH-USD"]},
    )
    assert added.status_code == 200
    assert Instrument.objects.filter(symbol="ETH-USD").exists()
    assert not Instrument.objects.filter(symbol="ETHUSD").exists()
    assert confirm(user_client, portfolio, added).status_code == 302
    assert entries(portfolio) == [
        ("ETH-USD", "buy", dt.date(2025, 1, 6), D("0.5"), D("3300"), D("0"))
    ]
