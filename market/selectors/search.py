"""Finding instruments by symbol or name."""

from __future__ import annotations

import difflib

from django.db.models import (
    Q,
)

from market.models import (
    Instrument,
)


def search_instruments(text: str, limit: int = 20) -> list[Instrument]:
    """Instruments whose symbol or name contains the text, exact symbols first: one query; when
    nothing contains it, the symbols closest to it (a typo: "IRN" finds IREN), one more."""
    text = text.strip()
    if not text:
        return []
    matches = list(
        Instrument.objects.filter(Q(symbol__icontains=text) | Q(name__icontains=text))
        .select_related("miner")
        .order_by("symbol")[: limit * 3]
    )
    upper = text.upper()
    if not matches:
        symbols = list(Instrument.objects.values_list("symbol", flat=True))
        close = difflib.get_close_matches(upper, symbols, n=min(limit, 5), cutoff=0.6)
        found = Instrument.objects.select_related("miner").in_bulk(close, field_name="symbol")
        return [found[symbol] for symbol in close if symbol in found]
    matches.sort(
        key=lambda i: (i.symbol != upper, not i.symbol.startswith(upper), not i.is_active, i.symbol)
    )
    return matches[:limit]


def all_instruments(limit: int = 500) -> list[Instrument]:
    """Active instruments by symbol, for the search page's directory: one query."""
    return list(
        Instrument.objects.filter(is_active=True).select_related("miner").order_by("symbol")[:limit]
    )
