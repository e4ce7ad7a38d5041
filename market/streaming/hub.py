"""One listener on the tick channel per web process, fanning each batch out to its open streams.

Each open stream (a browser tab) registers the symbols its page shows and keeps, per symbol, the
latest batch that touched it until it sends them. The cells of a quote are rendered once per
batch and layout, whatever the number of streams that show it. When the channel reconnects
(batches may have been lost), every stream sends a fresh snapshot. A sign-out published on the
channel (or made in this process) ends the streams of its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from market.streaming import cells, channel

logger = logging.getLogger("minerwatch.stream")

RESYNC = "resync"
ENDED = "ended"
# How often the hub looks for streams whose wait is over (keepalives, checks, lifetimes).
CLOCK_SECONDS = 0.5


@dataclass
class Batch:
    """One published batch: its quotes by symbol, and their cells rendered on demand."""

    quotes: dict[str, dict]
    published: float | None
    _html: dict[tuple[str, str], str] = field(default_factory=dict)

    def html(self, symbol: str, layout: str) -> str:
        key = (symbol, layout)
        if key not in self._html:
            self._html[key] = cells.render(symbol, self.quotes[symbol], layout)
        return self._html[key]


def _quote_values(payload: dict) -> dict:
    """A published quote with its numbers and times back as Decimal and datetime."""
    quote = dict(payload)
    for name, value in payload.items():
        if value is None:
            continue
        if name in ("provider_time", "fetched_at"):
            quote[name] = datetime.fromisoformat(value)
        elif name not in ("symbol", "market_state", "source", "currency", "direction", "arrived"):
            quote[name] = Decimal(value)
    return quote


class Subscriber:
    """One open stream's pending changes: the latest batch that touched each of its symbols.
    A stream that is slow to send (or still sending its snapshot) only ever holds the newest
    cells of each symbol, never a backlog."""

    def __init__(self, symbols: set[str], session: str | None = None) -> None:
        self.symbols = symbols
        self.session = session  # the tag of the session whose sign-out ends this stream
        self.pending: dict[str, Batch] = {}
        self.resync = False
        self.ended = False
        self.ready = asyncio.Event()
        self.wake_at = math.inf  # when the hub's clock wakes it with nothing (loop time)

    def offer(self, symbol: str, batch: Batch) -> None:
        self.pending[symbol] = batch
        self.ready.set()

    def ask_resync(self) -> None:
        self.resync = True
        self.ready.set()

    def end(self) -> None:
        self.ended = True
        self.ready.set()

    async def next(self, timeout: float):
        """ENDED, RESYNC, or {symbol: batch} of what changed; None when nothing came within
        `timeout` (give or take the hub's clock: CLOCK_SECONDS)."""
        if not self.ready.is_set():
            self.wake_at = asyncio.get_running_loop().time() + timeout
            await self.ready.wait()
        self.ready.clear()
        self.wake_at = math.inf
        if self.ended:
            return ENDED
        if self.resync:
            self.resync, self.pending = False, {}
            return RESYNC
        if not self.pending:
            return None
        changed, self.pending = self.pending, {}
        return changed


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        # symbol -> the streams showing it: a batch wakes only the streams it touches.
        self.by_symbol: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task | None = None
        self._clock: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    def join(self, symbols: set[str], session: str | None = None) -> Subscriber:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            if self._clock is not None:
                with contextlib.suppress(RuntimeError):  # its loop may be closed
                    self._clock.cancel()
            self._loop = loop
            self._task = loop.create_task(self._listen())
            self._clock = loop.create_task(self._tick())
        subscriber = Subscriber(symbols, session)
        self.subscribers.add(subscriber)
        for symbol in symbols:
            self.by_symbol.setdefault(symbol, set()).add(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        for symbol in subscriber.symbols:
            showing = self.by_symbol.get(symbol)
            if showing is not None:
                showing.discard(subscriber)
                if not showing:
                    del self.by_symbol[symbol]

    def _end_session(self, session: str) -> None:
        for subscriber in list(self.subscribers):
            if subscriber.session == session:
                subscriber.end()

    def end_session(self, session: str) -> None:
        """End the streams of a signed-out session (from any thread of this process)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._end_session, session)

    async def _tick(self) -> None:
        """Wake the streams whose wait is over: one timer for them all, instead of one per
        stream and per wait (thousands of streams wait at once)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CLOCK_SECONDS)
            now = loop.time()
            for subscriber in self.subscribers:
                if subscriber.wake_at <= now:
                    subscriber.ready.set()

    async def _listen(self) -> None:
        first = True
        async for message in channel.messages():
            if message.get("connected"):
                if not first:  # batches may have been lost while the channel was away
                    for subscriber in list(self.subscribers):
                        subscriber.ask_resync()
                first = False
                continue
            if message.get("signed_out"):
                self._end_session(message["signed_out"])
                continue
            quotes = {q["symbol"]: _quote_values(q) for q in message.get("quotes", ())}
            if not quotes:
                continue
            self.batches += 1
            batch = Batch(quotes=quotes, published=message.get("published"))
            for symbol in quotes:
                for subscriber in tuple(self.by_symbol.get(symbol, ())):
                    subscriber.offer(symbol, batch)

    async def stop(self) -> None:
        for task in (self._task, self._clock):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._clock = None


hub = Hub()
