"""Signals the market pipeline sends, so other apps react without market importing them."""

from django.dispatch import Signal

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
