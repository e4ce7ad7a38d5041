"""The supervised websocket to a price streamer (Yahoo's), one for every active instrument.

Reconnecting is websockets' own (`async for ws in connect(...)`): a failed attempt (refused,
timed out, a 5xx at the handshake) is retried after the next delay of `reconnect_delays`
(exponential from STREAM_BACKOFF_SECONDS to STREAM_BACKOFF_MAX_SECONDS, with jitter), and a
connection that worked starts the delays again. A connection that ends before it brought a tick
(closed at once, or silent while a subscribed market is in session for STREAM_WATCHDOG_SECONDS)
waits the next delay too, so a server that accepts and drops is not hammered. On every
connection the streamer subscribes to every active instrument, resubscribes as a heartbeat,
follows instruments being added or deactivated (subscribe/unsubscribe), and skips a malformed
frame with a log line. Every state change goes through the StateRecorder (one log line,
/status/).

`WebSocketStream` is the supervision, whatever the source; a source names its URL, its
subscribe and unsubscribe messages and how a frame becomes a Tick (`YahooStream`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Collection, Iterator

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

# What a failed connection attempt may raise: retried after the next delay.
RETRIED = (OSError, TimeoutError, websockets.exceptions.WebSocketException)


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


class WebSocketStream:
    """A supervised websocket to a price streamer; subclasses name the source's protocol."""

    name = ""

    def url(self) -> str:
        raise NotImplementedError

    def subscribe(self, symbols: Collection[str]) -> str:
        raise NotImplementedError

    def unsubscribe(self, symbols: Collection[str]) -> str:
        raise NotImplementedError

    def decode(self, frame: str | bytes) -> Tick:
        """The tick of a frame; MalformedFrame for anything else."""
        raise NotImplementedError

    def __init__(
        self,
        recorder: states.StateRecorder,
        *,
        load_symbols: Callable[[], dict[str, str]] = active_instruments,
        in_session: Callable[[str], bool] = sessions.is_open,
    ) -> None:
        self.recorder = recorder
        self._load_symbols = sync_to_async(load_symbols, thread_sensitive=False)
        self._in_session = sync_to_async(in_session, thread_sensitive=False)
        self.watchdog = settings.STREAM_WATCHDOG_SECONDS
        self.heartbeat = settings.STREAM_HEARTBEAT_SECONDS
        self.symbols_every = settings.STREAM_SYMBOLS_SECONDS
        self.subscribed: dict[str, str] = {}
        self._failure = ""

    def reconnect_delays(self) -> Iterator[float]:
        """The waits before each new attempt, noted as the stream's state."""
        attempt = 0
        while True:
            attempt += 1
            delay = backoff_delay(
                attempt,
                base=settings.STREAM_BACKOFF_SECONDS,
                cap=settings.STREAM_BACKOFF_MAX_SECONDS,
            )
            self.recorder.count("reconnects")
            self.recorder.change(
                states.BACKING_OFF,
                f"{self._failure}; reconnecting in {delay:.1f}s (attempt {attempt})",
            )
            yield delay

    def _connect_failed(self, exc: Exception) -> Exception | None:
        """websockets' process_exception: every network or protocol failure is retried."""
        self._failure = _describe(exc)
        return None if isinstance(exc, RETRIED) else exc

    async def run(self, on_tick: Callable[[Tick], None]) -> None:
        self.recorder.change(states.CONNECTING, self.url())
        unproductive: Iterator[float] | None = None
        async for ws in connect(
            self.url(),
            open_timeout=10,
            max_size=2**20,
            process_exception=self._connect_failed,
            reconnect_delays=self.reconnect_delays,
        ):
            self.recorder.count("connections")
            ticks_before = self.recorder.current.ticks
            try:
                self._failure = await self._session(ws, on_tick)
            except websockets.exceptions.ConnectionClosed as exc:
                self._failure = _describe(exc)
            if self.recorder.current.ticks > ticks_before:
                unproductive = None  # it worked: reconnect at once, delays from the start
                self.recorder.count("reconnects")
                self.recorder.change(states.CONNECTING, f"{self._failure}; reconnecting")
                continue
            unproductive = unproductive or self.reconnect_delays()
            await asyncio.sleep(next(unproductive))

    async def _subscribe_all(self, ws) -> None:
        self.subscribed = await self._load_symbols()
        if self.subscribed:
            await ws.send(self.subscribe(self.subscribed))
        self.recorder.current.subscribed = len(self.subscribed)

    async def _follow_instruments(self, ws) -> None:
        wanted = await self._load_symbols()
        added = wanted.keys() - self.subscribed.keys()
        removed = self.subscribed.keys() - wanted.keys()
        if added:
            await ws.send(self.subscribe(added))
        if removed:
            await ws.send(self.unsubscribe(removed))
        if added or removed:
            logger.info("stream subscribed %d, unsubscribed %d symbols", len(added), len(removed))
        self.subscribed = wanted
        self.recorder.current.subscribed = len(wanted)

    async def _market_in_session(self) -> bool:
        for kind in set(self.subscribed.values()):
            if await self._in_session(kind):
                return True
        return False

    def _receive(self, frame, on_tick: Callable[[Tick], None]) -> bool:
        """Hand a frame's tick on; whether it was one."""
        try:
            tick = self.decode(frame)
        except MalformedFrame as exc:
            self.recorder.count("malformed")
            logger.warning("stream skipped a malformed frame: %s: %.120r", exc, frame)
            return False
        self.recorder.tick_seen(tick.at)
        on_tick(tick)
        return True

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
            if frame is not None and self._receive(frame, on_tick):
                last_tick = now
            if now - last_tick >= self.watchdog and await self._market_in_session():
                self.recorder.count("watchdog_trips")
                return f"watchdog: no tick for {self.watchdog:g}s while a market is in session"
            if now - last_heartbeat >= self.heartbeat:
                last_heartbeat = now
                if self.subscribed:
                    await ws.send(self.subscribe(self.subscribed))
            if now - last_follow >= self.symbols_every:
                last_follow = now
                await self._follow_instruments(ws)


class YahooStream(WebSocketStream):
    """Yahoo Finance's streamer (YAHOO_STREAM_URL): JSON subscribe messages, protobuf frames."""

    name = "yahoo"

    def __init__(self, recorder: states.StateRecorder, *, url: str | None = None, **kwargs):
        super().__init__(recorder, **kwargs)
        self._url = url or settings.YAHOO_STREAM_URL

    def url(self) -> str:
        return self._url

    def subscribe(self, symbols: Collection[str]) -> str:
        return subscribe_message(symbols)

    def unsubscribe(self, symbols: Collection[str]) -> str:
        return unsubscribe_message(symbols)

    def decode(self, frame: str | bytes) -> Tick:
        return decode_frame(frame)
