"""Signals the market pipeline sends, so other apps react without market importing them."""

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent after a quotes refresh has committed; kwargs: refresh_run_id (int).
quotes_refreshed = Signal()

# Sent after new split events were stored; kwargs: split_event_ids (list[int]).
splits_recorded = Signal()

# Sent after dividends were stored that are new or whose amount or currency changed;
# kwargs: dividend_ids (list[int]).
dividends_recorded = Signal()

# Sent after the live stream wrote quotes and committed; kwargs: instrument_ids (list[int]).
quotes_streamed = Signal()

# Sent after a bars run stored the first daily bars of instruments that had none (a new symbol,
# an FX rate a portfolio or a dividend needs); kwargs: instrument_ids (list[int]).
history_started = Signal()


def send(signal: Signal, sender, **kwargs) -> None:
    """Send `signal` to every receiver. One that fails is logged, with what was sent, and stops
    neither the others nor the writer that sent it (its data has committed)."""
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            name = next((n for n, value in globals().items() if value is signal), "signal")
            logger.error("%s receiver %r failed for %s", name, receiver, kwargs, exc_info=response)
