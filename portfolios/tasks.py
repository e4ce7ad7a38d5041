"""Celery tasks of the portfolios app: thin wrappers over services, taking plain values."""

from __future__ import annotations

from celery import shared_task

from portfolios import services


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100, ignore_result=True)
def evaluate_alerts(refresh_run_id: int | None = None) -> int:
    """Fire the alerts the latest quotes meet (after the quotes refresh `refresh_run_id`)."""
    return len(services.evaluate_alerts())


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540, ignore_result=True)
def apply_splits(
    split_event_ids: list[int] | None = None, instrument_ids: list[int] | None = None
) -> int:
    """Bring the ledgers holding these instruments (those of new split events, or those whose
    split history was edited) in line with their split history."""
    return services.apply_splits(split_event_ids or (), instrument_ids=instrument_ids or ())


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def retire_unused_instruments() -> int:
    """Stop refreshing the instruments no one holds, watches or has an alert on."""
    return services.retire_unused_instruments()
