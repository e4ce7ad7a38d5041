import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


def _queue_after_commit(task_name: str, what: str, **task_kwargs) -> None:
    """Queue the task once the current transaction has committed (at once outside one). A broker
    that cannot be reached is logged, never raised into the write that sent us (a refresh, an
    admin save that has already committed): the next refresh or recompute does the work."""
    from django.db import transaction

    from portfolios import tasks

    def queue() -> None:
        try:
            getattr(tasks, task_name).delay(**task_kwargs)
        except Exception:
            log.exception("could not queue the %s", what)

    transaction.on_commit(queue)


def _on_quotes_refreshed(sender, refresh_run_id=None, **kwargs):
    """Queue the alert evaluation; never let a broker problem fail the refresh that sent us."""
    _queue_after_commit(
        "evaluate_alerts",
        f"alert evaluation after refresh {refresh_run_id}",
        refresh_run_id=refresh_run_id,
    )


def _on_quotes_streamed(sender, instrument_ids=(), **kwargs):
    """Note the streamed instruments for the next alert evaluation, queued by a thread of its
    own (portfolios.streamed_alerts): the stream's write path never waits on alerts."""
    from portfolios.streamed_alerts import streamed_alerts

    streamed_alerts.add(instrument_ids)


def _on_splits_recorded(sender, split_event_ids=(), **kwargs):
    """Queue the ledgers' update for new splits (found by a bars run), so the bars task does not
    wait for every holding of the split instruments to be recomputed."""
    if split_event_ids:
        ids = list(split_event_ids)
        _queue_after_commit("apply_splits", f"ledger update for splits {ids}", split_event_ids=ids)


def _on_split_event_changed(sender, instance, raw=False, **kwargs):
    """A split added, edited or deleted outside a bars run (in the admin) reaches the ledgers:
    every holding of its instrument is recomputed once the change has committed."""
    if raw:  # loaddata: the fixture's ledgers are loaded as they were
        return
    instrument_id = instance.instrument_id
    _queue_after_commit(
        "apply_splits",
        f"ledger update for {instrument_id}'s splits",
        instrument_ids=[instrument_id],
    )


def _on_dividends_recorded(sender, dividend_ids=(), **kwargs):
    """Queue the ledgers' update for new or restated dividends (found by a bars run), so the
    bars task does not wait for every holding of their instruments to be recomputed."""
    if dividend_ids:
        ids = list(dividend_ids)
        _queue_after_commit(
            "apply_dividends", f"ledger update for dividends {ids}", dividend_ids=ids
        )


def _on_history_started(sender, instrument_ids=(), **kwargs):
    """An FX rate's first daily closes arrived: the dividends left unpaid for want of them (in
    another currency than their instrument's) are paid now, not at the holding's next write."""
    from portfolios.services.dividends import converted_by

    waiting = converted_by(list(instrument_ids))
    if waiting:
        _queue_after_commit(
            "apply_dividends", f"ledger update for dividends of {waiting}", instrument_ids=waiting
        )


def _on_dividend_changed(sender, instance, raw=False, **kwargs):
    """A dividend added, edited or deleted outside a bars run (in the admin) reaches the
    ledgers: every holding of its instrument is recomputed once the change has committed (for
    a deleted one, that removes its automatic entries)."""
    if raw:  # loaddata: the fixture's ledgers are loaded as they were
        return
    instrument_id = instance.instrument_id
    _queue_after_commit(
        "apply_dividends",
        f"ledger update for {instrument_id}'s dividends",
        instrument_ids=[instrument_id],
    )


def _parent_owner_changed(parent: str):
    """A receiver for rows owned through a parent (a holding's portfolio, an item's watchlist):
    the owner comes from the parent already loaded on the row, else from one small query."""
    from config import versions

    def receiver(sender, instance, **kwargs):
        field = sender._meta.get_field(parent)
        if field.is_cached(instance):
            owner_id = getattr(instance, parent).owner_id
        else:
            owner_id = (
                field.related_model.objects.filter(pk=getattr(instance, field.attname))
                .values_list("owner_id", flat=True)
                .first()
            )
        versions.user_changed(owner_id)

    return receiver


class PortfoliosConfig(AppConfig):
    name = "portfolios"
    verbose_name = "Watchlists and portfolios"

    def ready(self) -> None:
        from market.signals import (
            dividends_recorded,
            history_started,
            quotes_refreshed,
            quotes_streamed,
            splits_recorded,
        )
        from market.streaming.sse import PRIVATE_PARTS
        from portfolios.live import open_portfolio

        quotes_refreshed.connect(_on_quotes_refreshed, dispatch_uid="portfolios.alerts")
        quotes_streamed.connect(_on_quotes_streamed, dispatch_uid="portfolios.alerts.stream")
        PRIVATE_PARTS["portfolio"] = open_portfolio
        splits_recorded.connect(_on_splits_recorded, dispatch_uid="portfolios.splits")
        dividends_recorded.connect(_on_dividends_recorded, dispatch_uid="portfolios.dividends")
        history_started.connect(_on_history_started, dispatch_uid="portfolios.fx_history")
        self._connect_market_history()
        self._connect_user_versions()

    def _connect_market_history(self) -> None:
        """A split or a dividend saved or deleted outside a bars run (in the admin) reaches the
        ledgers of its instrument."""
        from django.db.models.signals import post_delete, post_save

        from market.models import Dividend, SplitEvent

        for model, receiver, name in (
            (SplitEvent, _on_split_event_changed, "split"),
            (Dividend, _on_dividend_changed, "dividend"),
        ):
            for signal, suffix in ((post_save, "save"), (post_delete, "delete")):
                signal.connect(receiver, sender=model, dispatch_uid=f"portfolios.{name}.{suffix}")

    def _connect_user_versions(self) -> None:
        """Saves and deletes of a user's rows, wherever they come from (a form, the admin, a
        task), replace that user's version token (their pages' ETags change). Deletes of
        holdings and transactions are left out (a delete receiver would make a portfolio's
        cascade fetch every row): they happen in requests
        (config.conditional.UserWritesMiddleware) or in tasks that say so."""
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from config import versions

        def connect(receiver, sender, uid: str, *, deletes: bool = True) -> None:
            signals = [(post_save, "save")] + ([(post_delete, "delete")] if deletes else [])
            for signal, suffix in signals:
                signal.connect(receiver, sender=sender, weak=False, dispatch_uid=f"{uid}.{suffix}")

        for name in ("Watchlist", "Portfolio", "PriceAlert", "Notification"):
            connect(versions.owner_changed, self.get_model(name), f"versions.owner.{name}")
        for name in ("Holding", "Transaction"):
            connect(
                _parent_owner_changed("portfolio"),
                self.get_model(name),
                f"versions.owner.{name}",
                deletes=False,
            )
        connect(
            _parent_owner_changed("watchlist"),
            self.get_model("WatchlistItem"),
            "versions.owner.WatchlistItem",
        )
        connect(versions.account_changed, get_user_model(), "versions.user")
