"""Writes of market data: quote refreshes, profiles, daily bars and splits, pruning, new symbols.

Every refresh records a RefreshRun. Only one run of a kind is `running` at a time (the partial
unique constraint `one_running_refresh_per_kind` is the lock); a run whose heartbeat is older
than its kind's stale timeout belongs to a crashed worker and is marked failed by the next one.

Writes are bulk upserts on the unique keys, so a refresh of N instruments issues the same
statements whatever N is (for quotes: one upsert of quotes, one of snapshots). Nothing the
provider returns is trusted: a price that is missing, NaN, infinite, zero or negative is never
stored, and that symbol keeps its last good quote.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from config import versions
from market import sessions, signals
from market.models import (
    DailyBar,
    Instrument,
    MarketState,
    PriceSnapshot,
    Quote,
    RefreshRun,
    SplitEvent,
)
from market.providers import (
    BarsData,
    MarketDataProvider,
    ProfileData,
    ProviderError,
    QuoteData,
    RateLimited,
    UnknownSymbol,
    get_provider,
)

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# A running row with no heartbeat for this long was left by a crashed process.
STALE_AFTER = {
    RefreshRun.Kind.QUOTES: timedelta(minutes=5),
    RefreshRun.Kind.PROFILES: timedelta(minutes=15),
    RefreshRun.Kind.BARS: timedelta(minutes=15),
}
PROFILE_MAX_AGE = timedelta(hours=20)
PROFILE_CHUNK = 50  # symbols per provider call (and per progress step)
BARS_CHUNK = 25
BARS_OVERLAP_DAYS = 7  # an update re-reads the last week: the latest bar may have been partial
BAR_BATCH_SIZE = 5000  # rows per INSERT when writing thousands of bars
MISSING_BARS_RETRY_AFTER = timedelta(hours=6)

SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$")

EIGHT_PLACES = Decimal("0.00000001")
FOUR_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")
PRICE_LIMIT = Decimal(10) ** 12  # DecimalField(max_digits=20, decimal_places=8)
PERCENT_LIMIT = Decimal(10) ** 8  # max_digits=12, decimal_places=4
MONEY_LIMIT = Decimal(10) ** 22  # max_digits=24, decimal_places=2
BIGINT_LIMIT = 2**63

QUOTE_UPDATE_FIELDS = [
    "price",
    "previous_close",
    "change",
    "change_percent",
    "market_state",
    "pre_market_price",
    "pre_market_change",
    "pre_market_change_percent",
    "post_market_price",
    "post_market_change",
    "post_market_change_percent",
    "day_high",
    "day_low",
    "volume",
    "shares_outstanding",
    "market_cap",
    "currency",
    "provider_time",
    "fetched_at",
    "source",
]
SNAPSHOT_UPDATE_FIELDS = ["price", "market_state", "volume", "market_cap", "source"]
BAR_UPDATE_FIELDS = ["open", "high", "low", "close", "adj_close", "volume", "source"]


class InvalidQuote(ValueError):
    """A provider quote we will not store (no usable price)."""


# -- numbers from providers ----------------------------------------------------------------------


def _decimal(value: Any, *, places: Decimal = EIGHT_PLACES, limit: Decimal = PRICE_LIMIT):
    """A finite Decimal rounded to `places` and within the column's range, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            return None
        number = number.quantize(places, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if abs(number) < limit else None


def _positive(value: Any, **kwargs) -> Decimal | None:
    number = _decimal(value, **kwargs)
    return number if number is not None and number > 0 else None


def _count(value: Any) -> int | None:
    """A non-negative integer (volume, share count), None for NaN, negatives or junk."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not number.is_finite() or number < 0 or number >= BIGINT_LIMIT:
        return None
    return int(number)


def _change(value: Decimal | None, reference: Decimal | None):
    """(change, change in percent) of `value` against `reference`."""
    if value is None or reference is None or reference <= 0:
        return None, None
    change = _decimal(value - reference)
    percent = _decimal(
        (value - reference) / reference * 100, places=FOUR_PLACES, limit=PERCENT_LIMIT
    )
    return change, percent


def _aware(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- the run guard and the provider's cool-down --------------------------------------------------


def _cooldown_key(provider_name: str) -> str:
    return f"market:provider-cooldown:{provider_name}"


def provider_cooldown(provider_name: str) -> datetime | None:
    """Until when the provider asked us not to call it (a 429's Retry-After), or None."""
    try:
        until = cache.get(_cooldown_key(provider_name))
    except Exception:  # a cache outage must not stop refreshes
        return None
    return until if until is not None and until > timezone.now() else None


def _note_rate_limit(provider_name: str, exc: BaseException) -> None:
    if isinstance(exc, RateLimited) and exc.retry_after and exc.retry_after > 0:
        until = timezone.now() + timedelta(seconds=exc.retry_after)
        with contextlib.suppress(Exception):
            cache.set(_cooldown_key(provider_name), until, timeout=math.ceil(exc.retry_after))


def _claim_run(kind: str, provider_name: str, now: datetime) -> tuple[RefreshRun, bool]:
    """Start a run of `kind`, or record a skipped one when another is running.

    Returns (run, claimed). A running row whose heartbeat is older than the kind's stale timeout
    is marked failed first, so a crashed worker does not block refreshes forever.
    """
    stale_before = now - STALE_AFTER[kind]
    minutes = int(STALE_AFTER[kind].total_seconds() // 60)
    RefreshRun.objects.filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at=None, started_at__lt=stale_before),
        kind=kind,
        status=RefreshRun.Status.RUNNING,
    ).update(
        status=RefreshRun.Status.FAILED,
        finished_at=now,
        error_text=f"abandoned: no sign of life for {minutes} minutes (did the worker stop?)",
    )

    def skipped(reason: str) -> tuple[RefreshRun, bool]:
        run = RefreshRun.objects.create(
            kind=kind,
            provider=provider_name,
            started_at=now,
            finished_at=now,
            duration_ms=0,
            status=RefreshRun.Status.SKIPPED,
            error_text=f"skipped: {reason}",
        )
        return run, False

    cooldown = provider_cooldown(provider_name)
    if cooldown is not None:
        return skipped(f"{provider_name} asked us to wait until {cooldown:%H:%M:%S} UTC")
    try:
        with transaction.atomic():
            run = RefreshRun.objects.create(
                kind=kind,
                provider=provider_name,
                started_at=now,
                heartbeat_at=now,
                status=RefreshRun.Status.RUNNING,
            )
        return run, True
    except IntegrityError:
        holder = RefreshRun.objects.filter(kind=kind, status=RefreshRun.Status.RUNNING).first()
        since = (
            f"run {holder.pk} started {holder.started_at:%Y-%m-%d %H:%M:%S} UTC" if holder else ""
        )
        return skipped(f"another {kind} refresh is running ({since})")


def _finish_run(
    run: RefreshRun,
    status: str,
    started: float,
    *,
    requested: int = 0,
    stored: int = 0,
    errors: dict[str, str] | None = None,
    error_text: str = "",
    details: dict | None = None,
) -> RefreshRun:
    run.status = status
    run.finished_at = run.started_at + timedelta(seconds=time.monotonic() - started)
    run.duration_ms = round((time.monotonic() - started) * 1000)
    run.requested_count = requested
    run.stored_count = stored
    run.errors = errors or {}
    run.error_count = len(run.errors)
    run.error_text = error_text
    run.details = details or {}
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "duration_ms",
            "requested_count",
            "stored_count",
            "error_count",
            "errors",
            "error_text",
            "details",
        ]
    )
    return run


