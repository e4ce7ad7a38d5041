"""Daily bars, splits and dividends: backfills, updates, and re-fetching history after a new
split; symbols the provider keeps not knowing are made inactive (market.services.delisting)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from market import sessions, signals
from market.models import (
    DailyBar,
    Dividend,
    Instrument,
    RefreshRun,
    SplitEvent,
)
from market.providers import (
    BarsData,
    MarketDataProvider,
    UnknownSymbol,
    get_provider,
)
from market.services.delisting import note_symbol_answers
from market.services.runs import (
    Progress,
    claim_run,
    describe_error,
    errors_summary,
    finish_run,
    note_provider_failure,
    note_rate_limit,
    run_outcome,
)

logger = logging.getLogger(__name__)


BARS_CHUNK = 25
BARS_OVERLAP_DAYS = 7  # an update re-reads the last week: the latest bar may have been partial
BAR_BATCH_SIZE = 5000  # rows per INSERT when writing thousands of bars
MISSING_BARS_RETRY_AFTER = timedelta(hours=6)
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
        known = set()
        if splits:
            known = set(
                SplitEvent.objects.filter(instrument_id__in={key[0] for key in splits}).values_list(
                    "instrument_id", "date"
                )
            )
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
        new_keys = [key for key in splits if key not in known]
        if splits:
            SplitEvent.objects.bulk_create(
                list(splits.values()),
                update_conflicts=True,
                unique_fields=["instrument", "date"],
                update_fields=["ratio"],
            )
        if new_keys:
            wanted = set(new_keys)
            stored = SplitEvent.objects.filter(
                instrument_id__in={key[0] for key in wanted},
                date__in={key[1] for key in wanted},
            ).values_list("pk", "instrument_id", "date")
            new_ids = [pk for pk, instrument_id, day in stored if (instrument_id, day) in wanted]
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


def _send_dividends_recorded(dividend_ids: list[int]) -> None:
    for receiver, response in signals.dividends_recorded.send_robust(
        sender=Dividend, dividend_ids=dividend_ids
    ):
        if isinstance(response, Exception):
            logger.error(
                "dividends_recorded receiver %r failed for %s",
                receiver,
                dividend_ids,
                exc_info=response,
            )


def _send_splits_recorded(split_event_ids: list[int]) -> None:
    for receiver, response in signals.splits_recorded.send_robust(
        sender=SplitEvent, split_event_ids=split_event_ids
    ):
        if isinstance(response, Exception):
            logger.error(
                "splits_recorded receiver %r failed for %s",
                receiver,
                split_event_ids,
                exc_info=response,
            )


def _fetch_and_store(
    run: RefreshRun,
    provider: MarketDataProvider,
    plan: list[tuple[Instrument, date]],
    *,
    end: date | None,
    first_dates: dict[int, date | None],
    tally: _BarsTally,
    errors: dict[str, str],
    progress: Progress | None,
    done: int = 0,
    total: int | None = None,
) -> int:
    """Fetch bars for (instrument, start) pairs, grouped by start, BARS_CHUNK symbols a call."""
    total = total if total is not None else len(plan)
    by_start: dict[date, list[Instrument]] = defaultdict(list)
    for instrument, start in plan:
        by_start[start].append(instrument)
    for start in sorted(by_start):
        group = by_start[start]
        for offset in range(0, len(group), BARS_CHUNK):
            if progress:
                progress(done, total)
            chunk = {i.symbol: i for i in group[offset : offset + BARS_CHUNK]}
            batch = provider.fetch_daily_bars(list(chunk), start, end)
            for symbol, error in batch.errors.items():
                if symbol in chunk:
                    errors[symbol] = describe_error(error)
                    if isinstance(error, UnknownSymbol):
                        tally.unknown[chunk[symbol].pk] = errors[symbol]
            tally.answered.update(chunk[s].pk for s in batch.items if s in chunk)
            for symbol in chunk:
                if symbol not in batch.items and symbol not in batch.errors:
                    errors[symbol] = "no bars in the provider's answer"
            _store_bars(
                run,
                chunk,
                batch.items,
                source=provider.name,
                fetched_from=start,
                first_dates=first_dates,
                tally=tally,
            )
            done += len(chunk)
    return done


def _run_bars(
    plan: list[tuple[Instrument, date]],
    *,
    provider: MarketDataProvider,
    now: datetime,
    progress: Progress | None,
) -> RefreshRun:
    started = time.monotonic()
    run, claimed = claim_run(RefreshRun.Kind.BARS, provider.name, now)
    if not claimed:
        return run
    if not plan:
        return finish_run(run, RefreshRun.Status.SKIPPED, started, error_text="nothing to fetch")
    end = None  # up to the provider's today (a crypto day ends at midnight UTC, not New York)
    ids = [instrument.pk for instrument, _ in plan]
    first_dates = dict(
        DailyBar.objects.filter(instrument_id__in=ids)
        .values("instrument_id")
        .annotate(first=Min("date"))
        .values_list("instrument_id", "first")
    )
    tally = _BarsTally()
    errors: dict[str, str] = {}
    try:
        done = _fetch_and_store(
            run,
            provider,
            plan,
            end=end,
            first_dates=first_dates,
            tally=tally,
            errors=errors,
            progress=progress,
            total=len(plan),
        )
        if tally.refetch:
            by_id = {instrument.pk: instrument for instrument, _ in plan}
            again = [(by_id[pk], first) for pk, first in tally.refetch.items()]
            _fetch_and_store(
                run,
                provider,
                again,
                end=end,
                first_dates={},
                tally=tally,
                errors=errors,
                progress=progress,
                done=done,
                total=done + len(again),
            )
        if progress:
            progress(len(plan) + len(tally.refetch), len(plan) + len(tally.refetch))
    except BaseException as exc:
        note_rate_limit(provider.name, exc)
        tally.deactivated = note_symbol_answers(tally.answered, tally.unknown, now=now)
        finish_run(
            run,
            RefreshRun.Status.PARTIAL if tally.instruments else RefreshRun.Status.FAILED,
            started,
            requested=len(plan),
            stored=len(tally.instruments),
            errors=errors,
            error_text=describe_error(exc),
            details=_bars_details(tally),
        )
        note_provider_failure(provider.name, run, exc)
        raise
    tally.deactivated = note_symbol_answers(tally.answered, tally.unknown, now=now)
    stored = len(tally.instruments)
    return finish_run(
        run,
        run_outcome(stored, errors),
        started,
        requested=len(plan),
        stored=stored,
        errors=errors,
        error_text=errors_summary(errors),
        details=_bars_details(tally),
    )


def _bars_details(tally: _BarsTally) -> dict:
    return {
        "bars": tally.bars,
        "new_splits": len(tally.new_split_ids),
        "split_event_ids": tally.new_split_ids,
        "refetched": len(tally.refetch),
        "dropped_bars": tally.dropped,
        "dividends": tally.dividends,
        "changed_dividends": tally.changed_dividends,
        "deactivated": tally.deactivated,
    }


def _instruments(symbols: Sequence[str] | None):
    instruments = Instrument.objects.filter(is_active=True).order_by("symbol")
    if symbols is not None:
        wanted = [s.strip().upper() for s in symbols]
        instruments = Instrument.objects.filter(symbol__in=wanted).order_by("symbol")
    return instruments


def backfill_bars(
    *,
    symbols: Sequence[str] | None = None,
    years: int = 5,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RefreshRun:
    """Fetch `years` of daily bars and split events (all active instruments, or `symbols`).

    Upserts, so running it again changes nothing but what the provider restated. A split that
    was not stored before sends market.signals.splits_recorded, and when older bars than this
    fetch exist, that instrument's whole stored history is fetched again (closes before a split
    are restated by the provider)."""
    provider = provider or get_provider()
    now = now or timezone.now()
    if years < 1:
        raise ValueError("years must be at least 1")
    start = _years_before(now.astimezone(sessions.NEW_YORK).date(), years)
    plan = [(instrument, start) for instrument in _instruments(symbols)]
    return _run_bars(plan, provider=provider, now=now, progress=progress)


def update_bars(
    *,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    years: int = 5,
    progress: Progress | None = None,
) -> RefreshRun:
    """The daily job: the last BARS_OVERLAP_DAYS of bars again (the latest bar may have been
    taken mid-session) and anything newer, for every active instrument; instruments without any
    bar yet (a fresh install, an added symbol) get a backfill of `years` instead."""
    provider = provider or get_provider()
    now = now or timezone.now()
    today = now.astimezone(sessions.NEW_YORK).date()
    backfill_from = _years_before(today, years)
    plan = []
    for instrument in _instruments(None).annotate(last_bar=Max("bars__date")):
        if instrument.last_bar is None:
            plan.append((instrument, backfill_from))
        else:
            plan.append((instrument, instrument.last_bar - timedelta(days=BARS_OVERLAP_DAYS)))
    return _run_bars(plan, provider=provider, now=now, progress=progress)


def backfill_missing_bars(
    *,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    years: int = 5,
    progress: Progress | None = None,
) -> RefreshRun | None:
    """Backfill the active instruments that have no bar at all; None (and no run recorded) when
    there are none, so that it can be checked often at the cost of a query or two.

    A symbol that failed in a bars run of the last MISSING_BARS_RETRY_AFTER (a delisted one, one
    the provider has no history for) waits that long before it is asked for again.
    """
    now = now or timezone.now()
    missing = set(
        Instrument.objects.filter(is_active=True, bars__isnull=True).values_list(
            "symbol", flat=True
        )
    )
    if not missing:
        return None
    for errors in RefreshRun.objects.filter(
        kind=RefreshRun.Kind.BARS, started_at__gte=now - MISSING_BARS_RETRY_AFTER
    ).values_list("errors", flat=True):
        missing -= set(errors or {})
    if not missing:
        return None
    return backfill_bars(
        symbols=sorted(missing), years=years, provider=provider, now=now, progress=progress
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
