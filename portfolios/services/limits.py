"""Per-user caps and budgets (config/limits.py): how many alerts, portfolios, pending uploads and
new symbols one account may have, and how many provider lookups and uploads it may make in a
window of time.

The database decides, never the cache (a cache may lose or refuse a write): a cap counts the
user's rows while the user's own account row is locked, so that concurrent requests of one user
take turns and never both pass; a budget is a counter row per user and window that one
conditional UPDATE increments only while it is under the limit. Nothing shared is locked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portfolios.models import UsageCount

Action = UsageCount.Action


def lock_owner(user_id: int) -> None:
    """Serialise one user's capped writes until the caller's transaction ends: their account
    row, locked FOR NO KEY UPDATE (rows that refer to the user can still be inserted meanwhile).
    On SQLite the transaction itself serialises writers."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_owner must run inside a transaction")
    (
        get_user_model()
        .objects.select_for_update(of=("self",), no_key=True)
        .filter(pk=user_id)
        .values_list("pk", flat=True)
        .first()
    )


@dataclass(frozen=True)
class Spent:
    """The answer of `spend`: whether the unit was granted, and when the window ends."""

    granted: bool
    limit: int
    window_ends: datetime

    def __bool__(self) -> bool:
        return self.granted

    def wait_text(self, now: datetime | None = None) -> str:
        """ "in 40 seconds", "in 12 minutes": when the next window starts."""
        seconds = max(1, math.ceil((self.window_ends - (now or timezone.now())).total_seconds()))
        if seconds < 120:
            return f"in {seconds} second{'s' if seconds != 1 else ''}"
        return f"in {math.ceil(seconds / 60)} minutes"


def window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def spend(
    user_id: int, action: str, *, limit: int, window_seconds: int, now: datetime | None = None
) -> Spent:
    """Take one unit of the user's budget for `action` in the current window (calendar minutes
    or hours, UTC): granted while fewer than `limit` were taken, race-free."""
    now = now or timezone.now()
    start = window_start(now, window_seconds)
    ends = start + timedelta(seconds=window_seconds)
    if limit <= 0:
        return Spent(False, limit, ends)
    UsageCount.objects.bulk_create(
        [UsageCount(owner_id=user_id, action=action, window_start=start, count=0)],
        ignore_conflicts=True,
    )
    granted = UsageCount.objects.filter(
        owner_id=user_id, action=action, window_start=start, count__lt=limit
    ).update(count=F("count") + 1)
    return Spent(bool(granted), limit, ends)


def spend_lookup(user_id: int | None, *, now: datetime | None = None) -> Spent:
    """One lookup with the market-data provider (PROVIDER_LOOKUPS_PER_MINUTE per user). A call
    made on nobody's behalf (a task, a command) is not counted."""
    if user_id is None:
        return Spent(True, 0, now or timezone.now())
    return spend(
        user_id,
        Action.PROVIDER_LOOKUP,
        limit=settings.PROVIDER_LOOKUPS_PER_MINUTE,
        window_seconds=60,
        now=now,
    )


def forget_old_usage(now: datetime | None = None) -> int:
    """Delete the counters of windows that ended more than a day ago."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted, _ = UsageCount.objects.filter(window_start__lt=cutoff).delete()
    return deleted
