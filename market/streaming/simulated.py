"""The simulated provider's stream: every few seconds, fresh ticks around its random walk.

The simulated provider's price moves once a minute; its stream adds a small mean-reverting
wobble around that price (a few basis points), so a demo shows prices moving every few seconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings

from market import sessions
from market.providers.simulated import SimulatedProvider
from market.providers.ticks import REGULAR, Tick
from market.streaming import state as states
from market.streaming.client import active_instruments

WOBBLE = 0.0015  # standard deviation of a tick around the minute's price
SHARE_PER_ROUND = 0.5  # about half the symbols tick each round


class SimulatedStream:
    name = "simulated"

    def __init__(self, recorder: states.StateRecorder, *, seed: int | None = None) -> None:
        self.recorder = recorder
        self.provider = SimulatedProvider(always_open=settings.SIMULATED_ALWAYS_OPEN)
        self.every = settings.SIMULATED_STREAM_SECONDS
        self._rng = random.Random(seed)
        self._offsets: dict[str, float] = {}

    def _round(self) -> list[Tick]:
        symbols = active_instruments()
        chosen = [s for s in symbols if self._rng.random() < SHARE_PER_ROUND]
        batch = self.provider.fetch_quotes(chosen)
        now = datetime.now(UTC)
        ticks = []
        for symbol, quote in batch.items.items():
            kind = symbols[symbol]
            if settings.SIMULATED_ALWAYS_OPEN:
                session = REGULAR
            else:
                session = sessions.session_state(kind, now)
                if session not in sessions.OPEN_STATES:
                    continue
            offset = 0.6 * self._offsets.get(symbol, 0.0) + self._rng.gauss(0, WOBBLE)
            self._offsets[symbol] = offset
            base = quote.price
            if session == "pre" and quote.pre_market_price:
                base = quote.pre_market_price
            elif session == "post" and quote.post_market_price:
                base = quote.post_market_price
            price = (base * Decimal(1 + offset)).quantize(Decimal("0.01"))
            ticks.append(
                Tick(symbol=symbol, price=price, at=now, session=session, volume=quote.volume)
            )
        return ticks

    async def run(self, on_tick: Callable[[Tick], None]) -> None:
        self.recorder.change(states.STREAMING, f"simulated ticks every {self.every:g}s")
        next_round = sync_to_async(self._round, thread_sensitive=False)
        while True:
            ticks = await next_round()
            self.recorder.current.subscribed = len(self._offsets)
            for tick in ticks:
                self.recorder.tick_seen(tick.at)
                on_tick(tick)
            await asyncio.sleep(self.every)
