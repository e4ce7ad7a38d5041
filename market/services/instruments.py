"""Adding an instrument the provider knows."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from market.models import (
    Instrument,
)
from market.providers import (
    MarketDataProvider,
    ProviderError,
    UnknownSymbol,
    get_provider,
)
from market.rules import SYMBOL_RE
from market.services.profiles import apply_profile


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
    return save_new_instrument(look_up_instrument(symbol, provider=provider))


def look_up_instrument(symbol: str, *, provider: MarketDataProvider | None = None) -> Instrument:
    """The instrument of `symbol` as the provider describes it, not saved (see
    `save_new_instrument`). Raises UnknownSymbol or ProviderUnavailable like `add_instrument`."""
    symbol = (symbol or "").strip().upper()
    if not SYMBOL_RE.match(symbol):
        raise UnknownSymbol(symbol, f"{symbol!r} is not a valid symbol")
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
        apply_profile(instrument, profile, timezone.now())
    return instrument


def save_new_instrument(instrument: Instrument) -> Instrument:
    """Insert a looked-up instrument; the existing row when someone added its symbol meanwhile
    (then `added_by` stays theirs)."""
    try:
        with transaction.atomic():
            instrument.save()
    except IntegrityError:  # added by someone else meanwhile
        return Instrument.objects.get(symbol=instrument.symbol)
    return instrument
