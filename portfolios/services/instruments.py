"""Finding the instrument a user means by a symbol, and the FX rates a portfolio needs."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from market.models import Instrument
from market.providers import ProviderError, UnknownSymbol
from market.rules import SYMBOL_RE

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


def find_or_add_instrument(symbol: str) -> Instrument:
    """The instrument with this symbol; one the provider knows but we do not is added first.

    Raises ValidationError (code "invalid_symbol", "unknown_symbol" or "provider_unavailable")
    with a message a form can show next to the symbol field.
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
        return instrument
    from market.services import add_instrument  # the market app owns what becomes an instrument

    try:
        instrument = add_instrument(symbol)
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
    cache.delete(SYMBOL_CHOICES_CACHE_KEY)
    return instrument


def symbol_choices() -> SafeString:
    """The <option>s of every instrument a user may pick, for a symbol field's <datalist>.

    Rendered once and cached: with hundreds of instruments, looping over them in the template
    would cost more than the rest of a page.
    """
    markup = cache.get(SYMBOL_CHOICES_CACHE_KEY)
    if markup is None:
        choices = (
            Instrument.objects.exclude(kind=Instrument.Kind.FX)
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
