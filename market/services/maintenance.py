"""Pruning old price snapshots and quote refresh runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import versions
from market.models import (
    PriceSnapshot,
    RefreshRun,
)


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    snapshots: int
    refresh_runs: int


def prune_snapshots(*, now: datetime | None = None) -> PruneResult:
    """Delete snapshots older than settings.SNAPSHOT_RETENTION_DAYS, and the quote refresh runs
    of the same age (one a minute: the audit trail keeps the snapshots' window)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)
    with transaction.atomic():
        snapshots, _ = PriceSnapshot.objects.filter(taken_at__lt=cutoff).delete()
        runs, _ = (
            RefreshRun.objects.filter(kind=RefreshRun.Kind.QUOTES, started_at__lt=cutoff)
            .exclude(status=RefreshRun.Status.RUNNING)
            .delete()
        )
    if snapshots or runs:
        versions.market_changed()
    return PruneResult(cutoff=cutoff, snapshots=snapshots, refresh_runs=runs)
