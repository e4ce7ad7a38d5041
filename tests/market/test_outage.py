"""When the provider cannot be reached: the plain sentence, the backoff, and what the dashboard,
a miner page and /status/ show before any price has been loaded."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import time_machine

from market import outage
from market.models import RefreshRun
from market.providers import ProviderUnavailable
from market.services import refresh_quotes
from tests.factories import InstrumentFactory, MinerFactory
from tests.market.fake_provider import FakeProvider

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
DNS_ERROR = (
    "ProviderUnavailable: Yahoo did not answer: DNSError: Failed to perform, curl: (6) Could not"
    " resolve host: query1.finance.yahoo.com (Domain name not found). See https://curl.se/libcurl"
    "/c/libcurl-errors.html first for more details."
)


class DownProvider(FakeProvider):
    name = "yahoo"

    def fetch_quotes(self, symbols):
        raise ProviderUnavailable(DNS_ERROR.removeprefix("ProviderUnavailable: "))


def test_plain_reason_names_the_host_and_never_cuts_a_word():
    assert outage.plain_reason(DNS_ERROR) == (
        "Yahoo Finance could not be reached: the host query1.finance.yahoo.com was not found"
        " (is this machine offline?)"
    )
    assert outage.plain_reason("ProviderUnavailable: Yahoo answered HTTP 503") == (
        "Yahoo Finance answered with an error (HTTP 503)"
    )
    assert outage.plain_reason("OSError: read timed out") == "Yahoo Finance did not answer in time"
    long = "ProviderUnavailable: " + "word " * 60
    reason = outage.plain_reason(long)
    assert reason.endswith("word…") and len(reason) <= 161


def test_an_unresolvable_host_backs_off_1_2_4_minutes_up_to_30():
    waits = [outage.backoff_for(n) for n in range(1, 9)]
    assert [int(w.total_seconds() // 60) for w in waits] == [1, 2, 4, 8, 16, 30, 30, 30]


@pytest.mark.django_db
def test_failed_runs_log_one_line_each_and_a_summary_then_back_off(caplog):
    InstrumentFactory(symbol="IREN")
    with caplog.at_level(logging.INFO, logger="market.outage"):
        with time_machine.travel(NOW, tick=False), pytest.raises(ProviderUnavailable):
            refresh_quotes(provider=DownProvider(), force=True)
        # Within the minute of backoff the provider is not called: the run is skipped.
        with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
            skipped = refresh_quotes(provider=DownProvider(), force=True)
        later = NOW + dt.timedelta(seconds=61)
        with time_machine.travel(later, tick=False), pytest.raises(ProviderUnavailable):
            refresh_quotes(provider=DownProvider(), force=True)
    assert skipped.status == RefreshRun.Status.SKIPPED
    assert "yahoo is not called again before 15:01:00 UTC" in skipped.error_text
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "quotes refresh failed: Yahoo Finance could not be reached: the host"
        " query1.finance.yahoo.com was not found (is this machine offline?); next try after"
        " 15:01 UTC",
        "Yahoo Finance has failed 1 run(s) in a row since 2026-03-10 15:00 UTC; pages show dashes"
        " for prices never loaded. To see Minerwatch with simulated prices:"
        " MARKET_DATA_PROVIDER=simulated make run",
        "quotes refresh failed: Yahoo Finance could not be reached: the host"
        " query1.finance.yahoo.com was not found (is this machine offline?); next try after"
        " 15:03 UTC",
    ]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.fixture
def never_priced(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    MinerFactory(instrument=instrument, segment="pivot")
    with time_machine.travel(NOW, tick=False), pytest.raises(ProviderUnavailable):
        refresh_quotes(provider=DownProvider(), force=True)
    return instrument


def _text(html: str) -> str:
    spaced = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return re.sub(r" ([;.,])", r"\1", spaced)


def test_the_dashboard_says_what_failed_since_when_and_how_to_run_the_demo(client, never_priced):
    with time_machine.travel(NOW + dt.timedelta(seconds=20), tick=False):
        html = client.get("/").content.decode()
    text = _text(html)
    assert (
        "Yahoo Finance could not be reached: the host query1.finance.yahoo.com was not found"
        " (is this machine offline?). Quotes refreshes have failed since 11:00 ET; the next try"
        " is at 11:01 ET." in text
    )
    assert "No prices have been loaded yet" in text
    assert "MARKET_DATA_PROVIDER=simulated make run" in text
    assert "Showing the last good prices" not in text
    assert "first for more det" not in text
    # Unknown values are dashes, never $0 or a bare "%".
    assert "$0" not in text and "()" not in text and " % " not in text
    assert "Miners' market cap — No prices yet" in text


def test_status_and_the_miner_page_without_prices(client, never_priced):
    with time_machine.travel(NOW + dt.timedelta(seconds=20), tick=False):
        status = _text(client.get("/status/").content.decode())
        miner = _text(client.get("/miners/IREN/").content.decode())
    assert "Quotes refreshes have failed since 11:00 ET" in status
    assert "MARKET_DATA_PROVIDER=simulated make run" in status
    assert "— No quote yet." in miner


def test_status_keeps_the_notice_while_runs_are_skipped_by_the_backoff(client, never_priced):
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        skipped = refresh_quotes(provider=DownProvider(), force=True)
        assert skipped.status == RefreshRun.Status.SKIPPED
        status = _text(client.get("/status/").content.decode())
        dashboard = _text(client.get("/").content.decode())
    assert "Quotes refreshes have failed since 11:00 ET" in status
    assert "Quotes refreshes have failed since 11:00 ET" in dashboard
