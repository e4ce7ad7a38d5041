"""Live prices in a real browser: the site served by uvicorn (as `make run` serves it), the
streamer connected to a local websocket server that replays Yahoo's frame format, and the
dashboard's price changing on a replayed tick with no reload and no poll request.

Its own stack (not the package's gunicorn one): PostgreSQL, Redis (the tick channel), uvicorn
serving config.asgi, a Celery worker, and `stream_quotes --provider yahoo` pointed at the replay
server through YAHOO_STREAM_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from market.providers.yahoo_stream import encode_frame
from tests.browser.live_stack import LiveStack
from tests.browser.support import PageProblems

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]


class ReplayServer:
    """Yahoo's streamer on loopback, in a thread: records subscriptions, sends frames on demand."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.subscriptions: list[list[str]] = []
        self.clients: set = set()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def handler(ws):
            self.clients.add(ws)
            try:
                async for message in ws:
                    self.subscriptions.append(json.loads(message).get("subscribe", []))
            except ConnectionClosed:
                pass
            finally:
                self.clients.discard(ws)

        async def main():
            server = await serve(handler, "127.0.0.1", 0)
            self.port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await asyncio.Future()

        self.loop.run_until_complete(main())

    def send(self, frame: str) -> None:
        async def broadcast():
            for ws in list(self.clients):
                await ws.send(frame)

        asyncio.run_coroutine_threadsafe(broadcast(), self.loop).result(5)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/?version=2"


class UvicornStack(LiveStack):
    def serve(self, name: str, wsgi_module: str, port: int) -> None:
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
        )


@pytest.fixture(scope="module")
def streaming_stack(tmp_path_factory):
    replay = ReplayServer()
    parts = urlsplit(os.environ["DATABASE_URL"])
    stack = UvicornStack(
        database_url=parts._replace(path=parts.path.rstrip("/") + "_browser_stream").geturl(),
        redis_url=os.environ["REDIS_URL"],
        work_dir=tmp_path_factory.mktemp("streaming-stack"),
        web_workers=None,
        run_beat=False,  # no minute refresh: only the stream moves prices here
        extra_env={"YAHOO_STREAM_URL": replay.url, "STREAM_FLUSH_SECONDS": "0.2"},
    )
    try:
        stack.start()
        stack._spawn(
            "stream", [sys.executable, "manage.py", "stream_quotes", "--provider", "yahoo"]
        )
        deadline = time.monotonic() + 60
        while not replay.subscriptions and time.monotonic() < deadline:
            time.sleep(0.1)
        assert replay.subscriptions, "the streamer never subscribed\n" + stack.log("stream")
    except Exception:
        stack.stop()
        raise
    yield stack, replay
    stack.stop()


def test_a_replayed_tick_changes_the_dashboard_price_without_a_reload_or_a_poll(
    browser, streaming_stack
):
    stack, replay = streaming_stack
    assert "IREN" in replay.subscriptions[0]
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
    problems = PageProblems()
    problems.watch(context)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#live-status")).to_have_text("Live prices")
    cell = page.locator("[data-live='IREN price']")
    before = Decimal(cell.inner_text().replace("$", "").replace(",", ""))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    price = before + Decimal("1.23")
    replay.send(encode_frame("IREN", float(price), datetime.now(UTC), change=1.0))
    sent = time.monotonic()
    page.wait_for_function(
        "expected => document.querySelector(\"[data-live='IREN price']\").textContent === expected",
        arg=f"${price:,.2f}",
        timeout=2000,
    )
    elapsed = time.monotonic() - sent

    assert elapsed <= 2.0
    assert "live-up" in (cell.get_attribute("class") or "")
    assert requests == [] and navigations == []  # pushed: no poll, no reload
    # The page's own table still polls as before once the stream is gone (not here): its
    # polling element is marked, and the status line says the stream is live.
    assert page.locator("#miner-rows[data-live-poll]").count() == 1
    context.close()
    problems.assert_none()
    print(f"tick to dashboard: {elapsed * 1000:.0f} ms")
