"""A miner's page, signed in: your position across portfolios, the watchlists it is in and your
alerts on it; nothing of anyone else's."""

from __future__ import annotations

import datetime as dt
import html as html_module
import re
from decimal import Decimal

import pytest

from portfolios.models import PriceAlert
from portfolios.services import add_watchlist_item, record_transaction
from tests.factories import (
    InstrumentFactory,
    PortfolioFactory,
    QuoteFactory,
    WatchlistFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=instrument, price=D("20.00"), previous_close=D("19.00"))
    return instrument


def _section(html: str) -> str:
    found = re.search(r'<section class="card your-position".*?</section>', html, re.S)
    assert found, "no position section"
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))))


def buy(portfolio, instrument, quantity, price, day="2025-03-03"):
    record_transaction(
        portfolio=portfolio,
        instrument=instrument,
        kind="buy",
        trade_date=dt.date.fromisoformat(day),
        quantity=D(quantity),
        price=D(price),
    )


def test_position_across_portfolios_watchlists_and_alerts(user_client, user, other_user, iren):
    buy(PortfolioFactory(owner=user, name="Core"), iren, "100", "10")
    buy(PortfolioFactory(owner=user, name="Trading"), iren, "50", "16")
    buy(PortfolioFactory(owner=other_user, name="Theirs"), iren, "999", "1")
    add_watchlist_item(watchlist=WatchlistFactory(owner=user, name="Pivots"), instrument=iren)
    add_watchlist_item(watchlist=WatchlistFactory(owner=other_user, name="Hidden"), instrument=iren)
    PriceAlert.objects.create(owner=user, instrument=iren, condition="above", threshold=D("25"))
    PriceAlert.objects.create(
        owner=other_user, instrument=iren, condition="below", threshold=D("5")
    )

    text = _section(user_client.get("/miners/IREN/").content.decode())

    # 150 shares costing 1,000 + 800 = 1,800: 12.00 each; worth 3,000 at $20: +1,200 (+66.67%).
    assert "Shares 150 Average cost $12.00 Unrealized P&L +$1,200.00 (+66.67%)" in text
    assert "Core 100 $10.00 +$1,000.00" in text
    assert "Trading 50 $16.00 +$200.00" in text
    assert "Watchlists: Pivots" in text
    assert "Price ≥ $25.00 · last fired never" in text
    assert "Theirs" not in text and "Hidden" not in text and "$5.00" not in text


def test_nothing_yet_says_so(user_client, iren):
    text = _section(user_client.get("/miners/IREN/").content.decode())
    assert "You hold no IREN in your portfolios." in text
    assert "in none of yours" in text
    assert "No alert on IREN." in text


def test_anonymous_visitors_see_no_position(client, iren):
    assert "your-position" not in client.get("/miners/IREN/").content.decode()
