"""CSV exports of a user's transactions, positions, exposure and watchlists, and the round trip
from a transactions export back into an empty portfolio."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.http import StreamingHttpResponse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from market.models import SplitEvent
from portfolios.csv_import import confirm_import, preview_import
from portfolios.models import Holding, Transaction, WatchlistItem
from portfolios.selectors import portfolio_positions
from portfolios.services.transactions import TradeInput, record_transactions
from tests.factories import (
    InstrumentFactory,
    MinerFactory,
    PortfolioFactory,
    QuoteFactory,
    UserFactory,
    WatchlistFactory,
)

D = Decimal


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    MinerFactory(instrument=instrument, segment="pivot", country="AU")
    QuoteFactory(
        instrument=instrument,
        price=D("40.12345678"),
        previous_close=D("40.62345678"),
        source="simulated",
        provider_time=dt.datetime(2025, 6, 2, 19, 59, tzinfo=dt.UTC),
    )
    return instrument


@pytest.fixture
def clsk(db):
    instrument = InstrumentFactory(symbol="CLSK", name="=CleanSpark")
    MinerFactory(instrument=instrument, segment="miner", country="US")
    QuoteFactory(instrument=instrument, price=D("12"), previous_close=D("12.5"), source="yahoo")
    return instrument


@pytest.fixture
def book(user, iren, clsk):
    """A portfolio of the `user` with buys, a sell, fees, awkward notes and a 2-for-1 split."""
    portfolio = PortfolioFactory(owner=user, name="Long term")
    SplitEvent.objects.create(instrument=clsk, date=dt.date(2025, 3, 3), ratio=D("2"))
    record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(
                "buy",
                dt.date(2025, 1, 2),
                D("10"),
                D("7.12345678"),
                D("1.5"),
                note='=HYPERLINK("http://x")',
                instrument=iren,
            ),
            TradeInput(
                "buy",
                dt.date(2025, 2, 3),
                D("100"),
                D("9"),
                D("0"),
                note="-first lot",
                instrument=clsk,
            ),
            TradeInput(
                "sell",
                dt.date(2025, 4, 1),
                D("4"),
                D("12.25"),
                D("0.5"),
                note="@trim",
                instrument=iren,
            ),
        ],
    )
    return portfolio


# Transactions -------------------------------------------------------------------------------------


def test_transactions_export_is_the_ledger_oldest_first(user_client, book):
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        response = user_client.get(f"/portfolios/{book.pk}/transactions.csv")
    disposition = response["Content-Disposition"]
    assert disposition == 'attachment; filename="minerwatch-long-term-transactions-2026-03-10.csv"'
    rows = read_csv(response)
    assert rows[0] == [
        "date",
        "symbol",
        "type",
        "quantity",
        "price",
        "fee",
        "currency",
        "note",
        "split_ratio",
        "price_source",
        "amount",
    ]
    assert rows[1:] == [
        [
            "2025-01-02",
            "IREN",
            "buy",
            "10",
            "7.12345678",
            "1.5",
            "USD",
            '\'=HYPERLINK("http://x")',
            "",
            "trade",
            "72.7345678",  # 10 x 7.12345678 + 1.5 paid
        ],
        ["2025-02-03", "CLSK", "buy", "100", "9", "0", "USD", "'-first lot", "", "trade", "900"],
        [
            "2025-03-03",
            "CLSK",
            "split",
            "100",
            "0",
            "0",
            "USD",
            "2-for-1 split",
            "2",
            "split history",
            "",  # a split moves no money
        ],
        ["2025-04-01", "IREN", "sell", "4", "12.25", "0.5", "USD", "'@trim", "", "trade", "48.5"],
    ]


def test_all_transactions_export_covers_only_the_users_portfolios(user_client, user, book, iren):
    second = PortfolioFactory(owner=user, name="Trading")
    record_transactions(
        portfolio=second,
        trades=[TradeInput("buy", dt.date(2025, 5, 5), D("1"), D("30"), instrument=iren)],
    )
    stranger = PortfolioFactory(name="Not mine")
    record_transactions(
        portfolio=stranger,
        trades=[TradeInput("buy", dt.date(2025, 5, 5), D("999"), D("30"), instrument=iren)],
    )
    response = user_client.get("/portfolios/transactions.csv")
    assert "minerwatch-all-transactions-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:3] == ["portfolio", "date", "symbol"]
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [
        ("Long term", "2025-01-02", "10"),
        ("Long term", "2025-02-03", "100"),
        ("Long term", "2025-03-03", "100"),
        ("Long term", "2025-04-01", "4"),
        ("Trading", "2025-05-05", "1"),
    ]


# Positions and exposure ---------------------------------------------------------------------------


def test_positions_export_has_exact_pnl_and_says_where_prices_come_from(user_client, book):
    rows = as_dicts(read_csv(user_client.get(f"/portfolios/{book.pk}/positions.csv")))
    by_symbol = {row["symbol"]: row for row in rows}
    iren = by_symbol["IREN"]
    assert iren["quantity"] == "6"
    # 10 x 7.12345678 + 1.5 = 72.7345678 for 10 shares; 6 left at the same average cost.
    assert iren["average_cost"] == "7.27345678"
    assert iren["price"] == "40.12345678"
    assert iren["market_value"] == str(D("6") * D("40.12345678"))
    assert iren["day_change"] == "-3"  # 6 x -0.5, a negative number, not quoted text
    assert iren["price_source"] == "simulated"
    assert iren["price_as_of"] == "2025-06-02T19:59:00+00:00"
    assert iren["status"] == "open"
    clsk = by_symbol["CLSK"]
    assert (clsk["quantity"], clsk["average_cost"], clsk["price_source"]) == ("200", "4.5", "yahoo")
    assert clsk["name"] == "'=CleanSpark"
    total = rows[-1]
    assert (total["name"], total["status"]) == ("Total", "total")
    assert total["market_value"] == str(D("6") * D("40.12345678") + D("200") * D("12"))
    assert total["price_source"] == "simulated+yahoo"


def test_exposure_exports_every_breakdown_with_its_sources(user_client, book):
    rows = as_dicts(read_csv(user_client.get(f"/portfolios/{book.pk}/exposure.csv")))
    keyed = {(row["dimension"], row["key"]): row for row in rows}
    iren_value = D("6") * D("40.12345678")
    total_value = iren_value + D("2400")
    assert D(keyed[("total", "all")]["value"]) == total_value
    assert keyed[("headline", "ai_hpc")]["symbols"] == "IREN"
    assert D(keyed[("headline", "ai_hpc")]["value"]) == iren_value
    assert D(keyed[("segment", "pivot")]["weight_percent"]) == (
        iren_value / total_value * 100
    ).quantize(D("0.0001"))
    assert keyed[("segment", "miner")]["price_source"] == "yahoo"
    assert keyed[("country", "AU")]["price_source"] == "simulated"
    assert keyed[("position", "CLSK")]["label"] == "'=CleanSpark"
    assert {row["dimension"] for row in rows} == {
        "total",
        "headline",
        "segment",
        "country",
        "market_cap_tier",
        "position",
    }


def test_exposure_across_all_portfolios(user_client, user, book, iren):
    second = PortfolioFactory(owner=user, name="Trading")
    record_transactions(
        portfolio=second,
        trades=[TradeInput("buy", dt.date(2025, 5, 5), D("4"), D("30"), instrument=iren)],
    )
    response = user_client.get("/portfolios/exposure.csv")
    assert "minerwatch-all-exposure-" in response["Content-Disposition"]
    keyed = {(r["dimension"], r["key"]): r for r in as_dicts(read_csv(response))}
    assert D(keyed[("position", "IREN")]["value"]) == D("10") * D("40.12345678")
    assert keyed[("position", "IREN")]["currency"] == "USD"


# Watchlists ---------------------------------------------------------------------------------------


def test_watchlist_export_keeps_negative_numbers_numeric_and_neutralises_notes(
    user_client, user, iren, clsk
):
    watchlist = WatchlistFactory(owner=user, name="Pivoters")
    WatchlistItem.objects.create(watchlist=watchlist, instrument=clsk, note="+watch", position=0)
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren, note="core", position=1)
    response = user_client.get(f"/watchlists/{watchlist.pk}/watchlist.csv")
    assert "minerwatch-pivoters-watchlist-" in response["Content-Disposition"]
    rows = as_dicts(read_csv(response))
    assert [(r["position"], r["symbol"], r["note"]) for r in rows] == [
        ("1", "CLSK", "'+watch"),
        ("2", "IREN", "core"),
    ]
    assert rows[0]["change"] == "-0.5"
    assert rows[0]["change_percent"] == "-4"
    assert rows[1]["price_source"] == "simulated"
    assert rows[0]["name"] == "'=CleanSpark"


# Privacy ------------------------------------------------------------------------------------------

PRIVATE_EXPORTS = [
    "/portfolios/{portfolio}/transactions.csv",
    "/portfolios/{portfolio}/positions.csv",
    "/portfolios/{portfolio}/exposure.csv",
    "/watchlists/{watchlist}/watchlist.csv",
]
OWN_ONLY_EXPORTS = ["/portfolios/transactions.csv", "/portfolios/exposure.csv"]


@pytest.fixture
def strangers_things(db, iren):
    owner = UserFactory()
    portfolio = PortfolioFactory(owner=owner)
    record_transactions(
        portfolio=portfolio,
        trades=[TradeInput("buy", dt.date(2025, 5, 5), D("7"), D("30"), instrument=iren)],
    )
    watchlist = WatchlistFactory(owner=owner)
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren)
    return {"portfolio": portfolio.pk, "watchlist": watchlist.pk}


@pytest.mark.parametrize("url", PRIVATE_EXPORTS)
def test_another_users_export_is_404(user_client, strangers_things, url):
    assert user_client.get(url.format(**strangers_things)).status_code == 404


@pytest.mark.parametrize("url", PRIVATE_EXPORTS + OWN_ONLY_EXPORTS)
def test_anonymous_visitors_are_sent_to_sign_in(client, strangers_things, url):
    response = client.get(url.format(**strangers_things))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", OWN_ONLY_EXPORTS)
def test_exports_across_portfolios_hold_nothing_of_other_users(user_client, strangers_things, url):
    rows = read_csv(user_client.get(url))
    assert "7" not in [cell for row in rows[1:] for cell in row]
    assert "IREN" not in " ".join(cell for row in rows[1:] for cell in row)


# The round trip -----------------------------------------------------------------------------------

BASE_DAY = dt.date(2024, 1, 2)
# Notes that start like formulas, hold delimiters, quotes and line breaks (never a leading quote:
# the import reads "'=" back as "=").
NOTE_TEXT = st.text(alphabet='ab =+-@,;"\n\t', max_size=12)
OPERATION = st.tuples(
    st.integers(0, 2),  # which instrument
    st.integers(0, 400),  # day
    st.sampled_from(["buy", "buy", "sell"]),
    st.integers(1, 500),  # quantity
    st.decimals(min_value=D("0.01"), max_value=D("5000"), places=4),  # price
    st.decimals(min_value=D("0"), max_value=D("25"), places=2),  # fee
    NOTE_TEXT,
)
SPLIT = st.tuples(st.integers(0, 2), st.integers(1, 400), st.sampled_from(["2", "3", "0.5", "0.1"]))


def valid_ledger(operations, splits):
    """Trades in the ledger's own order (day, buys before sells, entry order) with every sell cut
    to what is held then (dropped when nothing is), so the ledger is valid whatever was drawn."""
    rank = {"buy": 0, "sell": 1}
    order = sorted(
        range(len(operations)), key=lambda i: (operations[i][1], rank[operations[i][2]], i)
    )
    split_days = {}
    for which, day, ratio in splits:
        split_days.setdefault((which, day), D(ratio))
    held = [D(0), D(0), D(0)]
    applied_until = [-1, -1, -1]
    trades = []
    for index in order:
        which, day, kind, quantity, price, fee, note = operations[index]
        for split_day in range(applied_until[which] + 1, day + 1):
            if (which, split_day) in split_days and held[which] > 0:
                held[which] *= split_days[(which, split_day)]
        applied_until[which] = max(applied_until[which], day)
        quantity = D(quantity)
        if kind == "sell":
            if held[which] <= 0:
                continue
            quantity = min(quantity, held[which])
            held[which] -= quantity
        else:
            held[which] += quantity
        trades.append((which, BASE_DAY + dt.timedelta(days=day), kind, quantity, price, fee, note))
    return trades


@pytest.fixture
def round_trip_instruments(db):
    return [InstrumentFactory(symbol=symbol) for symbol in ("RTA", "RTB", "RTC.TO")]


def holdings_of(portfolio):
    return {
        h.instrument.symbol: (h.quantity, h.average_cost, h.cost_basis, h.realized_pnl)
        for h in Holding.objects.filter(portfolio=portfolio).select_related("instrument")
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(OPERATION, min_size=1, max_size=25),
    splits=st.lists(SPLIT, max_size=3, unique_by=lambda s: (s[0], s[1])),
)
def test_exporting_and_importing_into_an_empty_portfolio_gives_the_same_positions(
    user_client, user, round_trip_instruments, operations, splits
):
    SplitEvent.objects.all().delete()
    for which, day, ratio in splits:
        SplitEvent.objects.create(
            instrument=round_trip_instruments[which],
            date=BASE_DAY + dt.timedelta(days=day),
            ratio=D(ratio),
        )
    trades = valid_ledger(operations, splits)
    assume(trades)  # an empty export is refused on import ("a header but no rows")
    source = PortfolioFactory(owner=user)
    record_transactions(
        portfolio=source,
        trades=[
            TradeInput(
                kind, day, quantity, price, fee, note=note, instrument=round_trip_instruments[which]
            )
            for which, day, kind, quantity, price, fee, note in trades
        ],
    )
    exported = b"".join(
        user_client.get(f"/portfolios/{source.pk}/transactions.csv").streaming_content
    )
    target = PortfolioFactory(owner=user)
    preview = preview_import(portfolio=target, content=exported)
    assert preview.problems == []
    assert len(preview.to_write) == len(trades)
    confirm_import(portfolio=target, content=exported, sha256=preview.parsed.sha256)

    assert holdings_of(target) == holdings_of(source)
    before, after = portfolio_positions(source), portfolio_positions(target)
    assert [(r.symbol, r.quantity, r.average_cost, r.realized_pnl) for r in after.all_rows] == [
        (r.symbol, r.quantity, r.average_cost, r.realized_pnl) for r in before.all_rows
    ]
    fields = (
        "holding__instrument__symbol",
        "kind",
        "trade_date",
        "quantity",
        "price",
        "fee",
        "note",
        "split_ratio",
    )
    ledger = Transaction.objects.order_by(*fields)
    assert list(ledger.filter(holding__portfolio=target).values_list(*fields)) == list(
        ledger.filter(holding__portfolio=source).values_list(*fields)
    )


def test_transactions_export_follows_the_pages_symbol_filter(user_client, book):
    response = user_client.get(f"/portfolios/{book.pk}/transactions.csv?symbol=clsk")
    assert "minerwatch-long-term-clsk-transactions-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [(r[1], r[2]) for r in rows[1:]] == [("CLSK", "buy"), ("CLSK", "split")]


# Links beside the tables ------------------------------------------------------------------------


def test_every_private_table_has_its_csv_link(user_client, user, book, iren):
    watchlist = WatchlistFactory(owner=user)
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren)
    pages = {
        f"/portfolios/{book.pk}/": [
            f'href="/portfolios/{book.pk}/positions.csv"',
            f'href="/portfolios/{book.pk}/import/"',
        ],
        f"/portfolios/{book.pk}/transactions/": [
            f'href="/portfolios/{book.pk}/transactions.csv"',
            f'href="/portfolios/{book.pk}/import/"',
        ],
        f"/portfolios/{book.pk}/transactions/?symbol=IREN": [
            f'href="/portfolios/{book.pk}/transactions.csv?symbol=IREN"',
        ],
        f"/portfolios/{book.pk}/exposure/": [f'href="/portfolios/{book.pk}/exposure.csv"'],
        "/portfolios/exposure/": ['href="/portfolios/exposure.csv"'],
        "/portfolios/": ['href="/portfolios/transactions.csv"'],
        f"/watchlists/{watchlist.pk}/": [f'href="/watchlists/{watchlist.pk}/watchlist.csv"'],
    }
    for url, links in pages.items():
        page = user_client.get(url)
        assert page.status_code == 200, url
        for link in links:
            assert link in page.content.decode(), (url, link)
