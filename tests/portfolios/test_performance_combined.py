"""All portfolios as one report across currencies: a worked example with exact answers.

Days: Mon 2025-01-06 (D1) .. Thu 2025-01-09 (D4); "today" is Fri 2025-01-10, priced at the quotes.
A USD portfolio holds XYZ; a EUR portfolio holds SAP (in euros, at a flat 10), brings 50 EUR of
cash in on D2, spends it on D3's buy (with 50 more of new money) and earns 10 EUR of interest on
D4. The report is in USD, with EURUSD at 1.00, 1.10, 1.20, 1.25 and 1.30 today.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from market.models import DailyBar
from portfolios.performance import combined
from portfolios.performance.history import CTX
from portfolios.services import record_cash_entry, record_transaction
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory

pytestmark = pytest.mark.django_db

D = Decimal
D1, D2, D3, D4 = (dt.date(2025, 1, 6) + dt.timedelta(days=i) for i in range(4))
TODAY = dt.date(2025, 1, 10)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(dt.datetime(2025, 1, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        yield


def stock(symbol, closes, quote, currency="USD", kind="equity"):
    instrument = InstrumentFactory(symbol=symbol, name=symbol, currency=currency, kind=kind)
    for day, close in zip((D1, D2, D3, D4), closes, strict=True):
        DailyBar.objects.create(instrument=instrument, date=day, close=D(close), adj_close=D(close))
    QuoteFactory(instrument=instrument, price=D(quote), previous_close=D(closes[-1]))
    return instrument


@pytest.fixture
def two_currencies(user):
    xyz = stock("XYZ", ["10", "11", "12", "12"], "13")
    sap = stock("SAP", ["10", "10", "10", "10"], "10", currency="EUR")
    stock("EURUSD=X", ["1.00", "1.10", "1.20", "1.25"], "1.30", kind="fx")
    dollars = PortfolioFactory(owner=user, name="Dollars")
    euros = PortfolioFactory(owner=user, name="Euros", base_currency="EUR")
    buy = {"kind": "buy", "quantity": D(10), "price": D(10)}
    record_transaction(portfolio=dollars, instrument=xyz, trade_date=D1, **buy)
    record_transaction(portfolio=euros, instrument=sap, trade_date=D1, **buy)
    record_cash_entry(portfolio=euros, kind="deposit", trade_date=D2, amount=D(50))
    record_transaction(portfolio=euros, instrument=sap, trade_date=D3, **buy)
    record_cash_entry(portfolio=euros, kind="interest", trade_date=D4, amount=D(10))
    return user


def rows(report):
    return [
        (r.symbol, r.start_value, r.end_value, r.net_flow, r.pnl, r.currency_pnl)
        for r in report.contributions
    ]


def test_each_portfolio_converts_at_each_days_rate_and_the_rows_add_up(two_currencies):
    report = combined.user_report(two_currencies)

    assert report.currency == "USD"
    # EUR 100, 150, 200 (20 SAP at 10, the cash spent), 210 (and the interest) at the day's rate,
    # plus 10 XYZ.
    assert [(p.date, p.value, p.flow) for p in report.points] == [
        (D1, D(200), D(200)),  # 100 EUR at 1.00 and $100 of new money each
        (D2, D(275), D(55)),  # the 50 EUR deposit at 1.10
        (D3, D(360), D(60)),  # the buy's 50 EUR of new money at 1.20
        (D4, D("382.5"), D(0)),
        (TODAY, D(403), D(0)),
    ]
    assert report.selected.net == D(88)  # 403 - 315 brought in
    # SAP: 200 EUR at 1.30 less 100 EUR put in at 1.00 and 100 EUR at 1.20; all currency, as the
    # price did not move. The cash: 10 EUR of interest at D4's 1.25, plus what the rate did to
    # the cash held (50 EUR from 1.10 to 1.20, 10 EUR from 1.25 to 1.30): 5.5.
    assert rows(report) == [
        ("SAP", D(0), D(260), D(220), D(40), D(40)),
        ("XYZ", D(0), D(130), D(100), D(30), D(0)),
        ("Cash", D(0), D(0), D(0), D(18), D("5.5")),
    ]
    assert sum(r.pnl for r in report.contributions) == report.selected.net
    assert [r.share for r in report.contributions] == [
        CTX.divide(D(n), D(88)) for n in (40, 30, 18)
    ]
    assert report.contributions[-1].name == "Interest less fees, and exchange rates"


def test_a_range_starts_from_each_portfolios_values_at_its_start(two_currencies):
    report = combined.user_report(two_currencies, "custom", start=D2, end=D4)

    assert report.selected.net == D("67.5")  # 382.5 - 200 - 115 brought in
    assert rows(report) == [
        ("SAP", D(100), D(250), D(120), D(30), D(30)),
        ("XYZ", D(100), D(120), D(0), D(20), D(0)),
        ("Cash", D(0), D(0), D(0), D("17.5"), D(5)),
    ]
    assert sum(r.pnl for r in report.contributions) == report.selected.net


def test_the_page_and_csv_show_the_converted_contribution(user_client, two_currencies):
    html = user_client.get(reverse("portfolios:performance_all")).content.decode()
    assert 'data-figure="net">+$88.00' in html
    assert '<tr data-symbol="SAP"><th scope="row">SAP</th>' in html
    assert '<td class="num up" data-value="40.00000000">+$40.00</td>' in html
    csv = user_client.get(reverse("portfolios:performance_all_csv", args=["contribution"]))
    lines = csv.content.decode().splitlines()
    assert lines[1:] == [
        "SAP,SAP,0.00000000,260.00000000,220.00000000,40.00000000,40.00000000,"
        f"{CTX.divide(D(40), D(88))},open,USD",
        "XYZ,XYZ,0.00000000,130.00000000,100.00000000,30.00000000,0.00000000,"
        f"{CTX.divide(D(30), D(88))},open,USD",
        'Cash,"Interest less fees, and exchange rates",0,0,0,18.00000000,5.50000000,'
        f"{CTX.divide(D(18), D(88))},closed,USD",
    ]
