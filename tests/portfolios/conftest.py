"""Fixtures for the portfolios tests: instruments with quotes, and a way to record trades."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from market.models import SplitEvent
from portfolios.services import record_transaction
from tests.factories import InstrumentFactory, MinerFactory, PortfolioFactory, QuoteFactory

D = Decimal


@pytest.fixture(autouse=True)
def _simulated_provider(settings, monkeypatch):
    """Symbols are looked up in the simulated provider (never Yahoo). Here it stands for a vendor
    that knows every well-formed symbol except those starting with "ZZ" (the demo's own market
    prices only the universe: tests/market/test_simulated_market.py)."""
    settings.MARKET_DATA_PROVIDER = "simulated"
    monkeypatch.setattr(
        "market.providers.simulated_market.is_priced", lambda symbol: not symbol.startswith("ZZ")
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made by the hundred here; the production hasher costs a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def portfolio(user):
    return PortfolioFactory(owner=user, name="Main")


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    MinerFactory(instrument=instrument, segment="pivot", country="AU")
    QuoteFactory(instrument=instrument, price=D("40.00"), previous_close=D("38.00"))
    return instrument


@pytest.fixture
def clsk(db):
    instrument = InstrumentFactory(symbol="CLSK", name="CleanSpark")
    MinerFactory(instrument=instrument, segment="miner", country="US")
    QuoteFactory(instrument=instrument, price=D("12.00"), previous_close=D("12.50"))
    return instrument


@pytest.fixture
def trade(portfolio):
    """record(instrument, kind, "2025-01-10", qty, price, fee=0) on the `portfolio` fixture."""

    def record(instrument, kind, day, quantity, price, fee="0", note="", into=None):
        return record_transaction(
            portfolio=into or portfolio,
            instrument=instrument,
            kind=kind,
            trade_date=dt.date.fromisoformat(day),
            quantity=D(str(quantity)),
            price=D(str(price)),
            fee=D(str(fee)),
            note=note,
        )

    return record


@pytest.fixture
def split_event(db):
    def make(instrument, day, ratio):
        return SplitEvent.objects.create(
            instrument=instrument, date=dt.date.fromisoformat(day), ratio=D(str(ratio))
        )

    return make


@pytest.fixture
def eager_tasks():
    """Celery tasks queued during the test run at once, in the test's process and database."""
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
