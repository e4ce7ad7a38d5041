"""Refresh runs: claiming a run, finishing it, its outcome, and the provider's cool-down.

Every refresh follows one protocol, `refresh_run`: claim the run (or record a skipped one),
do the work, finish the run with what was stored, and on any failure record it as failed (or
partial), note the provider's rate limit and outage, and raise again for the task to retry.

A claimed run holds a lease: a thread of the claiming process writes the run's heartbeat every
HEARTBEAT_EVERY until the run finishes. A running row whose heartbeat is older than LEASE (three
missed beats) belongs to a process that died (a worker killed, a machine lost), and the next
claim marks it failed and takes over: with beat ticking every minute, quotes are refreshed
again within two ticks of a crash instead of waiting out a long timeout.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from market import outage
from market.models import (
    RefreshRun,
)
from market.providers import (
    ProviderError,
    RateLimited,
    UnknownSymbol,
)

Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=15)
# A running row with no heartbeat for this long was left by a process that died.
LEASE = 3 * HEARTBEAT_EVERY
# No run beats longer than its task may last (Celery's time limits: 120 s for quotes, an hour
# for the daily kinds); a run that outlives that without finishing stops holding its lease.
BEAT_AT_MOST = {
    RefreshRun.Kind.QUOTES: timedelta(minutes=3),
    RefreshRun.Kind.PROFILES: timedelta(minutes=65),
    RefreshRun.Kind.BARS: timedelta(minutes=65),
}


class _Heartbeat(threading.Thread):
    """Writes a running run's heartbeat until stopped, until the row is no longer running, or
    for BEAT_AT_MOST; it dies with its process, which is the point."""

    def __init__(self, run_id: int, kind: str):
        super().__init__(name=f"refresh-heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.stop = threading.Event()
        self.deadline = time.monotonic() + BEAT_AT_MOST[kind].total_seconds()

    def run(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_EVERY.total_seconds()):
                if time.monotonic() > self.deadline:
                    return
                try:
                    beat = RefreshRun.objects.filter(
                        pk=self.run_id, status=RefreshRun.Status.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except Exception:
                    # A database busy for a moment (SQLite's write lock): beat again next time.
                    log.warning("heartbeat of refresh run %s missed", self.run_id, exc_info=True)
                    connection.close()
                    continue
                if not beat:
                    return
        finally:
            connection.close()  # this thread's own connection


_heartbeats: dict[int, _Heartbeat] = {}


def _start_heartbeat(run: RefreshRun) -> None:
    heartbeat = _heartbeats[run.pk] = _Heartbeat(run.pk, run.kind)
    heartbeat.start()


def _stop_heartbeat(run: RefreshRun) -> None:
    heartbeat = _heartbeats.pop(run.pk, None)
    if heartbeat is not None:
        heartbeat.stop.set()


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _cooldown_key(provider_name: str) -> str:
    return f"market:provider-cooldown:{provider_name}"


def provider_cooldown(provider_name: str) -> datetime | None:
    """Until when the provider asked us not to call it (a 429's Retry-After), or None."""
    try:
        until = cache.get(_cooldown_key(provider_name))
    except Exception:  # a cache outage must not stop refreshes
        return None
    return until if until is not None and until > timezone.now() else None


def note_rate_limit(provider_name: str, exc: BaseException) -> None:
    if isinstance(exc, RateLimited) and exc.retry_after and exc.retry_after > 0:
        until = timezone.now() + timedelta(seconds=exc.retry_after)
        with contextlib.suppress(Exception):
            cache.set(_cooldown_key(provider_name), until, timeout=math.ceil(exc.retry_after))


def claim_run(kind: str, provider_name: str, now: datetime) -> tuple[RefreshRun, bool]:
    """Start a run of `kind`, or record a skipped one when another is running.

    Returns (run, claimed). A running row whose heartbeat is older than LEASE is marked failed
    first, so a process that died does not block refreshes for long. A claimed run beats until
    `finish_run`.
    """
    stale_before = now - LEASE
    seconds = int(LEASE.total_seconds())
    RefreshRun.objects.filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at=None, started_at__lt=stale_before),
        kind=kind,
        status=RefreshRun.Status.RUNNING,
    ).update(
        status=RefreshRun.Status.FAILED,
        finished_at=now,
        error_text=f"abandoned: no sign of life for {seconds} seconds (did the worker stop?)",
    )

    def skipped(reason: str) -> tuple[RefreshRun, bool]:
        run = RefreshRun.objects.create(
            kind=kind,
            provider=provider_name,
            started_at=now,
            finished_at=now,
            duration_ms=0,
            status=RefreshRun.Status.SKIPPED,
            error_text=f"skipped: {reason}",
        )
        return run, False

    cooldown = provider_cooldown(provider_name)
    if cooldown is not None:
        return skipped(f"{provider_name} is not called again before {cooldown:%H:%M:%S} UTC")
    try:
        with transaction.atomic():
            run = RefreshRun.objects.create(
                kind=kind,
                provider=provider_name,
                started_at=now,
                heartbeat_at=now,
                status=RefreshRun.Status.RUNNING,
            )
        _start_heartbeat(run)
        return run, True
    except IntegrityError:
        holder = RefreshRun.objects.filter(kind=kind, status=RefreshRun.Status.RUNNING).first()
        since = (
            f"run {holder.pk} started {holder.started_at:%Y-%m-%d %H:%M:%S} UTC" if holder else ""
        )
        return skipped(f"another {kind} refresh is running ({since})")


