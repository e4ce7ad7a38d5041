"""Alerts on the live stream's instruments, evaluated off the stream's write path.

The stream's write thread only adds the instruments it wrote to a set (the quotes_streamed
receiver in portfolios.apps): that costs microseconds whatever the number of alerts. A daemon
thread queues one Celery evaluation of the instruments gathered, at most every
ALERT_STREAM_EVALUATION_SECONDS, and a worker evaluates them in batches; so the streamer waits
neither for the evaluation nor for the broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

# Queued evaluations older than this are dropped by the worker: a later one covers them.
EVALUATION_EXPIRES_SECONDS = 60


def queue_evaluation(instrument_ids: list[int]) -> None:
    from portfolios.tasks import evaluate_alerts

    evaluate_alerts.apply_async(
        kwargs={"instrument_ids": instrument_ids}, expires=EVALUATION_EXPIRES_SECONDS
    )


class StreamedAlerts:
    """The instruments streamed since the last evaluation was queued, and the thread that
    queues the next one."""

    def __init__(self, queue: Callable[[list[int]], None] = queue_evaluation) -> None:
        self._queue = queue
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, instrument_ids: Iterable[int]) -> None:
        """Note instruments whose quotes were written; never blocks on anything but a set."""
        with self._lock:
            self._pending.update(instrument_ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="streamed-alerts", daemon=True
                )
                self._thread.start()

    def flush(self) -> list[int]:
        """Queue one evaluation of the instruments gathered so far (none: nothing queued); on
        a broker failure they are kept for the next try."""
        with self._lock:
            ids, self._pending = sorted(self._pending), set()
        if not ids:
            return []
        try:
            self._queue(ids)
        except Exception:  # the broker is down: try again with the next round
            log.exception("could not queue the evaluation of alerts on %d instruments", len(ids))
            with self._lock:
                self._pending.update(ids)
            return []
        return ids

    def stop(self) -> None:
        """End the thread after one last flush (the streamer stopping, a test ending)."""
        thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)
        self._wake.clear()
        self.flush()

    def _run(self) -> None:
        while not self._wake.wait(settings.ALERT_STREAM_EVALUATION_SECONDS):
            try:
                self.flush()
            finally:  # a task run eagerly (tests) used this thread's own connection
                connections.close_all()


streamed_alerts = StreamedAlerts()
