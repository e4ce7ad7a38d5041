"""Uploads waiting for their confirmation, and previews too long for a request.

An upload is kept in a table (never in the cache, where its evictions would drop other users'
keys): one per portfolio, at most PENDING_IMPORTS_PER_USER per account, CSV_IMPORT_MAX_ROWS
rows each, CSV_IMPORTS_PER_HOUR uploads per account, and deleted PENDING_IMPORT_MINUTES after
upload by the clean-up task. A file of more than CSV_IMPORT_INLINE_ROWS rows is previewed by a
Celery task that writes its progress on the row, which the import page polls.

The preview a task computed is kept on the row, pickled: it is written and read only by this
module (the file's own bytes are only ever parsed as CSV).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from market.providers import SearchHit
from portfolios.csv_import.cells import ImportRefused
from portfolios.csv_import.results import ImportPreview
from portfolios.csv_import.service import preview_import
from portfolios.models import PendingImport, Portfolio, UsageCount
from portfolios.services.limits import Spent, forget_old_usage, lock_owner, spend

log = logging.getLogger(__name__)
State = PendingImport.State

# Progress is written at most this often (seconds) while a task previews a file.
PROGRESS_SECONDS = 0.5


class UploadRefused(Exception):
    """An upload past one of the limits; the message says which and what to do."""


def count_rows(content: bytes) -> int:
    """The file's rows: its non-blank lines after the first (the header)."""
    lines = sum(1 for line in content.splitlines() if line.strip())
    return max(0, lines - 1)


def spend_upload(owner_id: int, *, now: datetime | None = None) -> Spent:
    """One upload of the account's CSV_IMPORTS_PER_HOUR."""
    return spend(
        owner_id,
        UsageCount.Action.IMPORT_UPLOAD,
        limit=settings.CSV_IMPORTS_PER_HOUR,
        window_seconds=3600,
        now=now,
    )


def check_rows(rows: int) -> None:
    limit = settings.CSV_IMPORT_MAX_ROWS
    if rows > limit:
        raise UploadRefused(
            f"The file has {rows:,} rows; one import takes at most {limit:,}. Split it into "
            "smaller files."
        )


def store_upload(
    *, portfolio: Portfolio, filename: str, content: bytes, now: datetime | None = None
) -> PendingImport:
    """Keep the file for its confirmation, in place of the portfolio's previous upload; raise
    UploadRefused past CSV_IMPORT_MAX_ROWS or PENDING_IMPORTS_PER_USER."""
    now = now or timezone.now()
    rows = count_rows(content)
    check_rows(rows)
    owner_id = portfolio.owner_id
    limit = settings.PENDING_IMPORTS_PER_USER
    with transaction.atomic():
        lock_owner(owner_id)  # the count and the insert of one user take turns
        PendingImport.objects.filter(portfolio=portfolio).delete()
        waiting = list(
            PendingImport.objects.filter(owner_id=owner_id, expires_at__gt=now)
            .select_related("portfolio")
            .order_by("expires_at")
        )
        if len(waiting) >= limit:
            names = ", ".join(f"“{p.portfolio.name}”" for p in waiting)
            raise UploadRefused(
                f"Files wait for their confirmation in {len(waiting)} of your portfolios "
                f"({names}), the most one account may have: import or cancel one of them "
                f"first, or upload this one again after "
                f"{timezone.localtime(waiting[0].expires_at):%H:%M} UTC, when the oldest expires."
            )
        return PendingImport.objects.create(
            owner_id=owner_id,
            portfolio=portfolio,
            filename=filename[:255],
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            rows=rows,
            expires_at=now + timedelta(minutes=settings.PENDING_IMPORT_MINUTES),
        )


def find_pending(portfolio: Portfolio, sha256: str) -> PendingImport | None:
    """The portfolio's upload when it is the file whose preview the form came from (its
    SHA-256 is in the form) and it has not expired."""
    pending = PendingImport.objects.filter(portfolio=portfolio, expires_at__gt=timezone.now())
    found = pending.first()
    if found is None or not constant_time_compare(found.sha256, sha256 or ""):
        return None
    return found