def finish_run(
    run: RefreshRun,
    status: str,
    started: float,
    *,
    requested: int = 0,
    stored: int = 0,
    errors: dict[str, str] | None = None,
    error_text: str = "",
    details: dict | None = None,
) -> RefreshRun:
    _stop_heartbeat(run)
    run.status = status
    run.finished_at = run.started_at + timedelta(seconds=time.monotonic() - started)
    run.duration_ms = round((time.monotonic() - started) * 1000)
    run.requested_count = requested
    run.stored_count = stored
    run.errors = errors or {}
    run.error_count = len(run.errors)
    run.error_text = error_text
    run.details = details or {}
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "duration_ms",
            "requested_count",
            "stored_count",
            "error_count",
            "errors",
            "error_text",
            "details",
        ]
    )
    return run


def run_outcome(stored: int, errors: dict) -> str:
    if not errors:
        return RefreshRun.Status.OK
    return RefreshRun.Status.PARTIAL if stored else RefreshRun.Status.FAILED


def errors_summary(errors: dict[str, str]) -> str:
    if not errors:
        return ""
    shown = ", ".join(sorted(errors)[:10])
    more = f" and {len(errors) - 10} more" if len(errors) > 10 else ""
    return f"{len(errors)} symbol(s) failed: {shown}{more}"


def note_provider_failure(provider_name: str, run: RefreshRun, exc: BaseException) -> None:
    """A run failed because of the provider: count it in the outage, back off from a host that
    cannot be resolved, and log it in one line (market.outage)."""
    if isinstance(exc, ProviderError) and not isinstance(exc, UnknownSymbol):
        outage.record_failure(
            provider_name, run.get_kind_display().lower(), run.error_text, now=timezone.now()
        )


def note_provider_success(provider_name: str) -> None:
    outage.record_success(provider_name)


@dataclass
class Refresh:
    """A claimed (or skipped) run and what its work has counted so far: what `refresh_run`
    records when the work ends, whether it ends well or by an exception."""

    run: RefreshRun
    provider_name: str
    claimed: bool
    started: float
    requested: int = 0
    stored: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    finished: bool = False

    def finish(self, status: str | None = None, *, error_text: str | None = None) -> RefreshRun:
        """Record the run's end: `status` (by default ok, partial or failed from what was
        stored and the per-item errors) and the counts. A run that stored something ends the
        provider's outage."""
        status = status or run_outcome(self.stored, self.errors)
        finish_run(
            self.run,
            status,
            self.started,
            requested=self.requested,
            stored=self.stored,
            errors=self.errors,
            error_text=errors_summary(self.errors) if error_text is None else error_text,
            details=self.details,
        )
        self.finished = True
        if self.stored and status != RefreshRun.Status.FAILED:
            note_provider_success(self.provider_name)
        return self.run

    def fail(self, exc: BaseException) -> None:
        note_rate_limit(self.provider_name, exc)
        status = RefreshRun.Status.PARTIAL if self.stored else RefreshRun.Status.FAILED
        finish_run(
            self.run,
            status,
            self.started,
            requested=self.requested,
            stored=self.stored,
            errors=self.errors,
            error_text=describe_error(exc),
            details=self.details,
        )
        self.finished = True
        note_provider_failure(self.provider_name, self.run, exc)


@contextlib.contextmanager
def refresh_run(kind: str, provider_name: str, now: datetime) -> Iterator[Refresh]:
    """The one protocol of a refresh run, around the work of one refresh:

        with refresh_run(RefreshRun.Kind.QUOTES, provider.name, now) as refresh:
            if not refresh.claimed:
                return refresh.run  # skipped: another run holds the kind, or a cool-down
            refresh.requested = ...
            ...  # fetch and store, counting refresh.stored and refresh.errors
        return refresh.run

    A run the work leaves unfinished is finished on leaving the block (ok, partial or failed
    from the counts); an exception of any kind (a provider error, a time limit, a database
    error that rolled the work back) records the run as failed, or partial when something was
    stored, notes the provider's rate limit and outage, and is raised again.
    """
    started = time.monotonic()
    run, claimed = claim_run(kind, provider_name, now)
    refresh = Refresh(run=run, provider_name=provider_name, claimed=claimed, started=started)
    if not claimed:
        yield refresh
        return
    try:
        yield refresh
    except BaseException as exc:
        refresh.fail(exc)
        raise
    if not refresh.finished:
        refresh.finish()
