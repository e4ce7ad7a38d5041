"""The live stream as the sse process serves it (uvicorn, DEBUG=0): a signed-out session gets no
private figures and its streams end; a stream ends by itself after its lifetime; streams are
capped per session and per address; a malformed portfolio id is a 404, not a server error."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from market.streaming.channel import REDIS_CHANNEL, SocketPublisher
from portfolios.services import record_transaction
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory, UserFactory
from tests.security.conftest import open_stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner_portfolio():
    """A user holding 10 IREN in a portfolio, and a signed-in session of theirs."""
    iren = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=iren, price=Decimal("40.00"), previous_close=Decimal("38.00"))
    owner = UserFactory()
    portfolio = PortfolioFactory(owner=owner, name="Main")
    record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=date(2025, 1, 10),
        quantity=Decimal(10),
        price=Decimal(30),
    )
    browser = Client()
    browser.force_login(owner)
    return portfolio, browser


def _batch(price: str) -> dict:
    quote = {
        "symbol": "IREN",
        "price": price,
        "change_percent": "1.0000",
        "market_state": "regular",
        "currency": "USD",
        "source": "yahoo",
        "direction": "up",
    }
    return {"quotes": [quote], "published": time.time()}


async def _until(condition, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting {seconds} s for {what}")
        await asyncio.sleep(0.05)


async def _events_until_the_end(stream, publish, seconds: float) -> list[bytes]:
    """Every event the stream sends while batches keep coming, until it ends (bounded)."""
    events = []
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        await publish()
        try:
            event = await stream.event(timeout=0.5)
        except TimeoutError:
            continue
        if event is None:
            return events
        events.append(event)
    raise AssertionError(f"the stream was still open after {seconds} s: {events[-3:]}")


def test_a_sign_out_elsewhere_ends_the_private_stream_without_one_more_private_event(
    start_sse, owner_portfolio
):
    # Issue 22, point 2: the sign-out is made by another process (gunicorn, here the test's own
    # client); the sse process finds the session gone from the database before any private
    # event and at its periodic check.
    portfolio, browser = owner_portfolio
    site = start_sse(STREAM_SESSION_CHECK_SECONDS="1")
    session_key = browser.cookies["sessionid"].value
    path = f"/stream/?s=IREN&v=row&portfolio={portfolio.pk}"

    async def scenario():
        publisher = SocketPublisher(site.socket_path)
        await publisher.start()
        try:
            stream = await open_stream(site.port, path, session_key)
            assert stream.status == 200
            assert (await stream.event(30)).startswith(b"retry: ")
            snapshot = await stream.event(30)
            assert b": snapshot" in snapshot and b'id="portfolio-live"' in snapshot
            await _until(lambda: publisher._writers, 30, "the sse process to listen")
            await publisher.publish(_batch("41.00"))
            before = [await stream.event(30), await stream.event(30)]

            response = await asyncio.to_thread(browser.post, "/accounts/logout/")
            assert response.status_code == 302

            prices = iter(range(42, 1000))

            async def publish():
                await publisher.publish(_batch(f"{next(prices)}.00"))

            after = await _events_until_the_end(stream, publish, 30)
            again = await open_stream(site.port, path, session_key)
            return before, after, again.status
        finally:
            await publisher.close()

    before, after, status = asyncio.run(scenario())
    assert any(b": private" in event for event in before)  # private figures while signed in
    assert not any(b": private" in event or b"portfolio-live" in event for event in after)
    assert status == 404  # the browser reopening it is refused


def test_a_sign_out_ends_the_sessions_streams_in_every_sse_process_at_once(
    start_sse, owner_portfolio, redis_server, settings
):
    # With Redis, the process that signs out tells every sse process on the tick channel; the
    # periodic check is an hour away here, and no tick arrives: the sign-out alone ends it.
    portfolio, browser = owner_portfolio
    site = start_sse(REDIS_URL=redis_server.url, STREAM_SESSION_CHECK_SECONDS="3600")
    settings.REDIS_URL = redis_server.url
    session_key = browser.cookies["sessionid"].value
    listener = redis_server.client().pubsub()
    listener.subscribe(REDIS_CHANNEL)

    async def scenario():
        stream = await open_stream(site.port, f"/stream/?s=&portfolio={portfolio.pk}", session_key)
        assert stream.status == 200
        await stream.event(30)
        assert b"portfolio-live" in await stream.event(30)
        response = await asyncio.to_thread(browser.post, "/accounts/logout/")
        assert response.status_code == 302
        events = []
        while (event := await stream.event(timeout=30)) is not None:
            events.append(event)
        return events

    assert asyncio.run(scenario()) == []
    messages = [m for m in iter(lambda: listener.get_message(timeout=1), None)]
    assert any(b"signed_out" in m["data"] for m in messages if m["type"] == "message")


def test_a_stream_ends_after_its_lifetime_and_opens_again(start_sse):
    site = start_sse(STREAM_MAX_SECONDS="2")

    async def scenario():
        stream = await open_stream(site.port, "/stream/?s=IREN&v=row")
        assert stream.status == 200
        opened = time.monotonic()
        events = []
        while (event := await stream.event(timeout=30)) is not None:
            events.append(event)
        lived = time.monotonic() - opened
        again = await open_stream(site.port, "/stream/?s=IREN&v=row")
        again.close()
        return events, lived, again.status

    events, lived, status = asyncio.run(scenario())
    assert events[0].startswith(b"retry: ") and b": snapshot" in events[1]
    assert 1.5 <= lived < 30  # at least nine tenths of STREAM_MAX_SECONDS, then it ended
    assert status == 200


def test_open_streams_are_capped_per_session_and_per_address(start_sse):
    # Issue 22, point 14: 2,000 idle streams from one address were accepted.
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    session_key = browser.cookies["sessionid"].value
    site = start_sse(STREAM_MAX_PER_SESSION="2", STREAM_MAX_PER_ADDRESS="3")
    path = "/stream/?s=IREN&v=row"

    async def scenario():
        mine = [await open_stream(site.port, path, session_key) for _ in range(3)]
        anonymous = [await open_stream(site.port, path) for _ in range(2)]
        statuses = [s.status for s in mine + anonymous]
        refusals = [s.body.decode() for s in mine + anonymous if s.status == 429]
        # A closed stream gives its place back.
        anonymous[0].close()
        for stream in mine[:2]:
            await stream.event(30)
        reopened = None
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            reopened = await open_stream(site.port, path)
            if reopened.status == 200:
                break
            await asyncio.sleep(0.2)
        for stream in (*mine, *anonymous, reopened):
            stream.close()
        return statuses, refusals, reopened.status

    statuses, refusals, reopened = asyncio.run(scenario())
    assert statuses == [200, 200, 429, 200, 429]
    assert refusals == [
        "Too many open live streams for this session (2); pages keep updating every 30 seconds.",
        "Too many open live streams from this address (3); pages keep updating every 30 seconds.",
    ]
    assert reopened == 200


def test_a_portfolio_id_that_is_no_ascii_number_is_a_404(start_sse, owner_portfolio):
    # Issue 22, point 8: "²".isdigit() is true, and int("²") made it a 500.
    portfolio, browser = owner_portfolio
    site = start_sse()
    session_key = browser.cookies["sessionid"].value

    async def scenario():
        answers = {}
        for value in ("%C2%B2", "%D9%A3", "9" * 40, str(portfolio.pk)):
            stream = await open_stream(site.port, f"/stream/?s=IREN&portfolio={value}", session_key)
            answers[value] = stream.status
            stream.close()
        return answers

    answers = asyncio.run(scenario())
    assert answers == {"%C2%B2": 404, "%D9%A3": 404, "9" * 40: 404, str(portfolio.pk): 200}
    assert "Traceback" not in site.log()


def test_open_streams_do_not_each_hold_a_thread(start_sse, owner_portfolio):
    # Django gives each request a thread for its thread-sensitive work (sync middleware, the
    # ORM from async code) until the request ends: a stream held an hour held a thread an
    # hour. The streams share one (config/asgi.py).
    import psutil

    portfolio, browser = owner_portfolio
    session_key = browser.cookies["sessionid"].value
    site = start_sse(STREAM_MAX_PER_SESSION="100", STREAM_MAX_PER_ADDRESS="100")
    server = psutil.Process(site.process.pid)
    path = f"/stream/?s=IREN&portfolio={portfolio.pk}"

    async def scenario():
        first = await open_stream(site.port, path, session_key)
        await first.event(30)
        await first.event(30)
        threads_with_one = server.num_threads()
        more = []
        for _ in range(30):
            stream = await open_stream(site.port, path, session_key)
            await stream.event(30)
            await stream.event(30)  # its snapshot: the session was read, the portfolio shown
            more.append(stream)
        threads_with_31 = server.num_threads()
        for stream in (first, *more):
            stream.close()
        return [s.status for s in more], threads_with_one, threads_with_31

    statuses, threads_with_one, threads_with_31 = asyncio.run(scenario())
    assert statuses == [200] * 30
    # The default executor may start a few more workers; 30 streams do not mean 30 threads.
    assert threads_with_31 - threads_with_one < 8, (threads_with_one, threads_with_31)