def is_large(pending: PendingImport) -> bool:
    return pending.rows > settings.CSV_IMPORT_INLINE_ROWS


def searched_hits(pending: PendingImport) -> dict[str, list[SearchHit]]:
    return {code: [SearchHit(*hit) for hit in hits] for code, hits in pending.searched.items()}


def preview_pending(
    pending: PendingImport, *, progress: Callable[[str, int, int], None] | None = None
) -> ImportPreview:
    """Preview the upload with its ISIN answers and listings; keep what the preview learnt
    (and the preview itself) on the row."""
    preview = preview_import(
        portfolio=pending.portfolio,
        content=bytes(pending.content),
        listings=pending.listings,
        searched=searched_hits(pending),
        progress=progress,
    )
    pending.listings = preview.listings
    pending.searched = {
        code: [[h.symbol, h.name, h.exchange, h.kind] for h in hits]
        for code, hits in preview.searched.items()
    }
    pending.preview = pickle.dumps(preview, protocol=pickle.HIGHEST_PROTOCOL)
    pending.state, pending.error = State.READY, ""
    # An update, not a save: the upload may have been cancelled or replaced meanwhile.
    PendingImport.objects.filter(pk=pending.pk, sha256=pending.sha256).update(
        listings=pending.listings,
        searched=pending.searched,
        preview=pending.preview,
        state=pending.state,
        error="",
    )
    return preview


def stored_preview(pending: PendingImport) -> ImportPreview | None:
    if pending.state != State.READY or not pending.preview:
        return None
    return pickle.loads(bytes(pending.preview))  # written by preview_pending only


def start_preview(pending: PendingImport) -> None:
    """Queue the upload's preview as a task (once this transaction commits)."""
    pending.state, pending.step, pending.done, pending.total = State.CHECKING, "", 0, 0
    pending.step = "Waiting for a worker to check the file"
    pending.preview, pending.error = None, ""
    pending.save(update_fields=["state", "step", "done", "total", "preview", "error"])
    pending_id = pending.pk

    def queue() -> None:
        from portfolios.tasks import preview_pending_import

        try:
            preview_pending_import.delay(pending_id)
        except Exception:  # the broker is down: say so on the page instead of waiting forever
            log.exception("could not queue the preview of upload %s", pending_id)
            PendingImport.objects.filter(pk=pending_id).update(
                state=State.FAILED,
                error="The file could not be queued for checking. Try again in a minute.",
            )

    transaction.on_commit(queue)


def run_preview(pending_id: int) -> str:
    """The task's work: preview the upload, writing progress as it goes. The upload's new
    state ("ready", "failed"; "gone" when it was cancelled or replaced meanwhile)."""
    pending = PendingImport.objects.select_related("portfolio").filter(pk=pending_id).first()
    if pending is None or pending.state != State.CHECKING:
        return "gone"
    written = [0.0]

    def progress(step: str, done: int, total: int) -> None:
        if time.monotonic() - written[0] < PROGRESS_SECONDS and done and done != total:
            return
        written[0] = time.monotonic()
        PendingImport.objects.filter(pk=pending_id).update(step=step[:200], done=done, total=total)

    progress(f"Reading {pending.rows:,} rows", 0, 0)
    try:
        preview_pending(pending, progress=progress)
    except ImportRefused as exc:
        PendingImport.objects.filter(pk=pending_id).update(state=State.FAILED, error=str(exc))
        return State.FAILED
    except Exception:
        PendingImport.objects.filter(pk=pending_id).update(
            state=State.FAILED, error="The file could not be checked. Try again in a minute."
        )
        raise
    return State.READY


def forget_expired(now: datetime | None = None) -> int:
    """Delete the uploads whose confirmation time has passed, and the budget counters of
    windows that ended more than a day ago."""
    deleted, _ = PendingImport.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted + forget_old_usage(now)


def discard(pending: PendingImport) -> None:
    """Forget the upload (confirmed, cancelled, or nothing in it to confirm)."""
    PendingImport.objects.filter(pk=pending.pk).delete()
