"""/status/: refresh runs with their status, counts, timings and last error; each quote's age."""

from datetime import timedelta

import pytest
from django.utils import timezone

from market.models import RefreshRun
from market.status import pipeline_status
from tests.factories import InstrumentFactory, QuoteFactory

pytestmark = pytest.mark.django_db


def make_run(*, minutes_ago: int, **fields) -> RefreshRun:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    defaults = {
        "kind": RefreshRun.Kind.QUOTES,
        "status": RefreshRun.Status.OK,
        "provider": "simulated",
        "started_at": started,
        "finished_at": started + timedelta(milliseconds=840),
        "duration_ms": 840,
        "requested_count": 23,
        "stored_count": 23,
    }
    return RefreshRun.objects.create(**{**defaults, **fields})


def test_shows_runs_with_status_counts_timings_and_the_last_error(client):
    make_run(minutes_ago=30, duration_ms=812)
    make_run(
        minutes_ago=20,
        status=RefreshRun.Status.PARTIAL,
        stored_count=21,
        error_count=2,
        error_text="2 symbols failed",
        errors={"ZZZZ": "UnknownSymbol: ZZZZ", "HIVE": "MalformedData: price is NaN"},
    )
    make_run(minutes_ago=10, kind=RefreshRun.Kind.BARS, duration_ms=4321, requested_count=5)

    response = client.get("/status/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<tr class="run-') == 3
    assert "Partial" in html and "Daily bars" in html
    assert ">812<" in html and ">4321<" in html
    assert ">21<" in html  # stored count of the partial run
    # The last error section names the run and each symbol's reason.
    assert "2 symbols failed" in html
    assert "UnknownSymbol: ZZZZ" in html
    assert "MalformedData: price is NaN" in html


def test_no_runs_and_no_errors_say_so(client):
    html = client.get("/status/").content.decode()
    assert "No refresh has run yet." in html
    assert "No refresh has reported an error." in html


def test_a_failed_latest_refresh_is_flagged(client):
    make_run(minutes_ago=5)
    make_run(
        minutes_ago=1,
        status=RefreshRun.Status.FAILED,
        stored_count=0,
        provider="yahoo",
        error_text="ProviderUnavailable: timed out",
    )
    html = client.get("/status/").content.decode()
    assert 'role="alert"' in html
    assert "Yahoo Finance did not answer in time.</strong> Quotes refreshes have failed" in html
    assert "MARKET_DATA_PROVIDER=simulated make run" in html


def test_quote_ages_oldest_first_and_stale_ones_marked(client, settings):
    settings.CLOSED_MARKET_REFRESH_MINUTES = 60  # stale after 120 minutes
    now = timezone.now()
    fresh = InstrumentFactory(symbol="FRESH")
    QuoteFactory(instrument=fresh, fetched_at=now - timedelta(minutes=2))
    QuoteFactory(instrument=InstrumentFactory(symbol="OLD"), fetched_at=now - timedelta(hours=5))
    InstrumentFactory(symbol="NOQUOTE")
    InstrumentFactory(symbol="GONE", is_active=False)

    status = pipeline_status(now=now)

    assert [row.instrument.symbol for row in status.quote_ages] == ["NOQUOTE", "OLD", "FRESH"]
    assert [row.is_stale for row in status.quote_ages] == [True, True, False]
    assert status.quote_ages[1].age == timedelta(hours=5)
    assert status.stale_count == 2

    html = client.get("/status/").content.decode()
    assert html.index(">NOQUOTE<") < html.index(">OLD<") < html.index(">FRESH<")
    assert "GONE" not in html
    assert "2 of 3" in html
    assert "5\xa0hours" in html  # the age of OLD, as timesince writes it


def test_query_count_does_not_grow_with_instruments(client, django_assert_num_queries):
    for n in range(3):
        QuoteFactory(instrument=InstrumentFactory(symbol=f"A{n}"))
    make_run(minutes_ago=1)
    with django_assert_num_queries(5) as few:
        client.get("/status/")
    for n in range(40):
        QuoteFactory(instrument=InstrumentFactory(symbol=f"B{n}"))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/status/")


def test_htmx_request_gets_only_the_panel(client):
    make_run(minutes_ago=1)
    response = client.get("/status/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="status-panel"')
    assert "<html" not in html
    assert 'hx-trigger="every 30s"' in html