def _outcome(stored: int, errors: dict) -> str:
    if not errors:
        return RefreshRun.Status.OK
    return RefreshRun.Status.PARTIAL if stored else RefreshRun.Status.FAILED


def _errors_summary(errors: dict[str, str]) -> str:
    if not errors:
        return ""
    shown = ", ".join(sorted(errors)[:10])
    more = f" and {len(errors) - 10} more" if len(errors) > 10 else ""
    return f"{len(errors)} symbol(s) failed: {shown}{more}"


# -- quotes --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Held:
    """An active instrument and its current quote, as much of them as a refresh needs (read as
    plain values: building thousands of model instances costs more than the whole write)."""

    pk: int
    symbol: str
    kind: str
    currency: str
    shares_outstanding: int | None
    price: Decimal | None  # None: no quote yet
    volume: int | None
    market_cap: Decimal | None
    source: str | None
    market_state: str | None
    fetched_at: datetime | None


_HELD_FIELDS = [
    "pk",
    "symbol",
    "kind",
    "currency",
    "shares_outstanding",
    "quote__price",
    "quote__volume",
    "quote__market_cap",
    "quote__source",
    "quote__market_state",
    "quote__fetched_at",
]


def quote_is_due(
    state: str, quote_state: str | None, fetched_at: datetime | None, now: datetime
) -> bool:
    """Whether a refresh at `now` fetches an instrument whose market is in `state`: its market
    is in a session, or it has no quote, or its quote was taken in another session state, or the
    quote is older than the closed-market cadence."""
    if fetched_at is None or state in sessions.OPEN_STATES or quote_state != state:
        return True
    return fetched_at <= now - timedelta(minutes=settings.CLOSED_MARKET_REFRESH_MINUTES)


