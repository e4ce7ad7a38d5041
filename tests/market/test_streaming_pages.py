"""What pages get from the live stream: the element that opens it, the private part only for its
owner, alerts on ticks, the simulated stream and the stream's state on /status/."""

from __future__ import annotations

import asyncio
import datetime as dt
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import AsyncClient
from django.utils import timezone

from market.models import Feed, Quote
from market.providers.ticks import Tick
from market.streaming.simulated import SimulatedStream
from market.streaming.state import StateRecorder
from market.streaming.store import write_ticks
from portfolios.models import Notification, PriceAlert
from portfolios.services import record_transaction
from tests.factories import (
    InstrumentFactory,
    MinerFactory,
    PortfolioFactory,
    QuoteFactory,
    WatchlistFactory,
)


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    MinerFactory(instrument=instrument, segment="pivot")
    QuoteFactory(instrument=instrument, price=Decimal("39.00"), previous_close=Decimal("38.00"))
    return instrument


@pytest.mark.django_db
def test_the_dashboard_opens_one_stream_for_the_symbols_it_shows(client, iren):
    html = client.get("/").content.decode()
    assert html.count('hx-ext="sse"') == 1
    assert 'sse-connect="/stream/?s=IREN&amp;v=row"' in html
    assert 'data-live="IREN price"' in html and "data-live-poll" in html


@pytest.mark.django_db
def test_without_a_stream_url_pages_poll_as_before(client, iren, settings):
    settings.LIVE_STREAM_URL = ""
    html = client.get("/").content.decode()
    assert "sse-connect" not in html
    assert 'hx-trigger="every 30s"' in html


@pytest.mark.django_db
def test_watchlists_and_miner_pages_stream_their_symbols(user_client, user, iren):
    watchlist = WatchlistFactory(owner=user)
    watchlist.items.create(instrument=iren)
    html = user_client.get(f"/watchlists/{watchlist.pk}/").content.decode()
    assert 'sse-connect="/stream/?s=IREN&amp;v=row-asof"' in html
    assert 'data-live="IREN asof"' in html
    html = user_client.get("/miners/IREN/").content.decode()
    assert 'sse-connect="/stream/?s=IREN&amp;v=headline"' in html
    assert 'data-live="IREN headline"' in html


@pytest.mark.django_db(transaction=True)
def test_a_portfolio_stream_is_private_to_its_owner(user, other_user, iren):
    portfolio = PortfolioFactory(owner=user)
    record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=dt.date(2026, 3, 6),
        quantity=Decimal("10"),
        price=Decimal("30"),
    )
    url = f"/stream/?s=&portfolio={portfolio.pk}"

    async def get(who):
        client = AsyncClient()
        if who is not None:
            await client.aforce_login(who)
        response = await client.get(url)
        if response.status_code != 200:
            return response.status_code, ""
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        snapshot = (await anext(chunks)).decode()
        return response.status_code, snapshot

    assert asyncio.run(get(None)) == (404, "")
    assert asyncio.run(get(other_user)) == (404, "")
    status, snapshot = asyncio.run(get(user))
    assert status == 200
    assert '<div id="portfolio-live" hx-swap-oob="true"' in snapshot
    assert "$390.00" in snapshot  # 10 shares at $39.00


@pytest.fixture
def alerts_queued_at_once(settings):
    """The streamed instruments' alert evaluation, queued when the test says (flush) and run
    in the test (an eager task) instead of by a worker a second later."""
    from config.celery import app
    from portfolios.streamed_alerts import streamed_alerts

    streamed_alerts.stop()  # no thread of an earlier test flushes meanwhile
    settings.ALERT_STREAM_EVALUATION_SECONDS = 3600
    app.conf.task_always_eager = True
    try:
        yield streamed_alerts
    finally:
        app.conf.task_always_eager = False
        streamed_alerts.stop()


@pytest.mark.django_db
def test_alerts_on_streamed_ticks_are_queued_and_fire_once_per_crossing(
    user, iren, django_capture_on_commit_callbacks, alerts_queued_at_once
):
    PriceAlert.objects.create(
        owner=user, instrument=iren, condition="above", threshold=Decimal("40")
    )
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        write_ticks([Tick("IREN", Decimal("39.50"), now, "regular")], source="yahoo")
    assert alerts_queued_at_once.flush() == [iren.pk]
    assert Notification.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        write_ticks(
            [Tick("IREN", Decimal("40.25"), now + timedelta(seconds=1), "regular")], source="yahoo"
        )
    # The write only noted the instrument: the evaluation is queued off the stream's path.
    assert Notification.objects.count() == 0
    assert alerts_queued_at_once.flush() == [iren.pk]
    with django_capture_on_commit_callbacks(execute=True):
        write_ticks(
            [Tick("IREN", Decimal("40.50"), now + timedelta(seconds=2), "regular")], source="yahoo"
        )
    assert alerts_queued_at_once.flush() == [iren.pk]
    assert alerts_queued_at_once.flush() == []  # nothing new streamed: nothing queued
    assert list(Notification.objects.values_list("text", flat=True)) == [
        "IREN traded at $40.25, above your $40.00 alert."
    ]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_simulated_provider_streams_ticks_around_its_walk(iren, settings):
    settings.SIMULATED_ALWAYS_OPEN = True
    stream = SimulatedStream(StateRecorder("simulated"), seed=7)
    ticks = [tick for _ in range(4) for tick in stream._round()]
    assert ticks and {tick.symbol for tick in ticks} == {"IREN"}
    assert all(tick.session == "regular" and tick.price > 0 for tick in ticks)
    result = write_ticks(ticks[:1], source="simulated")
    quote = Quote.objects.get(instrument=iren)
    assert (quote.feed, quote.price) == (Feed.STREAM, ticks[0].price)
    assert result.written[0]["symbol"] == "IREN"


@pytest.mark.django_db
def test_status_shows_the_stream_state_and_the_age_of_streamed_prices(client, iren):
    recorder = StateRecorder("yahoo")
    recorder.change("streaming", "25 symbols subscribed")
    tick_time = timezone.now() - timedelta(seconds=3)
    write_ticks([Tick("IREN", Decimal("39.10"), tick_time, "regular")], source="yahoo")
    html = client.get("/status/").content.decode()
    assert "streaming" in html and "25 symbols subscribed" in html
    assert "stream streaming: 25 symbols subscribed" in html
    assert "1 of 1 quotes last written by the stream" in html
    age = html.split('id="streamed-age">')[1].split(" s<")[0]
    assert 3.0 <= float(age) < 30


@pytest.mark.django_db(transaction=True)
def test_signing_out_ends_the_sessions_streams_in_this_process(user, iren, settings, tmp_path):
    # `make run` serves pages and streams from one process: the sign-out there ends the
    # session's private streams at once (sse processes elsewhere hear it on the Redis channel).
    settings.STREAM_SOCKET = str(tmp_path / "ticks.sock")
    settings.REDIS_URL = ""
    settings.STREAM_SESSION_CHECK_SECONDS = 3600  # no periodic check: the sign-out alone
    portfolio = PortfolioFactory(owner=user)
    record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=dt.date(2026, 3, 6),
        quantity=Decimal("10"),
        price=Decimal("30"),
    )

    async def scenario():
        from market.streaming.hub import hub

        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(f"/stream/?s=IREN&portfolio={portfolio.pk}")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        assert b"portfolio-live" in await anext(chunks)
        signed_out = await client.post("/accounts/logout/")
        rest = [chunk async for chunk in chunks]  # ends: no tick, no check, only the sign-out
        await hub.stop()
        return signed_out.status_code, rest

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == (302, [])
