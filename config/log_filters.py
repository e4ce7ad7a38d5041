"""Logging filters: a logger that would repeat one line per call says it once per interval."""

from __future__ import annotations

import logging
import time


class OncePerInterval(logging.Filter):
    """Let one record through per `seconds` (per process): e.g. the cache's "Exception ignored",
    which would otherwise come with every cache call while Redis is away."""

    def __init__(self, seconds: float = 30.0):
        super().__init__()
        self.seconds = seconds
        self._last = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True
