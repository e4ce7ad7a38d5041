"""Storing one provider answer of daily bars: the bars upserted, with the answer's splits and
dividends (market.services.corporate_actions), in one transaction, and what was stored tallied
for the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from market.models import DailyBar, Dividend, Instrument, RefreshRun, SplitEvent
from market.providers import BarsData
from market.services.corporate_actions import (
    _send_dividends_recorded,
    _send_splits_recorded,
    _store_dividends,
    _store_splits,
)

BAR_BATCH_SIZE = 5000  # rows per INSERT when writing thousands of bars
BAR_UPDATE_FIELDS = ["open", "high", "low", "close", "adj_close", "volume", "source"]


@dataclass
class _BarsTally:
    instruments: set[int] = field(default_factory=set)  # ids of instruments that got bars
    bars: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # symbol -> bars without a close
    new_split_ids: list[int] = field(default_factory=list)
    refetch: dict[int, date] = field(default_factory=dict)  # instrument id -> first stored bar
    dividends: int = 0
    changed_dividends: int = 0  # new, or with another amount or currency than stored
    answered: set[int] = field(default_factory=set)  # ids the provider had an answer for
    unknown: dict[int, str] = field(default_factory=dict)  # id -> why it did not know the symbol
    deactivated: list[str] = field(default_factory=list)


def _bar_rows(instrument_id: int, data: BarsData, source: str) -> tuple[list[DailyBar], int]:
    rows, dropped = [], 0
    for bar in data.bars:
        # BarData refuses unclean prices and a missing close (market/providers/base.py).
        if not isinstance(bar.date, date):
            dropped += 1
            continue
        rows.append(
            DailyBar(
                instrument_id=instrument_id,
                date=bar.date,
                open=bar.open,
                high=bar.high,
                low=bar.low,
                close=bar.close,
                adj_close=bar.adj_close,
                volume=bar.volume,
                source=source,
            )
        )
    return rows, dropped


def _store_bars(
    run: RefreshRun,
    instruments: dict[str, Instrument],
    batch_items: dict[str, BarsData],
    *,
    source: str,
    fetched_from: date,
    first_dates: dict[int, date | None],
    tally: _BarsTally,
) -> None:
    """Upsert the bars, splits and dividends of one provider answer; note the new splits and
    the new or changed dividends."""
    bars: list[DailyBar] = []
    splits: dict[tuple[int, date], SplitEvent] = {}
    dividends: dict[tuple[int, date], Dividend] = {}
    for symbol, data in batch_items.items():
        instrument = instruments.get(symbol)
        if instrument is None:
            continue
        rows, dropped = _bar_rows(instrument.pk, data, source)
        if dropped:
            tally.dropped[symbol] = tally.dropped.get(symbol, 0) + dropped
        if rows:
            tally.instruments.add(instrument.pk)
        bars += rows
        for split in data.splits:  # clean ratios (market.providers.base)
            if split.ratio != 1:
                splits[(instrument.pk, split.date)] = SplitEvent(
                    instrument_id=instrument.pk, date=split.date, ratio=split.ratio
                )
        for dividend in data.dividends:  # clean values (market.providers.base)
            dividends[(instrument.pk, dividend.date)] = Dividend(
                instrument_id=instrument.pk,
                ex_date=dividend.date,
                amount=dividend.amount,
                currency=dividend.currency,
            )
    with transaction.atomic():
        DailyBar.objects.bulk_create(
            bars,
            update_conflicts=True,
            unique_fields=["instrument", "date"],
            update_fields=BAR_UPDATE_FIELDS,
            batch_size=BAR_BATCH_SIZE,
        )
        changed_dividend_ids = _store_dividends(dividends)
        if changed_dividend_ids:
            tally.changed_dividends += len(changed_dividend_ids)
            transaction.on_commit(lambda: _send_dividends_recorded(changed_dividend_ids))
        new_keys, new_ids = _store_splits(splits)
        if new_keys:
            tally.new_split_ids += new_ids
            transaction.on_commit(lambda: _send_splits_recorded(new_ids))
            for instrument_id, _ in new_keys:
                # Yahoo restates every close before a split: history older than this fetch
                # went stale and is fetched again.
                first = first_dates.get(instrument_id)
                if first is not None and first < fetched_from:
                    tally.refetch[instrument_id] = first
        RefreshRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    tally.bars += len(bars)
    tally.dividends += len(dividends)