def _quote_row(held: _Held, data: QuoteData, state: str, now: datetime) -> Quote:
    price = _positive(data.price)
    if price is None:
        raise InvalidQuote(f"no usable price ({data.price!r})")
    previous_close = _positive(data.previous_close)
    change, change_percent = _change(price, previous_close)
    pre_market_price = _positive(data.pre_market_price)
    post_market_price = _positive(data.post_market_price)
    # Extended hours move against the last regular close: that is `price` outside the regular
    # session (Yahoo's convention), and the previous close once a new session has opened.
    pre_reference = price if state == MarketState.PRE else previous_close
    pre_change, pre_percent = _change(pre_market_price, pre_reference)
    post_change, post_percent = _change(post_market_price, price)
    shares = _count(data.shares_outstanding) or held.shares_outstanding
    if shares:
        market_cap = _decimal(price * shares, places=CENTS, limit=MONEY_LIMIT)
    else:
        market_cap = _positive(data.market_cap, places=CENTS, limit=MONEY_LIMIT)
    return Quote(
        instrument_id=held.pk,
        price=price,
        previous_close=previous_close,
        change=change,
        change_percent=change_percent,
        market_state=state,
        pre_market_price=pre_market_price,
        pre_market_change=pre_change,
        pre_market_change_percent=pre_percent,
        post_market_price=post_market_price,
        post_market_change=post_change,
        post_market_change_percent=post_percent,
        day_high=_positive(data.day_high),
        day_low=_positive(data.day_low),
        volume=_count(data.volume),
        shares_outstanding=shares or None,
        market_cap=market_cap,
        currency=(data.currency or held.currency or "")[:3].upper(),
        provider_time=_aware(data.provider_time),
        fetched_at=now,
        source=(data.source or "")[:20],
    )


