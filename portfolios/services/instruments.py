"""Finding the instrument a user means by a symbol, and the FX rates a portfolio needs."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction as db
from django.db.models import Exists, OuterRef
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from market.models import Instrument
from market.providers import ProviderError, UnknownSymbol
from market.rules import SYMBOL_RE
from portfolios.models import Holding, PriceAlert, WatchlistItem
from portfolios.services.limits import lock_owner, spend_lookup

# The symbols offered in every symbol field's suggestion list (a <datalist>).
SYMBOL_CHOICES_CACHE_KEY = "portfolios:symbol-choices:v2"
SYMBOL_CHOICES_SECONDS = 600


def provider_label() -> str:
    return (
        "Yahoo Finance" if settings.MARKET_DATA_PROVIDER == "yahoo" else "the market-data provider"
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def normalise_symbol(text: str) -> str:
    return (text or "").strip().upper()


def find_or_add_instrument(symbol: str, *, user=None) -> Instrument:
    """The instrument with this symbol; one the provider knows but we do not is added first,
    on behalf of `user`, who may add settings.INSTRUMENTS_ADDED_PER_USER in all. An instrument
    retired for want of use (`retire_unused_instruments`) is refreshed again from now on.

    Raises ValidationError (code "invalid_symbol", "unknown_symbol", "provider_unavailable",
    "too_many_added" or "lookups_spent": PROVIDER_LOOKUPS_PER_MINUTE) with a message a form can
    show next to the symbol field.
    """
    symbol = normalise_symbol(symbol)
    if not symbol:
        raise ValidationError("Enter a symbol, such as IREN.", code="required")
    if not SYMBOL_RE.match(symbol):
        raise ValidationError(
            f"“{symbol[:24]}” is not a ticker symbol. Use letters, digits, “.”, “-” or “=”, "
            "such as IREN, HUT.TO or BTC-USD.",
            code="invalid_symbol",
        )
    instrument = Instrument.objects.filter(symbol=symbol).first()
    if instrument is not None:
        if not instrument.is_active and instrument.deactivated_at is None:
            # Retired for want of use (a symbol the provider stopped knowing keeps its
            # deactivation date, and only the admin brings it back).
            instrument.is_active = True
            instrument.save(update_fields=["is_active"])
        return instrument
    limit = settings.INSTRUMENTS_ADDED_PER_USER
    user_id = getattr(user, "pk", None)
    if user_id is not None and _added_by(user_id) >= limit:  # refused before any lookup
        raise _too_many_added(limit, symbol)
    from market.services import save_new_instrument

    candidate = _look_up(symbol, user_id)
    with db.atomic():
        # Count and add while the user's own row is locked: concurrent adds of one user take
        # turns, so the limit holds (nothing shared is locked).
        if user_id is not None:
            lock_owner(user_id)
            if _added_by(user_id) >= limit:
                raise _too_many_added(limit, symbol)
            candidate.added_by_id = user_id
        instrument = save_new_instrument(candidate)
    cache.delete(SYMBOL_CHOICES_CACHE_KEY)
    return instrument


def _look_up(symbol: str, user_id: int | None) -> Instrument:
    """The instrument as the provider describes it (not saved), spending one of the user's
    lookups of the minute; ValidationError with what the form should say."""
    # The market app owns what becomes an instrument.
    from market.services import look_up_instrument

    spent = spend_lookup(user_id)
    if not spent:
        raise ValidationError(
            f"You have made {spent.limit} lookups with {provider_label()} this minute, the most "
            f"one account may, so {symbol} was not looked up. Try again {spent.wait_text()}.",
            code="lookups_spent",
        )
    try:
        return look_up_instrument(symbol)
    except UnknownSymbol as exc:
        raise ValidationError(
            f"{_sentence(provider_label())} does not know the symbol {symbol}. Check the spelling, "
            "or add the exchange suffix (HUT.TO for Toronto).",
            code="unknown_symbol",
        ) from exc
    except ProviderError as exc:
        raise ValidationError(
            f"{_sentence(provider_label())} did not answer, so {symbol} could not be looked up. "
            "Try again in a minute.",
            code="provider_unavailable",
        ) from exc


def _added_by(user_id: int) -> int:
    return Instrument.objects.filter(added_by_id=user_id).count()


def _too_many_added(limit: int, symbol: str) -> ValidationError:
    return ValidationError(
        f"You have added {limit} new symbols to Minerwatch, the most one account may add, "
        f"so {symbol} cannot be added. Pick a symbol from the list.",
        code="too_many_added",
    )


def retire_unused_instruments() -> int:
    """Stop refreshing instruments nobody uses: not a miner, not a benchmark, not an FX rate, on
    no watchlist, in no portfolio and under no alert. Returns how many were retired; they come
    back the next time someone picks them (`find_or_add_instrument`)."""
    used = (
        Exists(WatchlistItem.objects.filter(instrument=OuterRef("pk")))
        | Exists(Holding.objects.filter(instrument=OuterRef("pk")))
        | Exists(PriceAlert.objects.filter(instrument=OuterRef("pk")))
    )
    retired = (
        Instrument.objects.filter(is_active=True, is_benchmark=False, miner__isnull=True)
        .exclude(kind=Instrument.Kind.FX)
        .exclude(used)
        .update(is_active=False)
    )
    if retired:
        cache.delete(SYMBOL_CHOICES_CACHE_KEY)
    return retired


def symbol_choices() -> SafeString:
    """The <option>s of every instrument a user may pick, for a symbol field's <datalist>.

    Rendered once and cached: with hundreds of instruments, looping over them in the template
    would cost more than the rest of a page.
    """
    markup = cache.get(SYMBOL_CHOICES_CACHE_KEY)
    if markup is None:
        choices = (
            Instrument.objects.filter(is_active=True)
            .exclude(kind=Instrument.Kind.FX)
            .order_by("symbol")
            .values_list("symbol", "name")
        )
        markup = str(format_html_join("", '<option value="{}">{}</option>', choices))
        cache.set(SYMBOL_CHOICES_CACHE_KEY, markup, SYMBOL_CHOICES_SECONDS)
    return mark_safe(markup)  # built by format_html_join, which escapes every value


def fx_symbol(from_currency: str, to_currency: str) -> str:
    """Yahoo's symbol for the rate that turns one unit of `from_currency` into `to_currency`."""
    return f"{from_currency}{to_currency}=X"


def ensure_fx_instruments(pairs: set[tuple[str, str]]) -> None:
    """Create the FX-rate instruments for these (from, to) currency pairs, if missing.

    They are quoted like any other instrument: the refresh pipeline refreshes every active one.
    """
    wanted = {fx_symbol(a, b): (a, b) for a, b in pairs if a and b and a != b}
    if not wanted:
        return
    Instrument.objects.bulk_create(
        [
            Instrument(
                symbol=symbol,
                name=f"{a} to {b}",
                kind=Instrument.Kind.FX,
                exchange="FX",
                currency=b,
            )
            for symbol, (a, b) in wanted.items()
        ],
        ignore_conflicts=True,
    )
