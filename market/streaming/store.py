"""Coalescing ticks and writing them to the quotes: at most one write per symbol per second.

A tick is dated by its own time and is ignored when it is not newer than the stored quote's
provider time, so a replayed or late frame never overwrites a newer price. The stream owns the
fields it sends: the price or the extended-hours price with the source's own change, the close
that change is measured from (the previous close, or the regular price outside the regular
session), the day's range and volume (started afresh on a new session day), the session and the
market cap that follows the price. The minute batch refresh keeps filling the rest (share
counts, the cap's basis, the currency).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.utils import timezone

from market import sessions, signals
from market.models import STREAMED_QUOTE_FIELDS, Feed, Instrument, MarketState, Quote
from market.providers.ticks import EXTENDED, PRE, Tick
from market.rules import NEW_YORK
from market.services.values import CENTS, change_or_none

STREAM_FIELDS = list(STREAMED_QUOTE_FIELDS)
# Two moments further apart are never of one session day (a long weekend with holidays is 5
# days), whatever the calendar: it is not consulted for them.
SESSION_DAY_AT_MOST = timedelta(days=10)
# A quote's figures of one regular session and its extended hours.
SESSION_FIELDS = (
    "previous_close",
    "change",
    "change_percent",
    "day_high",
    "day_low",
    "volume",
    "pre_market_price",
    "pre_market_change",
    "pre_market_change_percent",
    "post_market_price",
    "post_market_change",
    "post_market_change_percent",
)


class Coalescer:
    """The latest tick per symbol, held until that symbol may be written again: a symbol is
    written at most once per `interval` seconds (its first tick goes out with the next batch,
    later ones within the interval wait and only the newest of them is written)."""

    def __init__(self, interval: float = 1.0, clock=time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._latest: dict[str, Tick] = {}
        self._written_at: dict[str, float] = {}
        self.received = 0

    def add(self, tick: Tick) -> None:
        self.received += 1
        held = self._latest.get(tick.symbol)
        if held is None or tick.at >= held.at:
            self._latest[tick.symbol] = tick

    def drain(self) -> list[Tick]:
        """The held ticks whose symbols may be written now (they are then released)."""
        now = self._clock()
        due = [
            symbol
            for symbol in self._latest
            if now - self._written_at.get(symbol, -self.interval) >= self.interval
        ]
        for symbol in due:
            self._written_at[symbol] = now
        return [self._latest.pop(symbol) for symbol in due]

    def __len__(self) -> int:
        return len(self._latest)


@dataclass
class WriteResult:
    written: list[dict]  # the quotes as published to pages (see quote_payload)
    stale: int  # ticks not newer than the stored quote
    unknown: int  # ticks of symbols that are not active instruments


def _session_of(tick: Tick, kind: str) -> str:
    """The quote's market state for a tick: crypto and FX trade in one session; a session the
    source does not name (overnight trading) is told by New York's clock, and outside the
    sessions it is pre-market until the next open (02:07 is overnight trading before the next
    session), after hours from the day's close on."""
    if kind in ("crypto", "fx"):
        return MarketState.REGULAR
    if tick.session != EXTENDED:
        return tick.session
    state = sessions.us_equity_state(tick.at)
    if state != MarketState.CLOSED:
        return state
    local = tick.at.astimezone(NEW_YORK)
    today = sessions.trading_day(local.date())
    return MarketState.POST if today is not None and local >= today.regular_close else PRE


def _session_day(at: datetime, kind: str):
    """The day of the regular session a quote's day figures (change, range, volume, previous
    close) belong to: crypto and FX count UTC days, like Yahoo's daily bars of them."""
    if kind in ("crypto", "fx"):
        return at.astimezone(UTC).date()
    return sessions.regular_session_day(at)


def _agrees(stored: Decimal | None, derived: Decimal) -> bool:
    """Whether a stored price is `derived` to the decimals `derived` carries (a price a source
    derives from floats is known to fewer decimals than the exact one stored)."""
    if stored is None:
        return False
    places = Decimal(1).scaleb(derived.as_tuple().exponent)
    return stored.quantize(places, rounding=ROUND_HALF_EVEN) == derived


def _forget_session(quote: Quote) -> None:
    """Clear what belongs to the stored quote's session, older than the tick's."""
    for name in SESSION_FIELDS:
        setattr(quote, name, None)


def _clear_extended(quote: Quote, prefix: str) -> None:
    for name in ("price", "change", "change_percent"):
        setattr(quote, f"{prefix}_{name}", None)


def _apply_regular(quote: Quote, tick: Tick) -> None:
    quote.price = tick.price
    if tick.reference_price is not None and not _agrees(quote.previous_close, tick.reference_price):
        quote.previous_close = tick.reference_price
    if tick.change is not None:
        quote.change, quote.change_percent = tick.change, tick.change_percent
    else:
        quote.change, quote.change_percent = change_or_none(tick.price, quote.previous_close)
    quote.day_high = tick.day_high or max(quote.day_high or tick.price, tick.price)
    quote.day_low = tick.day_low or min(quote.day_low or tick.price, tick.price)
    if tick.volume is not None:
        quote.volume = tick.volume
    # The regular session has moved on from this morning's and last night's extended prices.
    _clear_extended(quote, "pre_market")
    _clear_extended(quote, "post_market")


