"""Refreshing the latest quotes and the price snapshots of every due instrument."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from market import sessions, signals
from market.models import (
    QUOTE_FIELDS,
    Feed,
    Instrument,
    MarketState,
    PriceSnapshot,
    Quote,
    RefreshRun,
)
from market.providers import (
    Batch,
    MarketDataProvider,
    QuoteData,
    get_provider,
)
from market.services.runs import Progress, Refresh, describe_error, refresh_run
from market.services.values import CENTS, change_or_none

SHARE_PLACES = Decimal("0.0001")  # Quote.market_cap_shares


QUOTE_UPDATE_FIELDS = list(QUOTE_FIELDS)


SNAPSHOT_UPDATE_FIELDS = ["price", "market_state", "volume", "market_cap", "source"]


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
    provider_time: datetime | None
    feed: str | None


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
    "quote__provider_time",
    "quote__feed",
]
# What a batch quote still brings to a quote the live stream has priced more recently: the
# figures the stream does not send. Its price, changes, range and session are newer than the
# batch's and stay.
BATCH_ONLY_FIELDS = [
    "previous_close",
    "shares_outstanding",
    "market_cap_source",
    "market_cap_shares",
    "currency",
    "fetched_at",
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


def market_cap_basis(
    price: Decimal, market_cap: Decimal | None, shares: int | None
) -> tuple[Decimal | None, Decimal | None, str]:
    """(market cap, the shares it is priced on, where it comes from).

    The provider's own figure when it gives one (price x shares outstanding is wrong for a
    company with several share classes or ADRs), with the share count it implies, on which the
    pages put the pre- and post-market prices; price x shares outstanding only without it."""
    if market_cap is not None:
        implied = (market_cap / price).quantize(SHARE_PLACES, rounding=ROUND_HALF_EVEN)
        return market_cap, implied, Quote.CapSource.PROVIDER
    if shares:
        return (price * shares).quantize(CENTS), Decimal(shares), Quote.CapSource.SHARES
    return None, None, ""


def _quote_row(held: _Held, data: QuoteData, state: str, now: datetime) -> Quote:
    """The row to store for one provider quote. Its numbers are clean already (QuoteData
    refuses others, market/providers/base.py); what is derived here are the changes and the
    market cap's basis."""
    price, previous_close = data.price, data.previous_close
    change, change_percent = change_or_none(price, previous_close)
    pre_market_price, post_market_price = data.pre_market_price, data.post_market_price
    # Extended hours move against the last regular close: that is `price` outside the regular
    # session (Yahoo's convention), and the previous close once a new session has opened.
    pre_reference = price if state == MarketState.PRE else previous_close
    pre_change, pre_percent = change_or_none(pre_market_price, pre_reference)
    post_change, post_percent = change_or_none(post_market_price, price)
    shares = data.shares_outstanding or held.shares_outstanding
    market_cap, cap_shares, cap_source = market_cap_basis(price, data.market_cap, shares)
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
        day_high=data.day_high,
        day_low=data.day_low,
        volume=data.volume,
        shares_outstanding=shares or None,
        market_cap=market_cap,
        market_cap_source=cap_source,
        market_cap_shares=cap_shares,
        currency=(data.currency or held.currency or "")[:3].upper(),
        provider_time=data.provider_time,
        fetched_at=now,
        source=(data.source or "")[:20],
    )


def _stream_is_newer(held: _Held, data: QuoteData) -> bool:
    """The stored quote came from the live stream and is dated at or after the batch's price."""
    return (
        held.feed == Feed.STREAM
        and held.provider_time is not None
        and (data.provider_time is None or data.provider_time <= held.provider_time)
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
    with refresh_run(RefreshRun.Kind.QUOTES, provider.name, now) as refresh:
        if not refresh.claimed:
            return refresh.run
        held, states, due = _due_quotes(provider, now, force=force, symbols=symbols)
        if not due:
            return refresh.finish(
                RefreshRun.Status.SKIPPED,
                error_text="nothing due: every market is closed and every quote is fresh",
            )
        refresh.requested = len(due)
        if progress:
            progress(0, len(due))
        batch = provider.fetch_quotes([i.symbol for i in due])
        _store_quotes(refresh, batch, held, states, due, now)
        if progress:
            progress(len(due), len(due))
    return refresh.run


def _due_quotes(
    provider: MarketDataProvider,
    now: datetime,
    *,
    force: bool,
    symbols: Sequence[str] | None,
) -> tuple[list[_Held], dict[str, str], list[_Held]]:
    """(every active instrument, the session state of each kind, the instruments due)."""
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
        h for h in held if force or quote_is_due(states[h.kind], h.market_state, h.fetched_at, now)
    ]
    return held, states, due


def _snapshots(
    held: list[_Held], fresh: dict[int, Quote], states: dict[str, str], now: datetime
) -> list[PriceSnapshot]:
    snapshots = []
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
    return snapshots


def _store_quotes(
    refresh: Refresh,
    batch: Batch,
    held: list[_Held],
    states: dict[str, str],
    due: list[_Held],
    now: datetime,
) -> None:
    due_symbols = {h.symbol for h in due}
    errors = {s: describe_error(e) for s, e in batch.errors.items() if s in due_symbols}
    quotes: list[Quote] = []
    behind_stream: list[Quote] = []
    for h in due:
        data = batch.items.get(h.symbol)
        if data is None:
            errors.setdefault(h.symbol, "no quote in the provider's answer")
            continue
        row = _quote_row(h, data, states[h.kind], now)
        (behind_stream if _stream_is_newer(h, data) else quotes).append(row)
    snapshots = []
    if quotes or behind_stream:
        snapshots = _snapshots(held, {quote.instrument_id: quote for quote in quotes}, states, now)
    with transaction.atomic():
        if behind_stream:
            Quote.objects.bulk_create(
                behind_stream,
                update_conflicts=True,
                unique_fields=["instrument"],
                update_fields=BATCH_ONLY_FIELDS,
            )
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
        # Counted once written: a write that fails leaves nothing stored.
        refresh.errors = errors
        refresh.stored = len(quotes) + len(behind_stream)
        refresh.details = {"snapshots": len(snapshots)}
        refresh.finish()
        if quotes:
            run_id = refresh.run.pk
            transaction.on_commit(lambda: _send_quotes_refreshed(run_id))


def _send_quotes_refreshed(run_id: int) -> None:
    signals.send(signals.quotes_refreshed, RefreshRun, refresh_run_id=run_id)
