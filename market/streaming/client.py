"""The supervised connection to Yahoo's price streamer.

One websocket for every active instrument. It reconnects with exponential backoff and jitter,
resubscribes on every connection and as a heartbeat, follows instruments being added or
deactivated (subscribe/unsubscribe), and a watchdog reconnects when no tick has arrived for
STREAM_WATCHDOG_SECONDS while one of the subscribed markets is in session. A malformed frame is
logged and skipped. Every state change goes through the StateRecorder (one log line, /status/).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect

from market import sessions
from market.models import Instrument
from market.providers.ticks import Tick
from market.providers.yahoo_stream import (
    MalformedFrame,
    decode_frame,
    subscribe_message,
    unsubscribe_message,
)
from market.streaming import state as states

logger = logging.getLogger("minerwatch.stream")


def backoff_delay(attempt: int, *, base: float, cap: float, rng=random) -> float:
    """Exponential backoff with jitter: up to base * 2**(attempt-1) (at most `cap`), at least
    half of it, so reconnecting streamers do not hammer the server in step."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling * rng.uniform(0.5, 1.0)


def active_instruments() -> dict[str, str]:
    """{symbol: kind} of every active instrument (what the stream subscribes to)."""
    return dict(Instrument.objects.filter(is_active=True).values_list("symbol", "kind"))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class YahooStream:
    name = "yahoo"

    def __init__(
        self,
        recorder: states.StateRecorder,
        *,
        url: str | None = None,
        load_symbols: Callable[[], dict[str, str]] = active_instruments,
        in_session: Callable[[str], bool] = sessions.is_open,
    ) -> None:
        self.url = url or settings.YAHOO_STREAM_URL
        self.recorder = recorder
        self._load_symbols = sync_to_async(load_symbols, thread_sensitive=False)
        self._in_session = in_session
        self.watchdog = settings.STREAM_WATCHDOG_SECONDS
        self.heartbeat = settings.STREAM_HEARTBEAT_SECONDS
        self.symbols_every = settings.STREAM_SYMBOLS_SECONDS
        self.subscribed: dict[str, str] = {}

    async def run(self, on_tick: Callable[[Tick], None]) -> None:
        attempt = 0
        while True:
            self.recorder.change(states.CONNECTING, self.url)
            ticks_before = self.recorder.current.ticks
            try:
                async with connect(self.url, open_timeout=10, max_size=2**20) as ws:
                    self.recorder.count("connections")
                    reason = await self._session(ws, on_tick)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                reason = _describe(exc)
            if self.recorder.current.ticks > ticks_before:
                attempt = 0  # the connection worked: start the backoff again from the bottom
            attempt += 1
            delay = backoff_delay(
                attempt,
                base=settings.STREAM_BACKOFF_SECONDS,
                cap=settings.STREAM_BACKOFF_MAX_SECONDS,
            )
            self.recorder.count("reconnects")
            self.recorder.change(
                states.BACKING_OFF, f"{reason}; reconnecting in {delay:.1f}s (attempt {attempt})"
            )
            await asyncio.sleep(delay)

    async def _subscribe_all(self, ws) -> None:
        self.subscribed = await self._load_symbols()
        if self.subscribed:
            await ws.send(subscribe_message(self.subscribed))
        self.recorder.current.subscribed = len(self.subscribed)

    async def _follow_instruments(self, ws) -> None:
        wanted = await self._load_symbols()
        added = wanted.keys() - self.subscribed.keys()
        removed = self.subscribed.keys() - wanted.keys()
        if added:
            await ws.send(subscribe_message(added))
        if removed:
            await ws.send(unsubscribe_message(removed))
        if added or removed:
            logger.info("stream subscribed %d, unsubscribed %d symbols", len(added), len(removed))
        self.subscribed = wanted
        self.recorder.current.subscribed = len(wanted)

    def _market_in_session(self) -> bool:
        return any(self._in_session(kind) for kind in set(self.subscribed.values()))

    async def _session(self, ws, on_tick: Callable[[Tick], None]) -> str:
        """Read frames until the connection fails (raises) or the watchdog trips (returns)."""
        await self._subscribe_all(ws)
        self.recorder.change(states.STREAMING, f"{len(self.subscribed)} symbols subscribed")
        clock = time.monotonic
        last_tick = last_heartbeat = last_follow = clock()
        wait = min(1.0, self.watchdog / 4)
        while True:
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=wait)
            except TimeoutError:
                frame = None
            now = clock()
            if frame is not None:
                try:
                    tick = decode_frame(frame)
                except MalformedFrame as exc:
                    self.recorder.count("malformed")
                    logger.warning("stream skipped a malformed frame: %s: %.120r", exc, frame)
                else:
                    last_tick = now
                    self.recorder.tick_seen(tick.at)
                    on_tick(tick)
            if now - last_tick >= self.watchdog and self._market_in_session():
                self.recorder.count("watchdog_trips")
                return f"watchdog: no tick for {self.watchdog:g}s while a market is in session"
            if now - last_heartbeat >= self.heartbeat:
                last_heartbeat = now
                if self.subscribed:
                    await ws.send(subscribe_message(self.subscribed))
            if now - last_follow >= self.symbols_every:
                last_follow = now
                await self._follow_instruments(ws)
