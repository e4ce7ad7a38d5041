import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


def _on_quotes_refreshed(sender, refresh_run_id=None, **kwargs):
    """Queue the alert evaluation; never let a broker problem fail the refresh that sent us."""
    from portfolios.tasks import evaluate_alerts

    try:
        evaluate_alerts.delay_on_commit(refresh_run_id)
    except Exception:  # the broker is down: the next refresh queues the evaluation again
        log.exception("could not queue the alert evaluation after refresh %s", refresh_run_id)


def _on_splits_recorded(sender, split_event_ids=(), **kwargs):
    """Apply new splits right away: they are rare, and only holdings of the split instruments
    are recomputed (each in its own transaction)."""
    from portfolios.services import apply_splits

    if split_event_ids:
        apply_splits(list(split_event_ids))


class PortfoliosConfig(AppConfig):
    name = "portfolios"
    verbose_name = "Watchlists and portfolios"

    def ready(self) -> None:
        from market.signals import quotes_refreshed, splits_recorded

        quotes_refreshed.connect(_on_quotes_refreshed, dispatch_uid="portfolios.alerts")
        splits_recorded.connect(_on_splits_recorded, dispatch_uid="portfolios.splits")
