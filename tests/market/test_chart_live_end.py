"""Charts end at the live price, and 1D/1W right after a start draw from the daily closes
there are instead of a flat line over a few minutes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from market.models import PriceSnapshot
from tests.factories import DailyBarFactory, InstrumentFactory, MinerFactory, QuoteFactory

D = Decimal
pytestmark = pytest.mark.django_db
# Tuesday 10 March 2026, 11:00 in New York.
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def iren(db):
    """Closes of 10, 11, 12 on Thursday 5, Friday 6 and Monday 9 March, and a bar for today
    written during the day (57.21) that the live price (57.85) has moved on from."""
    instrument = InstrumentFactory(symbol="IREN", shares_outstanding=1_000_000_000)
    MinerFactory(instrument=instrument, segment="pivot")
    for day, close in (
        (dt.date(2026, 3, 5), "10"),
        (dt.date(2026, 3, 6), "11"),
        (dt.date(2026, 3, 9), "12"),
        (TODAY, "57.21"),
    ):
        DailyBarFactory(instrument=instrument, date=day, close=D(close), adj_close=D(close))
    QuoteFactory(
        instrument=instrument,
        price=D("57.85"),
        previous_close=D("12"),
        shares_outstanding=1_000_000_000,
        fetched_at=NOW,
        provider_time=NOW,
    )
    return instrument


def test_a_miner_chart_ends_at_the_live_price(client, iren):
    payload = client.get("/miners/IREN/bars.json", {"range": "1M"}).json()
    assert [(p["time"], p["value"]) for p in payload["points"]] == [
        ("2026-03-05", 10.0),
        ("2026-03-06", 11.0),
        ("2026-03-09", 12.0),
        ("2026-03-10", 57.85),
    ]


def test_the_sector_chart_ends_at_the_live_total(client, iren):
    payload = client.get("/sector/history.json", {"range": "1M"}).json()
    assert payload["points"][-1]["time"] == "2026-03-10"
    assert payload["points"][-1]["value"] == pytest.approx(57.85e9)


def test_1d_right_after_a_start_runs_from_the_last_close(client, iren):
    PriceSnapshot.objects.create(
        instrument=iren, taken_at=NOW, price=D("57.85"), market_cap=D("57.85") * 10**9
    )
    day = client.get("/sector/history.json", {"range": "1D"}).json()["points"]
    # Monday's close at 16:00 ET, then the one refresh there is (11:00 ET, as wall time).
    assert [(p["at"], p["value"]) for p in day] == [
        ("2026-03-09T16:00:00-04:00", pytest.approx(12e9)),
        ("2026-03-10T15:00:00+00:00", pytest.approx(57.85e9)),
    ]
    week = client.get("/sector/history.json", {"range": "1W"}).json()["points"]
    assert [p["value"] for p in week] == pytest.approx([10e9, 11e9, 12e9, 57.85e9])
    assert len({p["time"] for p in week}) == 4
