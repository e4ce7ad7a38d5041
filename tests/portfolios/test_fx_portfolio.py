"""A portfolio in another currency: creating it fetches the USD rate into it at once, and until
the rate is there the values are dashes and the page names the missing rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from market.models import Instrument, Quote
from portfolios.models import Portfolio
from portfolios.services import record_transaction
from tests.factories import InstrumentFactory, QuoteFactory

pytestmark = pytest.mark.django_db
D = Decimal


def test_creating_a_euro_portfolio_fetches_the_rate_at_once(
    user_client, user, settings, django_capture_on_commit_callbacks
):
    from config.celery import app

    settings.MARKET_DATA_PROVIDER = "simulated"
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = user_client.post(
                "/portfolios/new/", {"name": "Euro", "base_currency": "EUR"}
            )
    finally:
        app.conf.task_always_eager = False
    portfolio = Portfolio.objects.get(owner=user)
    assert response["Location"] == f"/portfolios/{portfolio.pk}/"
    rate = Instrument.objects.get(symbol="USDEUR=X")
    assert rate.kind == "fx"
    quote = Quote.objects.get(instrument=rate)
    assert quote.price > 0 and quote.source == "simulated"


def test_a_usd_portfolio_needs_no_rate(user_client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user_client.post("/portfolios/new/", {"name": "Dollars", "base_currency": "USD"})
    assert not Instrument.objects.filter(kind="fx").exists()
    assert not [c for c in callbacks if "fetch_fx_rates" in repr(c)]


def test_until_the_rate_arrives_values_are_dashes_and_the_rate_is_named(user_client, user):
    iren = InstrumentFactory(symbol="IREN", currency="USD")
    QuoteFactory(instrument=iren, price=D("40"), previous_close=D("38"))
    portfolio = Portfolio.objects.create(owner=user, name="Euro", base_currency="EUR")
    record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=dt.date(2025, 3, 3),
        quantity=D("10"),
        price=D("30"),
    )
    page = user_client.get(f"/portfolios/{portfolio.pk}/").content.decode()
    assert "Waiting for the USD → EUR (USDEUR=X) exchange rate" in page
    assert "€0.00" not in page and "No price yet" not in page
    assert "$40.00" in page  # the price itself is known and shown
    index = user_client.get("/portfolios/").content.decode()
    assert "waiting for the USD → EUR (USDEUR=X) rate" in index

    QuoteFactory(instrument=Instrument.objects.get(symbol="USDEUR=X"), price=D("0.90"))
    page = user_client.get(f"/portfolios/{portfolio.pk}/").content.decode()
    assert "Waiting for" not in page
    assert "€360.00" in page  # 10 x 40 x 0.90
