"""The live stream against a local websocket server replaying Yahoo's recorded frames: ticks
reach the quotes and an SSE client, old ticks are ignored, the connection is supervised."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import AsyncClient

from market.models import Feed, Instrument, Quote
from market.providers.ticks import Tick
from market.providers.yahoo_stream import MalformedFrame, decode_frame
from market.streaming.channel import SocketPublisher, socket_path
from market.streaming.client import YahooStream, backoff_delay
from market.streaming.hub import hub
from market.streaming.state import StateRecorder, stream_state
from market.streaming.store import Coalescer, write_ticks
from market.streaming.streamer import Streamer
from tests.market.stream_server import ReplayServer, frame, recorded_frames, until

pytestmark = pytest.mark.django_db(transaction=True)

AAPL_1 = "AAPL, regular session, tick 1"
AAPL_2 = "AAPL, regular session, tick 2"
OLD = datetime(2020, 5, 18, 16, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fast_stream(settings, tmp_path):
    settings.STREAM_FLUSH_SECONDS = 0.05
    settings.STREAM_BACKOFF_SECONDS = 0.01
    settings.STREAM_BACKOFF_MAX_SECONDS = 0.05
    settings.STREAM_WATCHDOG_SECONDS = 60
    settings.STREAM_HEARTBEAT_SECONDS = 60
    settings.STREAM_SYMBOLS_SECONDS = 60
    settings.STREAM_SOCKET = str(tmp_path / "ticks.sock")
    settings.REDIS_URL = ""


@pytest.fixture
def aapl():
    instrument = Instrument.objects.create(symbol="AAPL", name="Apple", shares_outstanding=1000)
    Quote.objects.create(
        instrument=instrument,
        price=Decimal("307.71"),
        previous_close=Decimal("307.71"),
        market_state="regular",
        provider_time=OLD,
        fetched_at=OLD,
        source="yahoo",
    )
    return instrument


def _streamer(url: str, recorder: StateRecorder | None = None, **kwargs) -> Streamer:
    recorder = recorder or StateRecorder("yahoo")
    return Streamer(
        source=YahooStream(recorder, url=url, **kwargs),
        publisher=SocketPublisher(socket_path()),
        recorder=recorder,
    )


async def _run_until(streamer: Streamer, condition, timeout: float = 10.0) -> None:
    task = asyncio.create_task(streamer.run())
    try:
        await until(lambda: condition() or task.done(), timeout)
        if task.done():
            task.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_recorded_frames_decode_to_what_yfinance_read():
    for recorded in recorded_frames():
        tick = decode_frame(recorded["frame"])
        decoded = recorded["decoded"]
        assert tick.symbol == decoded["id"]
        assert tick.at == datetime.fromtimestamp(int(decoded["time"]) / 1000, tz=UTC)
    pre = decode_frame(frame("AAPL, pre-market"))
    assert (pre.session, pre.price, pre.volume) == ("pre", Decimal("305.76"), None)
    btc = decode_frame(frame("BTC-USD"))
    assert (btc.day_high, btc.day_low, btc.volume) == (
        Decimal("95227.555"),
        Decimal("92517.22"),
        59712028672,
    )


def test_unknown_market_hours_is_extended_hours():
    from market.providers.yahoo_stream import encode_frame

    tick = decode_frame(encode_frame("IREN", 41.5, OLD, market_hours=7))
    assert tick.session == "extended"


def test_a_tick_in_pence_is_in_pounds():
    from market.providers.yahoo_stream import encode_frame

    tick = decode_frame(encode_frame("XLON.L", 70.55, OLD, change=-1.25, currency="GBp"))
    assert (tick.currency, tick.price, tick.change) == (
        "GBP",
        Decimal("0.7055"),
        Decimal("-0.0125"),
    )
    dollars = decode_frame(encode_frame("IREN", 41.5, OLD, currency="USD"))
    assert (dollars.currency, dollars.price) == ("USD", Decimal("41.5"))


@pytest.mark.parametrize(
    "text",
    ["not json", '{"type": "pricing"}', '{"message": "@@@"}', '{"message": "CgRBQVBM"}'],
)
def test_malformed_frames_are_refused_with_a_reason(text):
    with pytest.raises(MalformedFrame):
        decode_frame(text)


def test_a_tick_reaches_the_database_and_an_sse_client(aapl):
    async def scenario():
        async with ReplayServer([([frame(AAPL_1)], "hold")]) as server:
            server.go.clear()
            streamer = _streamer(server.url)
            task = asyncio.create_task(streamer.run())
            response = await AsyncClient().get("/stream/?s=AAPL&v=row")
            assert response["Content-Type"] == "text/event-stream"
            chunks = aiter(response.streaming_content)
            assert (await anext(chunks)).startswith(b"retry:")
            snapshot = (await anext(chunks)).decode()
            assert ": snapshot" in snapshot and "$307.71" in snapshot
            await until(lambda: streamer.publisher._writers)  # the web side is listening
            server.go.set()
            pushed = (await asyncio.wait_for(anext(chunks), 10)).decode()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await response.aclose() if hasattr(response, "aclose") else None
            await hub.stop()
            return server, pushed

    server, pushed = asyncio.run(scenario())
    assert server.received[0][0] == {"subscribe": ["AAPL"]}
    assert "event: quotes" in pushed
    assert "hx-swap-oob=\"outerHTML:[data-live='AAPL price']\"" in pushed
    assert "$314.77" in pushed and "live-up" in pushed and "+2.29%" in pushed
    quote = Quote.objects.get(instrument=aapl)
    assert quote.price == Decimal("314.765")
    assert quote.change == Decimal("7.055023")  # the frame's own change and percent
    assert quote.change_percent == Decimal("2.2928")
    assert quote.volume == 17557274
    assert quote.market_cap == Decimal("314765.00")
    assert quote.provider_time == datetime(2020, 5, 18, 16, 55, 33, tzinfo=UTC)
    assert (quote.feed, quote.source) == (Feed.STREAM, "yahoo")


def test_an_old_tick_never_overwrites_a_newer_quote(aapl):
    newer, older = decode_frame(frame(AAPL_2)), decode_frame(frame(AAPL_1))
    assert write_ticks([newer], source="yahoo").stale == 0
    result = write_ticks([older], source="yahoo")
    assert (result.stale, result.written) == (1, [])
    quote = Quote.objects.get(instrument=aapl)
    assert quote.price == Decimal("314.79")
    assert quote.provider_time == newer.at
    # The same tick again is not newer either.
    assert write_ticks([newer], source="yahoo").stale == 1


def test_ticks_arriving_out_of_order_in_one_flush_keep_the_newest(aapl):
    async def scenario():
        async with ReplayServer([([frame(AAPL_2), frame(AAPL_1)], "hold")]) as server:
            streamer = _streamer(server.url)
            await _run_until(streamer, lambda: streamer.recorder.current.writes >= 1)

    asyncio.run(scenario())
    assert Quote.objects.get(instrument=aapl).price == Decimal("314.79")


def test_a_dropped_connection_reconnects_and_resubscribes(aapl):
    Instrument.objects.create(symbol="BTC-USD", name="Bitcoin", kind="crypto")

    async def scenario():
        async with ReplayServer([([], "close"), ([frame(AAPL_1)], "hold")]) as server:
            streamer = _streamer(server.url)
            await _run_until(streamer, lambda: streamer.recorder.current.writes >= 1)
            return server, streamer.recorder.current

    server, state = asyncio.run(scenario())
    assert server.connections == 2
    assert [messages[0] for messages in server.received] == [
        {"subscribe": ["AAPL", "BTC-USD"]},
        {"subscribe": ["AAPL", "BTC-USD"]},
    ]
    assert state.reconnects == 1 and state.connections == 2
    assert any("stream backing off" in line for line in state.history)
    assert Quote.objects.get(instrument=aapl).price == Decimal("314.765")


def test_a_refused_connection_is_retried_with_backoff_until_the_server_answers(aapl):
    with socket.socket() as probe:  # a port nothing listens on, yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario():
        streamer = _streamer(f"ws://127.0.0.1:{port}/?version=2")
        task = asyncio.create_task(streamer.run())
        try:
            await until(lambda: streamer.recorder.current.reconnects >= 3)
            assert streamer.recorder.current.connections == 0
            async with ReplayServer([([frame(AAPL_1)], "hold")], port=port):
                await until(lambda: streamer.recorder.current.writes >= 1)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return streamer.recorder.current

    state = asyncio.run(scenario())
    assert state.connections == 1
    backing_off = [line for line in state.history if "stream backing off" in line]
    assert "ConnectionRefusedError" in backing_off[-1]
    assert "(attempt 1)" in backing_off[-1] and "(attempt 3)" in backing_off[-3]
    assert Quote.objects.get(instrument=aapl).price == Decimal("314.765")


def test_a_silent_stream_trips_the_watchdog_while_a_market_is_in_session(settings, caplog):
    settings.STREAM_WATCHDOG_SECONDS = 0.2
    Instrument.objects.create(symbol="BTC-USD", name="Bitcoin", kind="crypto")
    caplog.set_level(logging.INFO, logger="minerwatch.stream")

    async def scenario():
        async with ReplayServer([([], "hold")]) as server:
            streamer = _streamer(server.url)
            await _run_until(streamer, lambda: len(server.received) >= 2 and server.received[1])
            return server, streamer.recorder.current

    server, state = asyncio.run(scenario())
    assert state.watchdog_trips >= 1
    assert server.received[1][0] == {"subscribe": ["BTC-USD"]}
    assert "watchdog: no tick for 0.2s while a market is in session" in caplog.text
    stored = stream_state()
    assert stored["watchdog_trips"] >= 1 and stored["source"] == "yahoo"


def test_a_malformed_frame_is_logged_and_skipped(aapl, caplog):
    caplog.set_level(logging.INFO, logger="minerwatch.stream")
    frames = ["not json", '{"type": "pricing", "message": "%%%"}', frame(AAPL_1)]

    async def scenario():
        async with ReplayServer([(frames, "hold")]) as server:
            streamer = _streamer(server.url)
            await _run_until(streamer, lambda: streamer.recorder.current.writes >= 1)
            return streamer.recorder.current

    state = asyncio.run(scenario())
    assert (state.malformed, state.ticks, state.reconnects) == (2, 1, 0)
    assert caplog.text.count("stream skipped a malformed frame") == 2
    assert Quote.objects.get(instrument=aapl).price == Decimal("314.765")


def test_each_symbol_is_written_at_most_once_a_second_with_its_newest_tick():
    now = [100.0]
    coalescer = Coalescer(1.0, clock=lambda: now[0])
    first, second = decode_frame(frame(AAPL_1)), decode_frame(frame(AAPL_2))
    btc = decode_frame(frame("BTC-USD"))
    coalescer.add(first)
    assert coalescer.drain() == [first]  # the first tick goes out at once
    now[0] = 100.4
    coalescer.add(second)
    coalescer.add(first)  # late and older: dropped
    coalescer.add(btc)
    assert coalescer.drain() == [btc]  # AAPL waits for its second to pass
    now[0] = 101.0
    assert coalescer.drain() == [second]
    assert coalescer.drain() == []


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    class Fixed:
        def __init__(self, value):
            self.value = value

        def uniform(self, low, high):
            return low + (high - low) * self.value

    assert [backoff_delay(n, base=1, cap=60, rng=Fixed(1)) for n in (1, 2, 3, 7, 8)] == [
        1,
        2,
        4,
        60,
        60,
    ]
    assert backoff_delay(3, base=1, cap=60, rng=Fixed(0)) == 2


def test_extended_hours_ticks_move_the_extended_price_not_the_regular_one(aapl):
    pre = decode_frame(frame("AAPL, pre-market"))
    write_ticks([pre], source="yahoo")
    quote = Quote.objects.get(instrument=aapl)
    # The frame's change is measured from the last close (305.76 - 0.77001953 = 304.99), not from
    # the stored quote of 2020.
    assert (quote.market_state, quote.price) == ("pre", Decimal("304.99"))
    assert quote.pre_market_price == Decimal("305.76")
    assert quote.pre_market_change == Decimal("0.770020")
    assert quote.pre_market_change_percent == Decimal("0.2525")


def test_unknown_sessions_are_pre_market_before_the_open_and_after_hours_after(aapl):
    # 07:00 and 21:00 in New York (EDT) on a Monday.
    early = Tick("AAPL", Decimal("300"), datetime(2025, 6, 2, 11, 0, tzinfo=UTC), "extended")
    late = Tick("AAPL", Decimal("301"), datetime(2025, 6, 3, 1, 0, tzinfo=UTC), "extended")
    write_ticks([early], source="yahoo")
    assert Quote.objects.get(instrument=aapl).market_state == "pre"
    write_ticks([late], source="yahoo")
    quote = Quote.objects.get(instrument=aapl)
    assert (quote.market_state, quote.post_market_price) == ("post", Decimal("301"))


def test_the_stream_under_wsgi_tells_the_page_to_keep_polling(client):
    response = client.get("/stream/?s=AAPL")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert b"event: unavailable" in response.content


def test_bad_symbols_are_refused(client):
    response = asyncio.run(AsyncClient().get("/stream/?s=AAPL,<script>"))
    assert response.status_code == 404
