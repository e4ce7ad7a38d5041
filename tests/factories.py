"""factory_boy factories for the models of every app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from market.models import DailyBar, Instrument, Miner, Quote
from portfolios.models import Portfolio, Watchlist


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Corp")
    kind = Instrument.Kind.EQUITY
    exchange = "NASDAQ"
    currency = "USD"
    shares_outstanding = 100_000_000


class MinerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Miner

    instrument = factory.SubFactory(InstrumentFactory)
    segment = Miner.Segment.MINER
    country = "US"
    hashrate_eh = Decimal("10")
    hashrate_as_of = "2025-09-30"


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    instrument = factory.SubFactory(InstrumentFactory)
    price = Decimal("10.00")
    previous_close = Decimal("9.50")
    change = factory.LazyAttribute(lambda o: o.price - o.previous_close)
    change_percent = factory.LazyAttribute(
        lambda o: ((o.price - o.previous_close) / o.previous_close * 100).quantize(
            Decimal("0.0001")
        )
    )
    market_state = "regular"
    volume = 1_000_000
    shares_outstanding = 100_000_000
    market_cap = factory.LazyAttribute(lambda o: o.price * o.shares_outstanding)
    currency = "USD"
    fetched_at = factory.LazyFunction(timezone.now)
    source = "simulated"


class DailyBarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyBar

    instrument = factory.SubFactory(InstrumentFactory)
    date = factory.Sequence(lambda n: dt.date(2025, 1, 2) + dt.timedelta(days=n))
    open = Decimal("10")
    high = Decimal("11")
    low = Decimal("9")
    close = Decimal("10")
    adj_close = Decimal("10")
    volume = 1000


class WatchlistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Watchlist

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Watchlist {n}")


class PortfolioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portfolio

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Portfolio {n}")
