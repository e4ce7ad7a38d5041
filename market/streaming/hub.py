"""One listener on the tick channel per web process, fanning each batch out to its open streams.

Each open stream (a browser tab) registers the symbols its page shows; a batch reaches it as
one queue item holding only those quotes. The cells of a quote are rendered once per batch and
layout, whatever the number of streams that show it. A stream that falls behind (its queue is
full) is told to resynchronise: it sends a fresh snapshot instead of the batches it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from market.streaming import cells, channel

logger = logging.getLogger("minerwatch.stream")

QUEUE_SIZE = 64
RESYNC = "resync"


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
        elif name not in ("symbol", "market_state", "source", "direction", "arrived"):
            quote[name] = Decimal(value)
    return quote


class Subscriber:
    def __init__(self, symbols: set[str]) -> None:
        self.symbols = symbols
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)

    def offer(self, batch: Batch) -> None:
        if not self.symbols.isdisjoint(batch.quotes):
            self._put(batch)

    def _put(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)


class Hub:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    def join(self, symbols: set[str]) -> Subscriber:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._listen())
        subscriber = Subscriber(symbols)
        self.subscribers.add(subscriber)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def _listen(self) -> None:
        first = True
        async for message in channel.messages():
            if message.get("connected"):
                if not first:  # batches may have been lost while the channel was away
                    for subscriber in list(self.subscribers):
                        subscriber._put(RESYNC)
                first = False
                continue
            quotes = {q["symbol"]: _quote_values(q) for q in message.get("quotes", ())}
            if not quotes:
                continue
            self.batches += 1
            batch = Batch(quotes=quotes, published=message.get("published"))
            for subscriber in list(self.subscribers):
                subscriber.offer(batch)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


hub = Hub()
