"""Splits and dividends from the provider's daily history: split events upserted, dividends
stored when new or restated, and the new ones announced (market.signals) once the run's
transaction commits."""

from __future__ import annotations

from datetime import date

from market import signals
from market.models import DailyBar, Dividend, SplitEvent


def _store_dividends(dividends: dict[tuple[int, date], Dividend]) -> list[int]:
    """Upsert the dividends that are new or whose amount or currency changed (a provider may
    restate them, as Yahoo does for every dividend before a split); returns their ids.
    Unchanged ones are not written, so a run that brings nothing new changes nothing."""
    if not dividends:
        return []
    stored = {
        (instrument_id, ex_date): (amount, currency)
        for instrument_id, ex_date, amount, currency in Dividend.objects.filter(
            instrument_id__in={key[0] for key in dividends}
        ).values_list("instrument_id", "ex_date", "amount", "currency")
    }
    changed = {
        key: dividend
        for key, dividend in dividends.items()
        if stored.get(key) != (dividend.amount, dividend.currency)
    }
    if not changed:
        return []
    Dividend.objects.bulk_create(
        list(changed.values()),
        update_conflicts=True,
        unique_fields=["instrument", "ex_date"],
        update_fields=["amount", "currency"],
    )
    rows = Dividend.objects.filter(
        instrument_id__in={key[0] for key in changed},
        ex_date__in={key[1] for key in changed},
    ).values_list("pk", "instrument_id", "ex_date")
    return sorted(pk for pk, instrument_id, ex_date in rows if (instrument_id, ex_date) in changed)


def _store_splits(
    splits: dict[tuple[int, date], SplitEvent],
) -> tuple[list[tuple[int, date]], list[int]]:
    """Upsert the split events; returns the (instrument id, date) keys of those that were not
    stored before, and their ids."""
    if not splits:
        return [], []
    known = set(
        SplitEvent.objects.filter(instrument_id__in={key[0] for key in splits}).values_list(
            "instrument_id", "date"
        )
    )
    new_keys = [key for key in splits if key not in known]
    SplitEvent.objects.bulk_create(
        list(splits.values()),
        update_conflicts=True,
        unique_fields=["instrument", "date"],
        update_fields=["ratio"],
    )
    if not new_keys:
        return [], []
    wanted = set(new_keys)
    stored = SplitEvent.objects.filter(
        instrument_id__in={key[0] for key in wanted},
        date__in={key[1] for key in wanted},
    ).values_list("pk", "instrument_id", "date")
    new_ids = [pk for pk, instrument_id, day in stored if (instrument_id, day) in wanted]
    return new_keys, new_ids


def _send_dividends_recorded(dividend_ids: list[int]) -> None:
    signals.send(signals.dividends_recorded, Dividend, dividend_ids=dividend_ids)


def _send_history_started(instrument_ids: list[int]) -> None:
    signals.send(signals.history_started, DailyBar, instrument_ids=instrument_ids)


def _send_splits_recorded(split_event_ids: list[int]) -> None:
    signals.send(signals.splits_recorded, SplitEvent, split_event_ids=split_event_ids)
