"""Refreshing instrument profiles: names, exchanges, share counts, enterprise values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from market.models import (
    Instrument,
    RefreshRun,
)
from market.providers import (
    MarketDataProvider,
    ProfileData,
    get_provider,
)
from market.services.runs import Progress, Refresh, describe_error, refresh_run

PROFILE_MAX_AGE = timedelta(hours=20)
PROFILE_CHUNK = 50  # symbols per provider call (and per progress step)


def apply_profile(instrument: Instrument, profile: ProfileData, now: datetime) -> None:
    """Copy a profile's figures (clean already: ProfileData refuses others) onto `instrument`."""
    if profile.shares_outstanding:
        instrument.shares_outstanding = profile.shares_outstanding
    if profile.enterprise_value is not None:
        instrument.enterprise_value = profile.enterprise_value
    # The universe file's curated names and exchanges win; the provider only fills blanks.
    if not instrument.name and profile.name:
        instrument.name = profile.name[:200]
    if not instrument.exchange and profile.exchange:
        instrument.exchange = profile.exchange[:40]
    instrument.profile_updated_at = now


def refresh_profiles(
    *,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    force: bool = False,
    symbols: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RefreshRun:
    """Refresh shares outstanding and enterprise value of instruments whose profile is older
    than PROFILE_MAX_AGE (all of them with `force`), PROFILE_CHUNK symbols per provider call."""
    provider = provider or get_provider()
    now = now or timezone.now()
    with refresh_run(RefreshRun.Kind.PROFILES, provider.name, now) as refresh:
        if not refresh.claimed:
            return refresh.run
        instruments = Instrument.objects.filter(is_active=True)
        if symbols is not None:
            instruments = instruments.filter(symbol__in=[s.upper() for s in symbols])
        if not force:
            instruments = instruments.exclude(profile_updated_at__gt=now - PROFILE_MAX_AGE)
        due = list(instruments.order_by("symbol"))
        if not due:
            return refresh.finish(
                RefreshRun.Status.SKIPPED, error_text="nothing due: every profile is fresh"
            )
        refresh.requested = len(due)
        for offset in range(0, len(due), PROFILE_CHUNK):
            if progress:
                progress(offset, len(due))
            _refresh_chunk(refresh, provider, due[offset : offset + PROFILE_CHUNK], now)
        if progress:
            progress(len(due), len(due))
    return refresh.run


def _refresh_chunk(
    refresh: Refresh, provider: MarketDataProvider, chunk: list[Instrument], now: datetime
) -> None:
    batch = provider.fetch_profiles([i.symbol for i in chunk])
    updated = []
    for instrument in chunk:
        profile = batch.items.get(instrument.symbol)
        if profile is None:
            error = batch.errors.get(instrument.symbol)
            refresh.errors[instrument.symbol] = describe_error(error) if error else "no profile"
            continue
        apply_profile(instrument, profile, now)
        updated.append(instrument)
    with transaction.atomic():
        Instrument.objects.bulk_update(
            updated,
            ["shares_outstanding", "enterprise_value", "name", "exchange", "profile_updated_at"],
        )
        RefreshRun.objects.filter(pk=refresh.run.pk).update(heartbeat_at=timezone.now())
    refresh.stored += len(updated)
