"""A Redis of the test's own, paused with CLIENT PAUSE: the site keeps answering quickly without
its cache, /healthz says the cache is down, and what was written during the pause is seen as
soon as Redis answers again (the breaker replaces the version tokens before letting calls in,
so no ETag from before the pause matches)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client

from config import versions
from config.breaker import breaker_for
from portfolios.models import Watchlist
from tests.factories import UserFactory, WatchlistFactory
from tests.faults.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PAUSE_MS = 4000


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _etag(client: Client, page: str) -> str:
    """The page's ETag, and proof that the browser's copy is revalidated (304) before the pause."""
    etag = client.get(page)["ETag"]
    assert client.get(page, headers={"if-none-match": etag}).status_code == 304
    return etag


def _breaker(redis_server):
    from django.conf import settings

    return breaker_for(redis_server.url, settings.CACHES["default"]["OPTIONS"])


def test_pages_answer_within_2_seconds_and_healthz_says_the_cache_is_down(breaker_cache):
    user = UserFactory()
    watchlist = WatchlistFactory(owner=user, name="Pivoters")
    client = Client()
    client.force_login(user)
    page = f"/watchlists/{watchlist.pk}/"
    _etag(client, page)  # the cache works before the pause
    paths = (page, "/", "/watchlists/")
    for path in paths:  # the first render imports the modules a page needs (seconds, cold)
        assert client.get(path).status_code == 200

    breaker_cache.pause(PAUSE_MS)
    for path in paths:
        response, elapsed = _timed(lambda path=path: client.get(path))
        assert response.status_code == 200, path
        assert elapsed < 2, (path, elapsed)
    response, elapsed = _timed(lambda: client.get("/healthz"))
    assert response.status_code == 503
    assert response.json()["cache"] == "error"
    assert response.json()["database"] == "ok"
    assert elapsed < 2
    assert _breaker(breaker_cache).is_open


def test_writes_during_the_pause_are_seen_when_redis_answers_again(breaker_cache):
    user = UserFactory()
    watchlist = WatchlistFactory(owner=user, name="Before")
    client = Client()
    client.force_login(user)
    page = f"/watchlists/{watchlist.pk}/"
    before = _etag(client, page)
    epoch_before = cache.get(versions.EPOCH)

    breaker_cache.pause(PAUSE_MS)
    response = client.post(f"/watchlists/{watchlist.pk}/edit/", {"rename-name": "During"})
    assert response.status_code == 302
    assert Watchlist.objects.get(pk=watchlist.pk).name == "During"
    breaker = _breaker(breaker_cache)
    assert breaker.is_open  # the write's token replacement never reached Redis

    wait_until(breaker_cache.answers, seconds=15, what="the pause to end")
    response = client.get(page, headers={"if-none-match": before})
    assert response.status_code == 200
    assert "During" in response.content.decode()

    # Once the breaker lets calls through again, the tokens were replaced: the browser's copy
    # from before the pause (with "Before") is never confirmed again.
    wait_until(lambda: not breaker.is_open, seconds=15, what="the breaker to close")
    assert cache.get(versions.EPOCH) not in (None, epoch_before)
    response = client.get(page, headers={"if-none-match": before})
    assert response.status_code == 200
    assert "During" in response.content.decode()
    after = response["ETag"]
    assert client.get(page, headers={"if-none-match": after}).status_code == 304


def test_a_user_deactivated_during_the_pause_gets_no_private_page_afterwards(breaker_cache):
    user = UserFactory()
    watchlist = WatchlistFactory(owner=user, name="Private")
    client = Client()
    client.force_login(user)
    page = f"/watchlists/{watchlist.pk}/"
    before = _etag(client, page)

    breaker_cache.pause(PAUSE_MS)
    client.get("/")  # a request that finds Redis away opens the breaker
    user.is_active = False
    user.save()  # its token replacement is skipped while the breaker is open
    breaker = _breaker(breaker_cache)
    wait_until(lambda: not breaker.is_open, seconds=15, what="the breaker to close")

    response = client.get(page, headers={"if-none-match": before})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_stream_state_is_written_off_the_event_loop_while_redis_hangs(breaker_cache):
    # The live stream's event loop reads frames and writes quotes; its state goes to the cache
    # from a thread of its own, so a Redis that hangs does not hold the loop for its timeout.
    import asyncio

    from market.streaming.state import StateRecorder, stream_state

    recorder = StateRecorder("yahoo")

    async def scenario():
        breaker_cache.pause(1500)
        recorder.change("streaming", "25 symbols subscribed")
        turns = 0
        while recorder.writing and turns < 5:
            await asyncio.sleep(0.01)  # the loop goes on while the write waits for Redis
            turns += 1
        await recorder.saved()
        return turns

    assert asyncio.run(scenario()) == 5
    wait_until(breaker_cache.answers, seconds=15, what="the pause to end")
    breaker = _breaker(breaker_cache)
    wait_until(lambda: not breaker.is_open, seconds=15, what="the breaker to close")
    recorder.change("streaming", "26 symbols subscribed")  # outside a loop: written at once
    assert stream_state()["detail"] == "26 symbols subscribed"
