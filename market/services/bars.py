"""Daily bars, splits and dividends: backfills, updates, and re-fetching history after a new
split; symbols the provider keeps not knowing are made inactive (market.services.delisting).
Each provider answer is stored by market.services.bar_storage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.db.models import Max, Min
from django.utils import timezone

from market import sessions
from market.models import DailyBar, Instrument, RefreshRun
from market.providers import MarketDataProvider, UnknownSymbol, get_provider
from market.services.bar_storage import (  # noqa: F401 (re-exported for callers)
    BAR_BATCH_SIZE,
    BAR_UPDATE_FIELDS,
    _BarsTally,
    _store_bars,
)
from market.services.corporate_actions import _send_history_started
from market.services.delisting import note_symbol_answers
from market.services.runs import Progress, Refresh, describe_error, refresh_run

BARS_CHUNK = 25
BARS_OVERLAP_DAYS = 7  # an update re-reads the last week: the latest bar may have been partial
MISSING_BARS_RETRY_AFTER = timedelta(hours=6)


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
    with refresh_run(RefreshRun.Kind.BARS, provider.name, now) as refresh:
        if not refresh.claimed:
            return refresh.run
        if not plan:
            return refresh.finish(RefreshRun.Status.SKIPPED, error_text="nothing to fetch")
        refresh.requested = len(plan)
        tally = _BarsTally()
        try:
            _fetch_plan(refresh, provider, plan, tally, progress)
        finally:
            # Whether the run ends well or not, the symbols answered so far count.
            tally.deactivated = note_symbol_answers(tally.answered, tally.unknown, now=now)
            refresh.stored = len(tally.instruments)
            refresh.details = _bars_details(tally)
    return refresh.run


def _fetch_plan(
    refresh: Refresh,
    provider: MarketDataProvider,
    plan: list[tuple[Instrument, date]],
    tally: _BarsTally,
    progress: Progress | None,
) -> None:
    """Fetch and store the plan, then again the whole history of instruments with a new split."""
    end = None  # up to the provider's today (a crypto day ends at midnight UTC, not New York)
    ids = [instrument.pk for instrument, _ in plan]
    first_dates = dict(
        DailyBar.objects.filter(instrument_id__in=ids)
        .values("instrument_id")
        .annotate(first=Min("date"))
        .values_list("instrument_id", "first")
    )
    options = {"end": end, "tally": tally, "errors": refresh.errors, "progress": progress}
    done = _fetch_and_store(
        refresh.run, provider, plan, first_dates=first_dates, total=len(plan), **options
    )
    if tally.refetch:
        by_id = {instrument.pk: instrument for instrument, _ in plan}
        again = [(by_id[pk], first) for pk, first in tally.refetch.items()]
        _fetch_and_store(
            refresh.run,
            provider,
            again,
            first_dates={},
            done=done,
            total=done + len(again),
            **options,
        )
    if progress:
        progress(len(plan) + len(tally.refetch), len(plan) + len(tally.refetch))
    started_ids = sorted(tally.instruments - set(first_dates))
    if started_ids:  # the first bars of these instruments: what waited for them may go on
        _send_history_started(started_ids)


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
