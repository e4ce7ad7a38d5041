"""The performance page as it is served: its summary kept in the cache on the version tokens
(and fresh after a trade, a quote refresh, a new bar or a streamed price), and its tables by
period, with exact values.

Days: Mon 2025-01-06 (D1) .. Thu 2025-01-09 (D4); "today" is Fri 2025-01-10 (New York's session
open), priced at the quote.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from market.models import DailyBar, Quote
from market.services import refresh_quotes, update_bars
from portfolios.performance import page
from portfolios.performance.returns import Point
from portfolios.services import record_cash_entry
from tests.factories import InstrumentFactory, QuoteFactory
from tests.market.fake_provider import FakeProvider, quote
from tests.redis_cache import real_redis_cache

pytestmark = pytest.mark.django_db

D = Decimal
D1, D2, D3, D4 = (dt.date(2025, 1, 6) + dt.timedelta(days=i) for i in range(4))
NOW = dt.datetime(2025, 1, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False) as clock:
        yield clock


@pytest.fixture(autouse=True)
def _real_redis_when_there_is_one(settings):
    """On the PostgreSQL + Redis pass the page's cache is the real Redis (keys under a prefix of
    their own, removed afterwards)."""
    if not os.environ.get("REDIS_URL"):
        yield
        return
    with real_redis_cache(settings, "performance"):
        yield


def stock(symbol, closes, price):
    instrument = InstrumentFactory(symbol=symbol, name=symbol)
    DailyBar.objects.bulk_create(
        DailyBar(instrument=instrument, date=day, close=D(close), adj_close=D(close))
        for day, close in closes
    )
    QuoteFactory(instrument=instrument, price=D(price), previous_close=D(closes[-1][1]))
    return instrument


def net_shown(client, url) -> str:
    html = client.get(url).content.decode()
    start = html.index('data-figure="net">') + len('data-figure="net">')
    return html[start : html.index("<", start)]


def test_the_page_is_computed_once_and_is_fresh_after_every_change(
    user_client, portfolio, trade, _clock
):
    xyz = stock("XYZ", [(D1, "10"), (D2, "10"), (D3, "10")], "15")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    url = reverse("portfolios:performance", args=[portfolio.pk])
    assert net_shown(user_client, url) == "+$50.00"

    # Nothing changed: the summary comes from the cache, whatever the contribution table's
    # order; no day, entry, quote or bar is read.
    with CaptureQueriesContext(connection) as queries:
        assert user_client.get(url, {"sort": "symbol"}).status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "portfolios_portfolio" in tables  # the owner's check
    for table in ("portfolioday", "transaction", "holding", "market_"):
        assert table not in tables

    # A new trade (its holding's save replaces the owner's token).
    trade(xyz, "buy", "2025-01-08", 10, "11")
    assert net_shown(user_client, url) == "+$90.00"  # 20 shares at 15 for 210

    # A quote refresh: quotes written in bulk, the run's end replaces the market token.
    fake = FakeProvider(quotes={"XYZ": quote("XYZ", "16.00", "10.00")})
    assert refresh_quotes(provider=fake, force=True, symbols=["XYZ"], now=NOW).stored_count
    assert net_shown(user_client, url) == "+$110.00"

    # A new bar (Thursday's, arriving late): a bars run stores it, the days are rebuilt.
    assert "2025-01-09" not in user_client.get(url).content.decode()
    bars = FakeProvider(bar_symbols=["XYZ"], base_close=D("10"), today=D4)
    assert update_bars(provider=bars, now=NOW).stored_count
    html = user_client.get(url).content.decode()
    assert '<td>2025-01-09</td><td class="num">$200.00</td>' in html

    # A streamed price replaces no token: it shows once the summary's time is up.
    Quote.objects.filter(instrument=xyz).update(price=D("17.00"))
    assert net_shown(user_client, url) == "+$110.00"
    _clock.shift(dt.timedelta(seconds=page.settings.PAGE_ETAG_SECONDS + 1))
    assert net_shown(user_client, url) == "+$130.00"


def test_all_portfolios_are_fresh_after_a_trade_in_any_of_them(user_client, portfolio, trade):
    from tests.factories import PortfolioFactory

    xyz = stock("XYZ", [(D1, "10"), (D2, "10"), (D3, "10")], "15")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    url = reverse("portfolios:performance_all")
    assert net_shown(user_client, url) == "+$50.00"
    other = PortfolioFactory(owner=portfolio.owner, name="Other")
    trade(xyz, "buy", "2025-01-07", 4, "10", into=other)
    assert net_shown(user_client, url) == "+$70.00"


def points(rows) -> list[Point]:
    return [Point(day, D(value), D(0), D(invested), D(flow)) for day, value, invested, flow in rows]


def test_the_history_table_has_a_row_per_month_with_the_money_in_over_it():
    history = points(
        [
            (dt.date(2024, 10, 30), "100", "100", "100"),
            (dt.date(2024, 10, 31), "110", "100", "0"),
            (dt.date(2024, 11, 4), "160", "150", "50"),
            (dt.date(2024, 11, 29), "150", "170", "20"),
            (dt.date(2024, 12, 2), "200", "170", "0"),
        ]
    )
    period, key = page.period_of(history[0].date, history[-1].date)
    assert period == "month"
    assert page.history_rows(history, period, key) == [
        page.HistoryRow("2024-12", dt.date(2024, 12, 2), D(200), D(170), D(30), D(0)),
        page.HistoryRow("2024-11", dt.date(2024, 11, 29), D(150), D(170), D(-20), D(70)),
        page.HistoryRow("2024-10", dt.date(2024, 10, 31), D(110), D(100), D(10), D(100)),
    ]
    underwater = [
        (dt.date(2024, 10, 30), D(0)),
        (dt.date(2024, 10, 31), D("-0.1")),
        (dt.date(2024, 11, 4), D("-0.25")),
        (dt.date(2024, 11, 29), D("-0.25")),
        (dt.date(2024, 12, 2), D(0)),
    ]
    assert page.underwater_rows(underwater, period, key) == [
        page.UnderwaterRow("2024-12", dt.date(2024, 12, 2), D(0)),
        page.UnderwaterRow("2024-11", dt.date(2024, 11, 4), D("-0.25")),  # the first deepest
        page.UnderwaterRow("2024-10", dt.date(2024, 10, 31), D("-0.1")),
    ]


@pytest.mark.parametrize(
    ("first", "last", "period", "label"),
    [
        (dt.date(2024, 12, 10), dt.date(2025, 1, 10), "day", "2025-01-10"),
        (dt.date(2024, 12, 9), dt.date(2025, 1, 10), "month", "2025-01"),
        (dt.date(2023, 1, 10), dt.date(2025, 1, 10), "month", "2025-01"),
        (dt.date(2023, 1, 9), dt.date(2025, 1, 10), "quarter", "2025 Q1"),
        (dt.date(2019, 1, 10), dt.date(2025, 1, 10), "quarter", "2025 Q1"),
        (dt.date(2019, 1, 9), dt.date(2025, 1, 10), "year", "2025"),
        (dt.date(2018, 1, 10), dt.date(2025, 1, 10), "year", "2025"),
    ],
)
def test_the_tables_period_follows_the_length_of_the_range(first, last, period, label):
    name, _ = page.period_of(first, last)
    assert name == period
    assert page.period_label(name, last) == label


def test_a_long_range_shows_its_tables_by_month(user_client, portfolio, trade):
    days = [dt.date(2024, 10, 1) + dt.timedelta(days=i) for i in range(101)]
    weekdays = [d for d in days if d.weekday() < 5]
    xyz = stock("XYZ", [(d, "10" if d.month < 12 else "12") for d in weekdays], "12")
    trade(xyz, "buy", "2024-10-01", 10, "10")
    record_cash_entry(portfolio=portfolio, kind="deposit", trade_date=D1, amount=D(30))
    html = user_client.get(reverse("portfolios:performance", args=[portfolio.pk])).content.decode()
    count = len(weekdays) + 1  # today's point too
    assert f"(a row per month of the {count} days: its last day, and the money in" in html
    row = (
        '<tr><th scope="row">2024-11</th><td>2024-11-29</td><td class="num">$100.00</td>'
        '<td class="num">$100.00</td><td class="num">$0.00</td><td class="num"></td></tr>'
    )
    assert row in html
    row = (
        '<tr><th scope="row">2025-01</th><td>2025-01-10</td><td class="num">$150.00</td>'
        '<td class="num">$130.00</td><td class="num">+$20.00</td>'
        '<td class="num">+$30.00</td></tr>'
    )
    assert row in html
    assert html.count('<th scope="row">2024-1') == 2 * 3  # the value and underwater tables


def test_a_range_without_days_shows_empty_charts_and_no_rows(user_client, portfolio, trade):
    """A custom range before the first entry: no figures, no drawdown (it was a 500)."""
    xyz = stock("XYZ", [(D1, "10"), (D2, "10"), (D3, "10")], "15")
    trade(xyz, "buy", "2025-01-08", 10, "10")
    url = reverse("portfolios:performance", args=[portfolio.pk])
    html = user_client.get(url, {"start": "2025-01-06", "end": "2025-01-07"}).content.decode()
    assert (
        '<script id="chart-value" type="application/json">{"format": "money", "times": [], '
        '"series": [{"name": "Value", "kind": "area", "values": []}' in html
    )
    assert "<td>2025-01-0" not in html
    assert "Max drawdown</abbr></dt><dd>n/a</dd>" in html
