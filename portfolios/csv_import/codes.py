"""The symbol each code of an import file stands for: a symbol as written, a crypto pair
written without its dash (BTCUSD), or an ISIN looked up with the market-data provider.

ISIN lookups are answered from the upload's earlier previews, then from the cache (the
provider's answers are kept PROVIDER_ANSWER_CACHE_SECONDS), and only then asked of the provider,
each spending one of the owner's PROVIDER_LOOKUPS_PER_MINUTE: a file that asks for more is
looked up over several previews, the rest "deferred" meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from market.models import Instrument
from market.providers import MarketDataProvider, ProviderError, SearchHit, get_provider
from portfolios.csv_import.results import SymbolMapping
from portfolios.csv_import.rows import TradeRow
from portfolios.services.limits import spend_lookup

# BTCUSD, ETHEUR: a crypto code glued to the currency it is quoted in (as Ghostfolio and some
# brokers write them); the provider writes BTC-USD.
CRYPTO_PAIR_RE = re.compile(r"^([A-Z0-9]{2,10})(USD|USDT|USDC|EUR|GBP|CHF|CAD|AUD|JPY)$")
LISTED_KINDS = {"equity", "etf", "crypto", "index"}
# progress(step, done, total): how far a preview got (total 0: no count for this step).
Progress = Callable[[str, int, int], None]


def resolve_codes(
    trades: list[TradeRow],
    *,
    provider: MarketDataProvider | None,
    listings: dict[str, str],
    searched: dict[str, list[SearchHit]],
    owner_id: int | None,
    progress: Progress | None = None,
) -> tuple[dict[str, str], dict[str, str], list[SymbolMapping]]:
    """The symbol each code of the file stands for, the codes that cannot be resolved (with
    why: "problem" when the provider did not answer, "deferred" when the owner's lookups of the
    minute are spent), and the codes read as another symbol. ISINs are looked up with the
    provider unless `searched` or the cache holds the answer already; `listings` holds the
    user's pick among several."""
    symbols = {t.symbol for t in trades if t.symbol}
    dashed = {s: f"{m.group(1)}-{m.group(2)}" for s in symbols if (m := CRYPTO_PAIR_RE.match(s))}
    followed = set(
        Instrument.objects.filter(symbol__in=symbols | set(dashed.values())).values_list(
            "symbol", flat=True
        )
    )
    resolved: dict[str, str] = {}
    failed: dict[str, str] = {}
    mappings: list[SymbolMapping] = []
    for symbol in sorted(symbols):
        if symbol not in followed and symbol in dashed:
            resolved[symbol] = dashed[symbol]
            mappings.append(SymbolMapping(symbol, dashed[symbol], "crypto pair"))
        else:
            resolved[symbol] = symbol
    isins = sorted({t.isin for t in trades if not t.symbol})
    lookup = _Lookup(provider, owner_id)
    for done, isin in enumerate(isins):
        if progress is not None:
            progress(f"Looking up {len(isins):,} ISINs", done, len(isins))
        if isin not in searched:
            answer = lookup.listings(isin)
            if isinstance(answer, str):
                failed[isin] = answer
                continue
            searched[isin] = answer
        hits = searched[isin]
        if not hits:
            failed[isin] = f"no listing found for the ISIN {isin}: there is no price to follow"
            continue
        offered = [hit.symbol.upper() for hit in hits]
        symbol = listings[isin] if listings.get(isin) in offered else offered[0]
        resolved[isin] = symbol
        mappings.append(SymbolMapping(isin, symbol, "ISIN", hits))
    return resolved, failed, mappings


class _Lookup:
    """ISIN searches for one preview: the cache first, then the provider (created when first
    needed), each provider call spending one of the owner's lookups of the minute."""

    def __init__(self, provider: MarketDataProvider | None, owner_id: int | None) -> None:
        self.provider = provider
        self.owner_id = owner_id
        self.source = provider.name if provider is not None else settings.MARKET_DATA_PROVIDER

    def listings(self, isin: str) -> list[SearchHit] | str:
        """The listings of `isin`, or why there is no answer ("deferred", "problem")."""
        key = f"csv-import:isin:{self.source}:{isin}"
        cached = cache.get(key)
        if cached is not None:
            return [SearchHit(*hit) for hit in cached]
        if not spend_lookup(self.owner_id):
            return "deferred"
        try:
            self.provider = self.provider or get_provider()
            hits = [
                hit
                for hit in self.provider.search(isin)
                if hit.symbol.upper() != isin and (hit.kind or "equity") in LISTED_KINDS
            ]
        except ProviderError:
            return "problem"
        kept = [[h.symbol, h.name, h.exchange, h.kind] for h in hits]
        cache.set(key, kept, settings.PROVIDER_ANSWER_CACHE_SECONDS)
        return hits
