"""Cached computations and dashboard fragments follow the version tokens: an edit through the
ORM (what the admin does) or the end of a run shows on the next request, and a token missing
from the cache never lets an old value through. Run on a local-memory cache, and on the real
Redis with the redis marker."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal as D

import pytest
import time_machine

from config import versions
from market.models import DailyBar, Instrument, RefreshRun, SplitEvent
from market.selectors import cached_on_token
from tests.factories import DailyBarFactory, QuoteFactory

pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026, 11:00 in New York (regular session).
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
LAST_YEAR_END = dt.date(2025, 12, 31)


@pytest.fixture(
    params=[
        "locmem",
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def shared_cache(request, settings):
    """The default cache: a local-memory one, or the project's Redis backend on REDIS_URL."""
    if request.param == "redis":
        from config import settings as project_settings

        configured = project_settings.CACHES["default"]
        settings.CACHES = {
            "default": {
                **configured,
                "LOCATION": os.environ["REDIS_URL"],
                "KEY_PREFIX": f"test-freshness-{uuid.uuid4().hex[:8]}",
            }
        }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def riot(universe):
    """RIOT from the shipped universe, priced at 20 and at 10 at the end of last year."""
    instrument = Instrument.objects.get(symbol="RIOT")
    QuoteFactory(
        instrument=instrument,
        price=D("20"),
        previous_close=D("19"),
        shares_outstanding=300_000_000,
        fetched_at=NOW - dt.timedelta(minutes=1),
    )
    DailyBarFactory(instrument=instrument, date=LAST_YEAR_END, close=D("10"), adj_close=D("10"))
    return instrument


def riot_row(client, **headers) -> str:
    html = client.get("/", headers=headers).content.decode()
    start = html.index('<th scope="row"><a href="/miners/RIOT/">')
    return html[start:].split("</tr>")[0]


def test_a_same_length_rename_shows_on_the_next_dashboard_request(client, riot, shared_cache):
    assert '<td class="name">Riot Platforms</td>' in riot_row(client)
    riot.name = "Riot Platformz"  # what the admin's change form saves
    riot.save()
    assert '<td class="name">Riot Platformz</td>' in riot_row(client)
    rows = riot_row(client, HX_Request="true", HX_Target="miner-rows")
    assert '<td class="name">Riot Platformz</td>' in rows


def test_a_saved_daily_bar_changes_the_statistics(client, riot, shared_cache):
    assert "+100.0%" in riot_row(client)  # YTD: 20 against 10
    bar = DailyBar.objects.get(instrument=riot, date=LAST_YEAR_END)
    bar.adj_close = D("5")
    bar.save()
    assert "+300.0%" in riot_row(client)
    bar.delete()
    assert "+300.0%" not in riot_row(client) and "+100.0%" not in riot_row(client)


def test_a_saved_split_changes_the_statistics(client, riot, shared_cache):
    assert "+100.0%" in riot_row(client)
    # A history re-fetched after a split is a bulk write: no receiver sees it, and the cached
    # statistics stay (that is what the cache is for)...
    DailyBar.objects.filter(instrument=riot).update(adj_close=D("4"))
    assert "+100.0%" in riot_row(client)
    # ...until the split is stored (or the bars run ends): the next request recomputes.
    SplitEvent.objects.create(instrument=riot, date=dt.date(2026, 2, 2), ratio=D("2.5"))
    assert "+400.0%" in riot_row(client)


def test_a_bars_run_that_stored_something_renews_the_statistics(client, riot, shared_cache):
    assert "+100.0%" in riot_row(client)
    DailyBar.objects.filter(instrument=riot).update(adj_close=D("8"))
    RefreshRun.objects.create(
        kind=RefreshRun.Kind.BARS,
        status=RefreshRun.Status.OK,
        provider="simulated",
        started_at=NOW,
        finished_at=NOW,
        requested_count=1,
        stored_count=1,
    )
    assert "+150.0%" in riot_row(client)


def test_a_bars_run_that_stored_nothing_keeps_the_statistics(client, riot, shared_cache):
    riot_row(client)
    bars = shared_cache.get(versions.BARS)
    RefreshRun.objects.create(
        kind=RefreshRun.Kind.BARS,
        status=RefreshRun.Status.OK,
        provider="simulated",
        started_at=NOW,
        finished_at=NOW,
        requested_count=1,
    )
    assert shared_cache.get(versions.BARS) == bars


def test_a_cleared_cache_recomputes_and_never_serves_the_old_value(client, riot, shared_cache):
    assert '<td class="name">Riot Platforms</td>' in riot_row(client)
    assert "+100.0%" in riot_row(client)
    # Writes no receiver saw (made while the cache was away, say), then the cache is emptied:
    # the tokens start again from new values, so nothing computed before is found.
    Instrument.objects.filter(pk=riot.pk).update(name="Riot Platformz")
    DailyBar.objects.filter(instrument=riot).update(adj_close=D("5"))
    shared_cache.clear()
    row = riot_row(client)
    assert '<td class="name">Riot Platformz</td>' in row and "+300.0%" in row


def test_a_token_the_cache_did_not_answer_is_computed_and_not_stored(shared_cache):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert cached_on_token("", "example", ("a",), compute, 60) == 1
    assert cached_on_token("", "example", ("a",), compute, 60) == 2
    assert cached_on_token("t1", "example", ("a",), compute, 60) == 3
    assert cached_on_token("t1", "example", ("a",), compute, 60) == 3
    assert cached_on_token("t2", "example", ("a",), compute, 60) == 4
