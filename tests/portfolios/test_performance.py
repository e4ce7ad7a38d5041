"""Worked examples of the value history and returns, with exact answers.

Days: Mon 2025-01-06 (D1) .. Thu 2025-01-09 (D4); "today" is Fri 2025-01-10, priced at the quote.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import escape

from market.models import DailyBar, Dividend, Quote
from portfolios.models import PortfolioDay, Transaction
from portfolios.performance import report as reports
from portfolios.services import record_cash_entry, update_transaction
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory

pytestmark = pytest.mark.django_db

D = Decimal
D1, D2, D3, D4 = (dt.date(2025, 1, 6) + dt.timedelta(days=i) for i in range(4))
TODAY = dt.date(2025, 1, 10)
EPS = D("1e-8")


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2025, 1, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


def stock(symbol, closes, quote, currency="USD"):
    instrument = InstrumentFactory(symbol=symbol, name=symbol, currency=currency)
    for day, close in zip((D1, D2, D3, D4), closes, strict=True):
        DailyBar.objects.create(instrument=instrument, date=day, close=D(close), adj_close=D(close))
    QuoteFactory(instrument=instrument, price=D(quote), previous_close=D(closes[-1]))
    return instrument


def near(value, expected):
    assert value is not None
    assert abs(value - D(expected)) < EPS, f"{value} != {expected}"


def near_rate(value, expected: float):
    """An XIRR (a rate per year, huge over a few days) to 1e-8 or 1e-12 of itself."""
    assert value is not None
    assert abs(float(value) - expected) <= max(1e-8, abs(expected) * 1e-12), (value, expected)


def bisect_xirr(flows):
    """An independent XIRR: bisection on the NPV, sum(c / (1 + r) ** (days / 365))."""

    def npv(rate):
        first = flows[0][0]
        return sum(float(c) / (1 + rate) ** ((d - first).days / 365) for d, c in flows)

    low, high = -0.9999999, 10.0
    while npv(high) > 0:
        high *= 2
    for _ in range(400):
        middle = (low + high) / 2
        if npv(middle) > 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def test_two_buys_and_a_sell_across_a_price_move(portfolio, trade):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    trade(xyz, "buy", "2025-01-07", 10, "12")
    trade(xyz, "sell", "2025-01-08", 5, "11")

    report = reports.portfolio_report(portfolio)

    values = [(p.date, p.value, p.flow, p.net_invested) for p in report.points]
    assert values == [
        (D1, D(100), D(100), D(100)),
        (D2, D(240), D(120), D(220)),
        (D3, D(220), D(0), D(220)),  # 15 shares at 11 and the sale's 55 in cash
        (D4, D(280), D(0), D(220)),
        (TODAY, D(280), D(0), D(220)),
    ]
    figures = report.selected
    near(figures.twr, "0.4")  # 1.2 (10 -> 12) x 220/240 x 280/220
    assert figures.net == D(60)  # 15 shares x (15 - 11 average cost)
    near(figures.average_capital, "190")  # 100 for 4 days of 4, 120 for 3 of 4
    near(figures.net_percent, D(60) / D(190))
    expected = bisect_xirr([(D1, D(-100)), (D2, D(-120)), (TODAY, D(280))])
    near_rate(figures.xirr, expected)
    near(figures.mwr, D(repr((1 + expected) ** (4 / 365) - 1)))
    [row] = report.contributions
    assert (row.symbol, row.pnl, row.currency_pnl, row.share) == ("XYZ", D(60), D(0), D(1))


def test_a_deposit_in_the_middle_of_a_custom_range(portfolio, trade):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    record_cash_entry(portfolio=portfolio, kind="deposit", trade_date=D1, amount=D(1000))
    trade(xyz, "buy", "2025-01-06", 10, "10")
    record_cash_entry(portfolio=portfolio, kind="deposit", trade_date=D3, amount=D(500))

    report = reports.portfolio_report(portfolio, "custom", start=D2, end=D4)

    assert [(p.date, p.value) for p in report.in_range] == [
        (D2, D(1020)),
        (D3, D(1510)),  # 1,400 cash and 10 shares at 11
        (D4, D(1550)),
    ]
    figures = report.selected
    assert (figures.start_value, figures.flows, figures.net) == (D(1000), D(500), D(50))
    near(figures.twr, "0.03675496688741721854304635762")  # 1.02 x 1010/1020 x 1550/1510
    near(figures.average_capital, D(1000) + D(500) / 3)  # the deposit is in for 1 day of 3
    near(figures.net_percent, D(3) / D(70))
    expected = bisect_xirr([(D1, D(-1000)), (D3, D(-500)), (D4, D(1550))])
    near_rate(figures.xirr, expected)
    near(figures.mwr, D(repr((1 + expected) ** (3 / 365) - 1)))


def test_a_dividend_from_the_history_is_paid_into_cash_and_counts_in_the_return(portfolio, trade):
    xyz = stock("XYZ", ["10", "10", "9.5", "10"], "10")
    Dividend.objects.create(instrument=xyz, ex_date=D3, amount=D("0.5"), currency="USD")
    trade(xyz, "buy", "2025-01-06", 10, "10")

    entry = Transaction.objects.get(kind="dividend")
    assert (entry.trade_date, entry.quantity, entry.price, entry.automatic) == (
        D3,
        D(10),
        D("0.5"),
        True,
    )
    assert entry.holding.realized_pnl == D(5)
    report = reports.portfolio_report(portfolio)
    assert [p.value for p in report.points] == [D(100), D(100), D(100), D(105), D(105)]
    near(report.selected.twr, "0.05")
    assert report.selected.net == D(5)

    # Edited (tax withheld), it becomes the user's: later recomputes leave it alone.
    update_transaction(transaction=entry, fee=D(1))
    trade(xyz, "buy", "2025-01-07", 10, "10")
    entry.refresh_from_db()
    assert (entry.quantity, entry.fee, entry.automatic) == (D(10), D(1), False)
    assert reports.portfolio_report(portfolio).selected.net == D(4)


def test_a_dividend_recorded_on_an_ex_date_replaces_the_markets_and_a_second_is_refused(
    user_client, portfolio, trade
):
    xyz = stock("XYZ", ["10", "10", "9.5", "10"], "10")
    Dividend.objects.create(instrument=xyz, ex_date=D3, amount=D("0.5"), currency="USD")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    url = reverse("portfolios:transaction_create", args=[portfolio.pk])
    form = {"symbol": "XYZ", "kind": "dividend", "trade_date": D3.isoformat(), "quantity": "10"}

    response = user_client.post(url, {**form, "price": "0.5", "fee": "0.75", "note": "net"})
    assert response.status_code == 302
    assert list(
        Transaction.objects.filter(kind="dividend").values_list("fee", "automatic", "note")
    ) == [(D("0.75"), False, "net")]

    response = user_client.post(url, {**form, "price": "0.6", "fee": "0"})
    assert response.status_code == 422
    refusal = (
        "A dividend of XYZ on 2025-01-08 is already recorded (10 x 0.5): the ledger holds one "
        "dividend of a holding a day, so edit that one instead."
    )
    assert escape(refusal) in response.content.decode()
    assert Transaction.objects.filter(kind="dividend").count() == 1
    assert portfolio.holdings.get().realized_pnl == D("4.25")


def test_a_split_inside_the_range_does_not_jump(portfolio, trade, split_event):
    xyz = stock("XYZ", ["50", "55", "56", "60"], "60")  # closes on today's (split) basis
    trade(xyz, "buy", "2025-01-06", 10, "100")
    split_event(xyz, "2025-01-08", 2)
    from portfolios.services import apply_splits

    apply_splits(list(xyz.splits.values_list("pk", flat=True)))
    trade(xyz, "sell", "2025-01-09", 5, "58")

    report = reports.portfolio_report(portfolio)
    assert [p.value for p in report.points] == [D(1000), D(1100), D(1120), D(1190), D(1190)]
    near(report.selected.twr, "0.19")
    assert report.selected.net == D(190)
    holding = portfolio.holdings.get()
    assert (holding.quantity, holding.realized_pnl) == (D(15), D(40))


def test_a_eur_portfolio_holding_a_usd_stock_as_the_rate_moves(user):
    portfolio = PortfolioFactory(owner=user, base_currency="EUR", name="Euro")
    xyz = stock("XYZ", ["10", "10", "10", "11"], "11")
    rate = stock("USDEUR=X", ["0.90", "0.90", "0.95", "1.00"], "1.00")
    rate.kind = "fx"
    rate.save()
    from portfolios.services import record_transaction

    record_transaction(
        portfolio=portfolio,
        instrument=xyz,
        kind="buy",
        trade_date=D1,
        quantity=D(10),
        price=D(10),
    )
    report = reports.portfolio_report(portfolio)
    assert [p.value for p in report.points] == [D(90), D(90), D(95), D(110), D(110)]
    assert report.points[0].net_invested == D(90)  # paid at the trade date's rate
    near(report.selected.twr, D(110) / D(90) - 1)
    assert report.selected.net == D(20)
    [row] = report.contributions
    assert (row.pnl, row.currency_pnl) == (D(20), D(10))  # 10 from the price, 10 from the rate
    assert report.currency_pnl == D(10)

    # The holding's cost is what the shares cost in euros on the trade date, not today.
    holding = portfolio.holdings.get()
    assert (holding.cost_basis, holding.base_currency, holding.cost_basis_base) == (
        D(100),
        "EUR",
        D(90),
    )
    from portfolios.selectors import portfolio_positions

    [position] = portfolio_positions(portfolio).rows
    assert (position.cost_basis, position.market_value) == (D(90), D(110))
    assert (position.unrealized_pnl, position.currency_pnl) == (D(20), D(10))


def test_money_arriving_before_a_fall_weighs_the_money_weighted_return_down(portfolio, trade):
    xyz = stock("XYZ", ["10", "20", "10", "10"], "10")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    trade(xyz, "buy", "2025-01-07", 100, "20")

    figures = reports.portfolio_report(portfolio).selected
    near(figures.twr, "0")  # doubled, then halved
    assert figures.net == D(-1000)
    assert figures.mwr < figures.twr
    assert figures.xirr < 0


def test_the_stored_days_are_rebuilt_from_the_first_day_an_edit_touches(portfolio, trade):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    first = trade(xyz, "buy", "2025-01-06", 10, "10")
    trade(xyz, "buy", "2025-01-08", 10, "11")
    reports.portfolio_report(portfolio)
    assert PortfolioDay.objects.filter(portfolio=portfolio).count() == 4
    kept = PortfolioDay.objects.get(portfolio=portfolio, date=D1).pk

    trade(xyz, "sell", "2025-01-09", 5, "15")
    # The new sell drops only D4; D1 to D3 stay stored.
    assert list(
        PortfolioDay.objects.filter(portfolio=portfolio).values_list("date", flat=True)
    ) == [
        D1,
        D2,
        D3,
    ]
    incremental = [p.value for p in reports.portfolio_report(portfolio).points]
    assert PortfolioDay.objects.get(portfolio=portfolio, date=D1).pk == kept

    PortfolioDay.objects.all().delete()
    assert [p.value for p in reports.portfolio_report(portfolio).points] == incremental
    update_transaction(transaction=first, quantity=D(20))
    assert not PortfolioDay.objects.filter(portfolio=portfolio).exists()
    assert reports.portfolio_report(portfolio).points[0].value == D(200)


def test_the_page_shows_every_figure_with_its_explanation_and_the_csvs(
    user_client, portfolio, trade
):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    response = user_client.get(reverse("portfolios:performance", args=[portfolio.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-figure="twr">+50.00%' in html
    assert 'data-figure="net">+$50.00' in html
    for key in ("twr", "mwr", "net", "net_percent"):
        assert f'title="{escape(reports.EXPLAIN[key])}"' in html
        assert (
            f'class="sr-only" id="explain-{key.replace("_", "-")}">{escape(reports.EXPLAIN[key])}'
            in html
        )
    for table in ("history", "returns", "contribution"):
        assert reverse("portfolios:performance_csv", args=[portfolio.pk, table]) in html

    csv = user_client.get(
        reverse("portfolios:performance_csv", args=[portfolio.pk, "history"]), {"range": "max"}
    )
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("date,value,market_value,cash,net_invested,cumulative_pnl")
    assert lines[1].startswith("2025-01-06,100.00000000,")
    contribution = user_client.get(
        reverse("portfolios:performance_csv", args=[portfolio.pk, "contribution"])
    )
    assert (
        "XYZ,XYZ,0.00000000,150.00000000,100.00000000,50.00000000,0.00000000,1,open,USD"
        in contribution.content.decode()
    )
    everything = user_client.get(reverse("portfolios:performance_all"))
    assert 'data-figure="net">+$50.00' in everything.content.decode()


def test_a_deposit_and_a_fee_are_recorded_through_the_transaction_form(user_client, portfolio):
    url = reverse("portfolios:transaction_create", args=[portfolio.pk])
    data = {"kind": "deposit", "trade_date": "2025-01-06", "amount": "250", "note": "salary"}
    assert user_client.post(url, data).status_code == 302
    bad = user_client.post(url, {**data, "kind": "fee", "amount": "-3"})
    assert bad.status_code == 422
    assert "The amount must be more than zero." in bad.content.decode()
    entry = Transaction.objects.get()
    assert (entry.kind, entry.amount, entry.holding, entry.note) == (
        "deposit",
        D(250),
        None,
        "salary",
    )
    page = user_client.get(reverse("portfolios:transactions", args=[portfolio.pk]))
    assert "Deposit" in page.content.decode()
    edit = reverse("portfolios:transaction_edit", args=[portfolio.pk, entry.pk])
    user_client.post(edit, {"kind": "withdrawal", "trade_date": "2025-01-07", "amount": "40"})
    entry.refresh_from_db()
    assert (entry.kind, entry.trade_date, entry.amount) == ("withdrawal", D2, D(40))
    assert Quote.objects.count() == 0


def ledger_of(portfolio, size: int) -> None:
    """`size` buys spread over 250 trading days of two stocks that have daily bars."""
    from portfolios.services import TradeInput, record_transactions

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(370)]
    days = [d for d in days if d.weekday() < 5][:250]
    stocks = [InstrumentFactory(symbol=f"S{portfolio.pk}{i}") for i in range(2)]
    DailyBar.objects.bulk_create(
        DailyBar(instrument=s, date=d, close=D(10 + i % 7), adj_close=D(10 + i % 7))
        for s in stocks
        for i, d in enumerate(days)
    )
    for s in stocks:
        QuoteFactory(instrument=s, price=D(12))
    record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput("buy", days[i * len(days) // size], 1, "10", instrument=stocks[i % 2])
            for i in range(size)
        ],
    )


@pytest.mark.parametrize("name", ["performance", "performance_all"])
def test_the_page_makes_as_many_queries_for_5000_transactions_as_for_50(
    client, django_assert_num_queries, name
):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (50, 5000):
        portfolio = PortfolioFactory()
        ledger_of(portfolio, size)
        client.force_login(portfolio.owner)
        args = [portfolio.pk] if name == "performance" else []
        url = reverse(f"portfolios:{name}", args=args)
        assert client.get(url, {"range": "1y"}).status_code == 200  # builds the days once
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"range": "1y"}).status_code == 200
        cache.clear()  # the stored days and benchmark closes read from the database again
        with CaptureQueriesContext(connection) as uncached:
            assert client.get(url, {"range": "1y"}).status_code == 200
        counts.append((len(queries), len(uncached)))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0][0]):
        client.get(url, {"range": "1y"})


def test_contribution_includes_closed_positions_and_sorts_by_any_column(
    user_client, portfolio, trade
):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    abc = stock("ABC", ["20", "18", "16", "16"], "16")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    trade(abc, "buy", "2025-01-06", 10, "20")
    trade(abc, "sell", "2025-01-08", 10, "16")  # closed, 40 lost
    record_cash_entry(portfolio=portfolio, kind="interest", trade_date=D4, amount=D(5))

    rows = reports.portfolio_report(portfolio).contributions
    assert [(r.symbol, r.pnl, r.is_open) for r in rows] == [
        ("XYZ", D(50), True),
        ("ABC", D(-40), False),
        ("Cash", D(5), False),
    ]
    for row, share in zip(rows, [D(50) / 15, D(-40) / 15, D(5) / 15], strict=True):
        near(row.share, share)

    url = reverse("portfolios:performance", args=[portfolio.pk])
    html = user_client.get(url, {"sort": "symbol"}).content.decode()
    assert html.index('data-symbol="ABC"') < html.index('data-symbol="XYZ"')
    assert html.index('data-symbol="XYZ"') < html.index('data-symbol="Cash"')
    assert "(closed)" in html
    html = user_client.get(url, {"sort": "-pnl"}).content.decode()
    assert html.index('data-symbol="XYZ"') < html.index('data-symbol="ABC"')
    assert user_client.get(url, {"sort": "nonsense"}).status_code == 200


def test_benchmarks_are_rebased_to_the_start_and_a_picked_instrument_joins_them(
    user_client, portfolio, trade
):
    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    stock("BTC-USD", ["100", "110", "90", "120"], "120")
    stock("NVDA", ["10", "11", "12", "13"], "13")
    stock("IREN", ["5", "5", "5", "10"], "10")
    trade(xyz, "buy", "2025-01-06", 10, "10")

    report = reports.portfolio_report(portfolio, "custom", start=D2, end=D4, compare="IREN")
    # Rebased to D1's close, the day before the range.
    assert report.comparison["BTC-USD"] == pytest.approx([0.1, -0.1, 0.2], abs=1e-12)
    assert report.comparison["IREN"] == pytest.approx([0.0, 0.0, 1.0], abs=1e-12)
    assert report.comparison["Portfolio"] == pytest.approx([0.2, 0.1, 0.5], abs=1e-12)
    relation = report.relations["BTC-USD"]
    assert relation.days == 3 and relation.beta is not None
    near(report.drawdown.depth, D(11) / D(12) - 1)
    assert (report.drawdown.peak, report.drawdown.trough, report.drawdown.recovered) == (
        D2,
        D3,
        D4,
    )
    html = user_client.get(
        reverse("portfolios:performance", args=[portfolio.pk]),
        {"start": "2025-01-07", "end": "2025-01-09", "compare": "IREN"},
    ).content.decode()
    assert "Beta to BTC-USD" in html and "Correlation to NVDA" in html
    bad = user_client.get(
        reverse("portfolios:performance", args=[portfolio.pk]),
        {"start": "2025-01-09", "end": "2025-01-07"},
    )
    assert "The end of the range must come after its start." in bad.content.decode()


def test_a_new_base_currency_drops_the_value_history(portfolio, trade):
    from portfolios.services import update_portfolio

    xyz = stock("XYZ", ["10", "12", "11", "15"], "15")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    reports.portfolio_report(portfolio)
    update_portfolio(portfolio=portfolio, name="Main", base_currency="USD")
    assert PortfolioDay.objects.filter(portfolio=portfolio).count() == 4
    update_portfolio(portfolio=portfolio, name="Main", base_currency="EUR")
    assert not PortfolioDay.objects.filter(portfolio=portfolio).exists()
    assert portfolio.holdings.get().base_currency == "EUR"


def test_a_yearly_rate_beyond_28_digits_is_shown_not_an_error(user_client, portfolio, trade):
    """Over four days a 62% gain is an XIRR of about 1.6 x 10^25 a year: written out in full."""
    from portfolios.templatetags.performance_format import return_pct

    xyz = stock("XYZ", ["10", "10", "10", "10"], "17")
    trade(xyz, "buy", "2025-01-06", 10, "10")
    trade(xyz, "buy", "2025-01-08", 10, "11")
    rate = D("15611002813393267000000000.000000000000")
    assert reports.portfolio_report(portfolio).selected.xirr == rate
    assert return_pct(rate) == "+1,561,100,281,339,326,700,000,000,000.00%"
    html = user_client.get(reverse("portfolios:performance", args=[portfolio.pk])).content
    assert "XIRR +1,561,100,281,339,326,700,000,000,000.00% a year" in html.decode()
