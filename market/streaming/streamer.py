"""The stream_quotes process: a tick source, the coalescer, the quote writes and the channel.

Ticks from the source are coalesced in memory: every BATCH_SECONDS the ticks that arrived are
written in one statement, except that a symbol is written at most once per STREAM_FLUSH_SECONDS
(its later ticks wait, and only the newest is written). Each written batch is then published on
the tick channel for the web processes to push to open pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from django.conf import settings
from django.db import close_old_connections

from market.providers.ticks import Tick
from market.streaming import channel
from market.streaming import state as states
from market.streaming.store import Coalescer, write_ticks

logger = logging.getLogger("minerwatch.stream")

# How long ticks arriving together are gathered into one write (and one published batch).
BATCH_SECONDS = 0.05
STATE_SAVE_SECONDS = 1.0


def make_source(provider_name: str, recorder: states.StateRecorder):
    if provider_name == "simulated":
        from market.streaming.simulated import SimulatedStream

        return SimulatedStream(recorder)
    from market.streaming.client import YahooStream

    return YahooStream(recorder)


def _write(ticks: list[Tick], source: str):
    close_old_connections()
    try:
        return write_ticks(ticks, source=source)
    finally:
        close_old_connections()


class Streamer:
    def __init__(self, *, source, publisher, recorder: states.StateRecorder) -> None:
        self.source = source
        self.publisher = publisher
        self.recorder = recorder
        self.coalescer = Coalescer(settings.STREAM_FLUSH_SECONDS)
        # When each pending symbol's latest tick arrived (wall clock), for latency figures.
        self._arrived: dict[str, float] = {}

    def on_tick(self, tick: Tick) -> None:
        self.coalescer.add(tick)
        self._arrived.setdefault(tick.symbol, time.time())

    async def flush(self) -> int:
        """Write and publish the ticks that are due; the number of quotes written."""
        ticks = self.coalescer.drain()
        if not ticks:
            return 0
        arrived = {tick.symbol: self._arrived.pop(tick.symbol, None) for tick in ticks}
        try:
            result = await asyncio.to_thread(_write, ticks, self.source.name)
        except Exception:
            logger.exception("stream could not write %d ticks", len(ticks))
            return 0
        self.recorder.count("writes", len(result.written))
        self.recorder.count("flushes", 1 if result.written else 0)
        self.recorder.count("stale_ticks", result.stale)
        if result.written:
            for quote in result.written:
                quote["arrived"] = arrived.get(quote["symbol"])
            await self.publisher.publish({"quotes": result.written, "published": time.time()})
        return len(result.written)

    async def _flush_loop(self) -> None:
        saved = time.monotonic()
        while True:
            await asyncio.sleep(BATCH_SECONDS)
            await self.flush()
            if time.monotonic() - saved >= STATE_SAVE_SECONDS:
                saved = time.monotonic()
                self.recorder.save()

    async def run(self) -> None:
        await self.publisher.start()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.source.run(self.on_tick))
                group.create_task(self._flush_loop())
        finally:
            with contextlib.suppress(Exception):
                await self.flush()
            await self.publisher.close()
            self.recorder.change(states.STOPPED)
            await self.recorder.saved()


def build(provider_name: str | None = None) -> Streamer:
    provider_name = provider_name or settings.MARKET_DATA_PROVIDER
    recorder = states.StateRecorder(provider_name)
    return Streamer(
        source=make_source(provider_name, recorder),
        publisher=channel.publisher(),
        recorder=recorder,
    )