def _apply_extended(quote: Quote, tick: Tick, state: str) -> None:
    """Outside the regular session Yahoo's `price` is the last regular close and the extended
    move is measured from it: the tick's reference price is that close."""
    reference = tick.reference_price
    if reference is not None and not _agrees(quote.price, reference):
        quote.price = reference
        quote.change, quote.change_percent = change_or_none(reference, quote.previous_close)
    if tick.change is not None:
        change, percent = tick.change, tick.change_percent
    else:
        change, percent = change_or_none(tick.price, quote.price)
    if state == PRE:
        quote.pre_market_price = tick.price
        quote.pre_market_change, quote.pre_market_change_percent = change, percent
    else:
        quote.post_market_price = tick.price
        quote.post_market_change, quote.post_market_change_percent = change, percent
        _clear_extended(quote, "pre_market")  # this morning's, before the regular session


def apply_tick(quote: Quote, tick: Tick, kind: str, shares, now: datetime) -> None:
    """Update `quote` in memory from `tick`: the regular price, change and range in the regular
    session, the pre- or post-market price outside it. The day's figures of a quote from an
    older session are not carried into the tick's."""
    state = _session_of(tick, kind)
    stored_at = quote.provider_time
    same_session = (
        stored_at is not None
        and abs(tick.at - stored_at) < SESSION_DAY_AT_MOST
        and _session_day(stored_at, kind) == _session_day(tick.at, kind)
    )
    if not same_session:
        _forget_session(quote)
    if state == MarketState.REGULAR:
        _apply_regular(quote, tick)
    else:
        _apply_extended(quote, tick, state)
    quote.market_state = state
    if shares:
        quote.market_cap = (quote.price * shares).quantize(CENTS)
    quote.provider_time = tick.at
    quote.fetched_at = now
    quote.feed = Feed.STREAM


def quote_payload(symbol: str, quote: Quote, direction: str = "") -> dict:
    """What pages get of a quote (the fields includes/quote_cells.html shows), as JSON values."""

    def text(value):
        return None if value is None else str(value)

    return {
        "symbol": symbol,
        "price": text(quote.price),
        "change_percent": text(quote.change_percent),
        "market_state": quote.market_state,
        "pre_market_price": text(quote.pre_market_price),
        "pre_market_change_percent": text(quote.pre_market_change_percent),
        "post_market_price": text(quote.post_market_price),
        "post_market_change_percent": text(quote.post_market_change_percent),
        "market_cap": text(quote.market_cap),
        "provider_time": quote.provider_time.isoformat() if quote.provider_time else None,
        "fetched_at": quote.fetched_at.isoformat() if quote.fetched_at else None,
        "source": quote.source,
        "currency": quote.currency,
        "direction": direction,
    }


def _last_price(quote: Quote) -> Decimal | None:
    if quote.market_state == MarketState.PRE and quote.pre_market_price is not None:
        return quote.pre_market_price
    if quote.market_state == MarketState.POST and quote.post_market_price is not None:
        return quote.post_market_price
    return quote.price


def write_ticks(ticks: list[Tick], *, source: str, now: datetime | None = None) -> WriteResult:
    """Store the ticks newer than their quotes in one bulk upsert; the written quotes as
    payloads. Sends market.signals.quotes_streamed after the commit."""
    now = now or timezone.now()
    by_symbol = {tick.symbol: tick for tick in ticks}
    instruments = list(
        Instrument.objects.filter(symbol__in=by_symbol, is_active=True).select_related("quote")
    )
    rows, written, stale = [], [], 0
    for instrument in instruments:
        tick = by_symbol[instrument.symbol]
        quote = getattr(instrument, "quote", None)
        if quote is not None and quote.provider_time and tick.at <= quote.provider_time:
            stale += 1
            continue
        before = None
        if quote is None:
            quote = Quote(
                instrument=instrument,
                price=tick.price,
                currency=(tick.currency or instrument.currency)[:3],
                source=source,
            )
        else:
            before = _last_price(quote)
        # The cap follows the price on the shares the batch refresh based it on (the provider's
        # cap over its price), else on the shares outstanding.
        shares = (
            quote.market_cap_shares or quote.shares_outstanding or instrument.shares_outstanding
        )
        apply_tick(quote, tick, instrument.kind, shares, now)
        after = _last_price(quote)
        direction = "" if before is None or after == before else "up" if after > before else "down"
        rows.append(quote)
        written.append(quote_payload(instrument.symbol, quote, direction))
    if rows:
        for row in rows:
            row.pk = None  # one INSERT ... ON CONFLICT (instrument) DO UPDATE for all of them
        with transaction.atomic():
            Quote.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["instrument"],
                update_fields=STREAM_FIELDS,
            )
            ids = [row.instrument_id for row in rows]
            transaction.on_commit(lambda: _send_quotes_streamed(ids))
    return WriteResult(written=written, stale=stale, unknown=len(by_symbol) - len(instruments))


def _send_quotes_streamed(instrument_ids: list[int]) -> None:
    signals.send(signals.quotes_streamed, Quote, instrument_ids=instrument_ids)
