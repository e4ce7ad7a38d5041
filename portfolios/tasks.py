"""Celery tasks of the portfolios app: thin wrappers over services, taking plain values."""

from __future__ import annotations

from celery import shared_task

from portfolios import services
from portfolios.csv_import import pending


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100, ignore_result=True)
def evaluate_alerts(
    refresh_run_id: int | None = None, instrument_ids: list[int] | None = None
) -> int:
    """Fire the alerts the latest quotes meet (after the quotes refresh `refresh_run_id`, or on
    the instruments the live stream wrote)."""
    return len(services.evaluate_alerts(instrument_ids=instrument_ids))


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540, ignore_result=True)
def apply_splits(
    split_event_ids: list[int] | None = None, instrument_ids: list[int] | None = None
) -> int:
    """Bring the ledgers holding these instruments (those of new split events, or those whose
    split history was edited) in line with their split history."""
    return services.apply_splits(split_event_ids or (), instrument_ids=instrument_ids or ())


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540, ignore_result=True)
def apply_dividends(
    dividend_ids: list[int] | None = None, instrument_ids: list[int] | None = None
) -> int:
    """Bring the ledgers holding these instruments (those of new or restated dividends, or those
    whose dividend history was edited) in line with their dividend history."""
    return services.apply_dividends(dividend_ids or (), instrument_ids=instrument_ids or ())


@shared_task(bind=True, acks_late=True, time_limit=120, soft_time_limit=100, ignore_result=True)
def fetch_fx_rates(self, symbols: list[str]) -> str:
    """Quote new FX-rate instruments now, not at the next beat tick, so that a portfolio in
    another currency shows its values within seconds of being created. When another quotes
    refresh holds the lock, try again shortly (that refresh may not have included them)."""
    from market.models import RefreshRun
    from market.services import refresh_quotes

    run = refresh_quotes(force=True, symbols=symbols)
    if run.status == RefreshRun.Status.SKIPPED and "another" in run.error_text:
        raise self.retry(countdown=5, max_retries=6)
    return run.status


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def retire_unused_instruments() -> int:
    """Stop refreshing the instruments no one holds, watches or has an alert on."""
    return services.retire_unused_instruments()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def preview_pending_import(pending_id: int) -> str:
    """Preview a large uploaded file, writing the progress the import page shows."""
    return pending.run_preview(pending_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def forget_expired_uploads() -> int:
    """Delete the uploads whose confirmation time passed and the budget counters of old windows."""
    return pending.forget_expired()
