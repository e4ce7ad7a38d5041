"""Celery tasks: thin wrappers over market.services, taking plain values and returning run ids.

They are idempotent (the services upsert), acknowledged late, time-limited, and retried with
exponential backoff and jitter when the provider is down or rate-limits us; a rate limit that
says how long to wait is honoured with a retry after exactly that long (and the services skip
any refresh that would call the provider before then).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from celery import shared_task
from celery.signals import worker_ready

from market import outage, services
from market.models import RefreshRun
from market.providers import ProviderUnavailable, RateLimited

logger = logging.getLogger(__name__)

RETRYABLE = (ProviderUnavailable, RateLimited)

# The quotes task runs every minute: a retry is only worth it before the next tick, so the
# backoff stays short (beat gives each tick 55 seconds to start, see CELERY_BEAT_SCHEDULE).
QUOTES_OPTIONS = {
    "acks_late": True,
    "time_limit": 120,
    "soft_time_limit": 100,
    "autoretry_for": RETRYABLE,
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 3,
}
DAILY_OPTIONS = {
    "acks_late": True,
    "time_limit": 3600,
    "soft_time_limit": 3300,
    "autoretry_for": RETRYABLE,
    "retry_backoff": 30,
    "retry_backoff_max": 900,
    "retry_jitter": True,
    "max_retries": 5,
}


def _honour_retry_after(task, exc: RateLimited):
    """Retry after the provider's Retry-After when it gave one; otherwise let autoretry's
    exponential backoff decide."""
    if exc.retry_after:
        raise task.retry(exc=exc, countdown=max(1, math.ceil(exc.retry_after)))
    raise exc


def _run(task, refresh: Callable[[], RefreshRun | None]) -> int | None:
    """The refresh's run id. The failed run is already recorded and logged in one line by the
    service (market.outage), so a failure that retrying cannot mend ends the task quietly, with
    None, instead of a traceback per attempt: a host that cannot be resolved (the service backs
    off from it), or the last of the retries."""
    try:
        run = refresh()
    except RateLimited as exc:
        _honour_retry_after(task, exc)
    except ProviderUnavailable as exc:
        if outage.host_unresolved(str(exc)) or task.request.retries >= task.max_retries:
            return None
        raise
    return run.pk if run is not None else None


@shared_task(bind=True, name="market.refresh_quotes", **QUOTES_OPTIONS)
def refresh_quotes(self, force: bool = False) -> int | None:
    return _run(self, lambda: services.refresh_quotes(force=force))


@shared_task(bind=True, name="market.refresh_profiles", **DAILY_OPTIONS)
def refresh_profiles(self, force: bool = False) -> int | None:
    return _run(self, lambda: services.refresh_profiles(force=force))


@shared_task(bind=True, name="market.update_bars", **DAILY_OPTIONS)
def update_bars(self, years: int = 5) -> int | None:
    return _run(self, lambda: services.update_bars(years=years))


@shared_task(bind=True, name="market.backfill_bars", **DAILY_OPTIONS)
def backfill_bars(self, symbols: list[str] | None = None, years: int = 5) -> int | None:
    return _run(self, lambda: services.backfill_bars(symbols=symbols, years=years))


@shared_task(bind=True, name="market.backfill_missing_bars", **DAILY_OPTIONS)
def backfill_missing_bars(self, years: int = 5) -> int | None:
    return _run(self, lambda: services.backfill_missing_bars(years=years))


@shared_task(name="market.prune_snapshots", acks_late=True, time_limit=600, soft_time_limit=540)
def prune_snapshots() -> dict:
    result = services.prune_snapshots()
    return {"snapshots": result.snapshots, "refresh_runs": result.refresh_runs}


@worker_ready.connect
def _refresh_when_a_worker_starts(sender=None, **kwargs) -> None:
    """A worker that serves the default queue starts with a quotes refresh (pages have prices
    within seconds of `make run` instead of after the first beat tick), then the profiles and
    the history of instruments that have none (a fresh install), which may take longer."""
    app = refresh_quotes.app
    try:
        queues = {queue.name for queue in sender.task_consumer.queues}
    except AttributeError:
        return
    if app.conf.task_default_queue not in queues:
        return  # a worker for other queues (tests use their own) must not fill the default one
    refresh_quotes.apply_async(expires=55)
    refresh_profiles.apply_async(countdown=5)
    backfill_missing_bars.apply_async(countdown=10)
    logger.info("worker ready: queued a quotes refresh, profiles and missing history")