def refresh_quotes(
    *,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    force: bool = False,
    symbols: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RefreshRun:
    """Fetch the quotes that are due and store them with one snapshot per instrument.

    Due: the instrument's market is in a session (pre, regular, post), or its quote is missing,
    from another session state, or older than settings.CLOSED_MARKET_REFRESH_MINUTES; `force`
    fetches every active instrument (`symbols` narrows to those). Each run that stores quotes
    writes a snapshot of every active instrument with a quote (the fresh quote, or the last good
    one), so the sector total at a `taken_at` is a plain sum.

    Raises ProviderError (after recording a failed run) when the whole provider call fails, so
    that the Celery task can retry; per-symbol problems make the run partial instead.
    """
    provider = provider or get_provider()
    now = now or timezone.now()
    started = time.monotonic()
    run, claimed = _claim_run(RefreshRun.Kind.QUOTES, provider.name, now)
    if not claimed:
        return run
    due: list[_Held] = []
    try:
        active = Instrument.objects.filter(is_active=True)
        if symbols is not None:
            active = active.filter(symbol__in=[s.upper() for s in symbols])
        held = [_Held(*row) for row in active.values_list(*_HELD_FIELDS)]
        if getattr(provider, "always_open", False):
            # The simulated provider's demo market trades round the clock.
            states = {h.kind: MarketState.REGULAR for h in held}
        else:
            states = {kind: sessions.session_state(kind, now) for kind in {h.kind for h in held}}
        due = [
            h
            for h in held
            if force or quote_is_due(states[h.kind], h.market_state, h.fetched_at, now)
        ]
        if not due:
            return _finish_run(
                run,
                RefreshRun.Status.SKIPPED,
                started,
                error_text="nothing due: every market is closed and every quote is fresh",
            )
        if progress:
            progress(0, len(due))
        batch = provider.fetch_quotes([i.symbol for i in due])
    except BaseException as exc:
        _note_rate_limit(provider.name, exc)
        _finish_run(
            run, RefreshRun.Status.FAILED, started, requested=len(due), error_text=_describe(exc)
        )
        raise

    due_symbols = {h.symbol for h in due}
    errors = {s: _describe(e) for s, e in batch.errors.items() if s in due_symbols}
    quotes: list[Quote] = []
    for h in due:
        data = batch.items.get(h.symbol)
        if data is None:
            errors.setdefault(h.symbol, "no quote in the provider's answer")
            continue
        try:
            quotes.append(_quote_row(h, data, states[h.kind], now))
        except InvalidQuote as exc:
            errors[h.symbol] = _describe(exc)
    if progress:
        progress(len(due), len(due))

    fresh = {quote.instrument_id: quote for quote in quotes}
    snapshots = []
    if quotes:
        for h in held:
            # The fresh quote, or the last good one (`h` itself) when this run did not get one.
            last = fresh.get(h.pk) or (h if h.price is not None else None)
            if last is not None:
                snapshots.append(
                    PriceSnapshot(
                        instrument_id=h.pk,
                        taken_at=now,
                        price=last.price,
                        market_state=states[h.kind],
                        volume=last.volume,
                        market_cap=last.market_cap,
                        source=last.source,
                    )
                )
    status = _outcome(len(quotes), errors)
    with transaction.atomic():
        if quotes:
            Quote.objects.bulk_create(
                quotes,
                update_conflicts=True,
                unique_fields=["instrument"],
                update_fields=QUOTE_UPDATE_FIELDS,
            )
            PriceSnapshot.objects.bulk_create(
                snapshots,
                update_conflicts=True,
                unique_fields=["instrument", "taken_at"],
                update_fields=SNAPSHOT_UPDATE_FIELDS,
            )
        _finish_run(
            run,
            status,
            started,
            requested=len(due),
            stored=len(quotes),
            errors=errors,
            error_text=_errors_summary(errors),
            details={"snapshots": len(snapshots)},
        )
        if quotes:
            run_id = run.pk
            transaction.on_commit(lambda: _send_quotes_refreshed(run_id))
    return run


def _send_quotes_refreshed(run_id: int) -> None:
    for receiver, response in signals.quotes_refreshed.send_robust(
        sender=RefreshRun, refresh_run_id=run_id
    ):
        if isinstance(response, Exception):
            logger.error(
                "quotes_refreshed receiver %r failed for run %s",
                receiver,
                run_id,
                exc_info=response,
            )


# -- profiles ------------------------------------------------------------------------------------


def _apply_profile(instrument: Instrument, profile: ProfileData, now: datetime) -> None:
    shares = _count(profile.shares_outstanding)
    if shares:
        instrument.shares_outstanding = shares
    enterprise_value = _decimal(profile.enterprise_value, places=CENTS, limit=MONEY_LIMIT)
    if enterprise_value is not None:
        instrument.enterprise_value = enterprise_value
    # The universe file's curated names and exchanges win; the provider only fills blanks.
    if not instrument.name and profile.name:
        instrument.name = profile.name[:200]
    if not instrument.exchange and profile.exchange:
        instrument.exchange = profile.exchange[:40]
    instrument.profile_updated_at = now


def refresh_profiles(
    *,
    provider: MarketDataProvider | None = None,
    now: datetime | None = None,
    force: bool = False,
    symbols: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RefreshRun:
    """Refresh shares outstanding and enterprise value of instruments whose profile is older
    than PROFILE_MAX_AGE (all of them with `force`), PROFILE_CHUNK symbols per provider call."""
    provider = provider or get_provider()
    now = now or timezone.now()
    started = time.monotonic()
    run, claimed = _claim_run(RefreshRun.Kind.PROFILES, provider.name, now)
    if not claimed:
        return run
    instruments = Instrument.objects.filter(is_active=True)
    if symbols is not None:
        instruments = instruments.filter(symbol__in=[s.upper() for s in symbols])
    if not force:
        instruments = instruments.exclude(profile_updated_at__gt=now - PROFILE_MAX_AGE)
    due = list(instruments.order_by("symbol"))
    if not due:
        return _finish_run(
            run,
            RefreshRun.Status.SKIPPED,
            started,
            error_text="nothing due: every profile is fresh",
        )
    errors: dict[str, str] = {}
    stored = 0
    try:
        for offset in range(0, len(due), PROFILE_CHUNK):
            if progress:
                progress(offset, len(due))
            chunk = due[offset : offset + PROFILE_CHUNK]
            batch = provider.fetch_profiles([i.symbol for i in chunk])
            updated = []
            for instrument in chunk:
                profile = batch.items.get(instrument.symbol)
                if profile is None:
                    error = batch.errors.get(instrument.symbol)
                    errors[instrument.symbol] = _describe(error) if error else "no profile"
                    continue
                _apply_profile(instrument, profile, now)
                updated.append(instrument)
            with transaction.atomic():
                Instrument.objects.bulk_update(
                    updated,
                    [
                        "shares_outstanding",
                        "enterprise_value",
                        "name",
                        "exchange",
                        "profile_updated_at",
                    ],
                )
                RefreshRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
            stored += len(updated)
        if progress:
            progress(len(due), len(due))
    except BaseException as exc:
        _note_rate_limit(provider.name, exc)
        status = RefreshRun.Status.PARTIAL if stored else RefreshRun.Status.FAILED
        _finish_run(
            run,
            status,
            started,
            requested=len(due),
            stored=stored,
            errors=errors,
            error_text=_describe(exc),
        )
        raise
    return _finish_run(
        run,
        _outcome(stored, errors),
        started,
        requested=len(due),
        stored=stored,
        errors=errors,
        error_text=_errors_summary(errors),
    )


# -- daily bars and splits -----------------------------------------------------------------------


@dataclass
class _BarsTally:
    instruments: set[int] = field(default_factory=set)  # ids of instruments that got bars
    bars: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # symbol -> bars without a close
    new_split_ids: list[int] = field(default_factory=list)
    refetch: dict[int, date] = field(default_factory=dict)  # instrument id -> first stored bar


def _bar_rows(instrument_id: int, data: BarsData, source: str) -> tuple[list[DailyBar], int]:
    rows, dropped = [], 0
    for bar in data.bars:
        close, adj_close = _positive(bar.close), _positive(bar.adj_close)
        if close is None or adj_close is None or not isinstance(bar.date, date):
            dropped += 1
            continue
        rows.append(
            DailyBar(
                instrument_id=instrument_id,
                date=bar.date,
                open=_positive(bar.open),
                high=_positive(bar.high),
                low=_positive(bar.low),
                close=close,
                adj_close=adj_close,
                volume=_count(bar.volume),
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
    """Upsert the bars and splits of one provider answer; note the new splits."""
    bars: list[DailyBar] = []
    splits: dict[tuple[int, date], SplitEvent] = {}
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
        for split in data.splits:
            ratio = _positive(split.ratio, places=Decimal("0.0000000001"), limit=Decimal(10) ** 10)
            if ratio is not None and ratio != 1:
                splits[(instrument.pk, split.date)] = SplitEvent(
                    instrument_id=instrument.pk, date=split.date, ratio=ratio
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
                    errors[symbol] = _describe(error)
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
    run, claimed = _claim_run(RefreshRun.Kind.BARS, provider.name, now)
    if not claimed:
        return run
    if not plan:
        return _finish_run(run, RefreshRun.Status.SKIPPED, started, error_text="nothing to fetch")
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
        _note_rate_limit(provider.name, exc)
        _finish_run(
            run,
            RefreshRun.Status.PARTIAL if tally.instruments else RefreshRun.Status.FAILED,
            started,
            requested=len(plan),
            stored=len(tally.instruments),
            errors=errors,
            error_text=_describe(exc),
            details=_bars_details(tally),
        )
        raise
    stored = len(tally.instruments)
    return _finish_run(
        run,
        _outcome(stored, errors),
        started,
        requested=len(plan),
        stored=stored,
        errors=errors,
        error_text=_errors_summary(errors),
        details=_bars_details(tally),
    )


def _bars_details(tally: _BarsTally) -> dict:
    return {
        "bars": tally.bars,
        "new_splits": len(tally.new_split_ids),
        "split_event_ids": tally.new_split_ids,
        "refetched": len(tally.refetch),
        "dropped_bars": tally.dropped,
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


# -- pruning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    snapshots: int
    refresh_runs: int


def prune_snapshots(*, now: datetime | None = None) -> PruneResult:
    """Delete snapshots older than settings.SNAPSHOT_RETENTION_DAYS, and the quote refresh runs
    of the same age (one a minute: the audit trail keeps the snapshots' window)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)
    with transaction.atomic():
        snapshots, _ = PriceSnapshot.objects.filter(taken_at__lt=cutoff).delete()
        runs, _ = (
            RefreshRun.objects.filter(kind=RefreshRun.Kind.QUOTES, started_at__lt=cutoff)
            .exclude(status=RefreshRun.Status.RUNNING)
            .delete()
        )
    if snapshots or runs:
        versions.market_changed()
    return PruneResult(cutoff=cutoff, snapshots=snapshots, refresh_runs=runs)


# -- new instruments -----------------------------------------------------------------------------


def add_instrument(symbol: str, *, provider: MarketDataProvider | None = None) -> Instrument:
    """The instrument of `symbol`, created from the provider's profile when it is new.

    Raises UnknownSymbol when the symbol is malformed or the provider does not know it, and
    ProviderUnavailable when the provider cannot say. An existing instrument is returned as it
    is (and made active again if it was not). New instruments get a quote at the next refresh
    and their history from the bars backfill that looks for instruments without bars.
    """
    symbol = (symbol or "").strip().upper()
    if not SYMBOL_RE.match(symbol):
        raise UnknownSymbol(symbol, f"{symbol!r} is not a valid symbol")
    existing = Instrument.objects.filter(symbol=symbol).first()
    if existing is not None:
        if not existing.is_active:
            existing.is_active = True
            existing.save(update_fields=["is_active"])
        return existing
    provider = provider or get_provider()
    profiles = provider.fetch_profiles([symbol])
    profile = profiles.items.get(symbol)
    error = profiles.errors.get(symbol)
    if isinstance(error, UnknownSymbol):
        raise UnknownSymbol(symbol, f"{provider.name} does not know the symbol {symbol}")
    hit = None
    if profile is None or not profile.name:
        hit = next((h for h in provider.search(symbol) if h.symbol.upper() == symbol), None)
        if profile is None and hit is None:
            if isinstance(error, ProviderError):
                raise error
            raise UnknownSymbol(symbol, f"{provider.name} does not know the symbol {symbol}")
    kind = (profile and profile.kind) or (hit and hit.kind) or Instrument.Kind.EQUITY
    instrument = Instrument(
        symbol=symbol,
        name=((profile and profile.name) or (hit and hit.name) or symbol)[:200],
        kind=kind if kind in Instrument.Kind.values else Instrument.Kind.EQUITY,
        exchange=((profile and profile.exchange) or (hit and hit.exchange) or "")[:40],
        currency=((profile and profile.currency) or "USD")[:3].upper(),
    )
    if profile is not None:
        _apply_profile(instrument, profile, timezone.now())
    try:
        with transaction.atomic():
            instrument.save()
    except IntegrityError:  # added by someone else meanwhile
        return Instrument.objects.get(symbol=symbol)
    return instrument
