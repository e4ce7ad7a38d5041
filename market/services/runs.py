"""Refresh runs: claiming a run, finishing it, its outcome, and the provider's cool-down."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
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
# A running row with no heartbeat for this long was left by a crashed process.
STALE_AFTER = {
    RefreshRun.Kind.QUOTES: timedelta(minutes=5),
    RefreshRun.Kind.PROFILES: timedelta(minutes=15),
    RefreshRun.Kind.BARS: timedelta(minutes=15),
}


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

    Returns (run, claimed). A running row whose heartbeat is older than the kind's stale timeout
    is marked failed first, so a crashed worker does not block refreshes forever.
    """
    stale_before = now - STALE_AFTER[kind]
    minutes = int(STALE_AFTER[kind].total_seconds() // 60)
    RefreshRun.objects.filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at=None, started_at__lt=stale_before),
        kind=kind,
        status=RefreshRun.Status.RUNNING,
    ).update(
        status=RefreshRun.Status.FAILED,
        finished_at=now,
        error_text=f"abandoned: no sign of life for {minutes} minutes (did the worker stop?)",
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
