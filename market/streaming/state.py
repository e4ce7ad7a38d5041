"""The streamer's state: every change logged in one line and kept in the cache for /status/.

The cache is written from a thread of the recorder's own, never from the event loop: a Redis
that hangs must not hold the stream's frames and writes for its timeout (a cache call blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("minerwatch.stream")

CACHE_KEY = "market:stream:state"
# Kept a while after the streamer stops, so /status/ can say it stopped and when.
CACHE_SECONDS = 24 * 3600

STARTING = "starting"
CONNECTING = "connecting"
STREAMING = "streaming"
BACKING_OFF = "backing off"
STOPPED = "stopped"


@dataclass
class StreamState:
    state: str = STARTING
    detail: str = ""
    since: str = ""  # ISO times: the record is stored as plain JSON-able values
    source: str = ""
    subscribed: int = 0
    connections: int = 0
    reconnects: int = 0
    watchdog_trips: int = 0
    ticks: int = 0
    malformed: int = 0
    stale_ticks: int = 0
    writes: int = 0  # quote rows
    flushes: int = 0  # write statements
    last_tick_at: str = ""
    updated_at: str = ""
    history: list[str] = field(default_factory=list)


class StateRecorder:
    """Holds the streamer's state; `change()` logs and stores, `save()` stores the counters."""

    HISTORY = 20

    def __init__(self, source: str) -> None:
        self.current = StreamState(source=source, since=timezone.now().isoformat())
        # One thread: the records reach the cache in the order they were made.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-state")
        self._last_write: Future | None = None

    def change(self, state: str, detail: str = "") -> None:
        now = timezone.now()
        if state == self.current.state and detail == self.current.detail:
            return
        self.current.state, self.current.detail = state, detail
        self.current.since = now.isoformat()
        line = f"stream {state}" + (f": {detail}" if detail else "")
        logger.info(line)
        self.current.history = [f"{now:%Y-%m-%d %H:%M:%S} {line}", *self.current.history][
            : self.HISTORY
        ]
        self.save()

    def count(self, name: str, by: int = 1) -> None:
        setattr(self.current, name, getattr(self.current, name) + by)

    def tick_seen(self, at: datetime) -> None:
        self.current.ticks += 1
        self.current.last_tick_at = at.isoformat()

    def save(self) -> None:
        """Store the state: at once outside an event loop, else by the writer thread (the
        loop goes on at once)."""
        self.current.updated_at = timezone.now().isoformat()
        record = asdict(self.current)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            _store(record)
            return
        self._last_write = self._writer.submit(_store, record)

    @property
    def writing(self) -> bool:
        """Whether a record is still on its way to the cache."""
        return self._last_write is not None and not self._last_write.done()

    async def saved(self) -> None:
        """Wait until the records saved so far are in the cache (or failed to get there)."""
        if self._last_write is not None:
            await asyncio.wrap_future(self._last_write)


def _store(record: dict) -> None:
    with contextlib.suppress(Exception):  # a cache that is down must not stop the stream
        cache.set(CACHE_KEY, record, CACHE_SECONDS)


def stream_state() -> dict | None:
    """The last state the streamer stored (None: it never ran, or the cache forgot)."""
    try:
        return cache.get(CACHE_KEY)
    except Exception:
        return None
