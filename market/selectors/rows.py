"""One row per instrument for the dashboard, with its quote, miner facts and statistics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote

from django.db.models import (
    Q,
)
from django.urls import reverse

from market.analytics import PriceRange, TradesLike
from market.models import (
    QUOTE_FIELDS,
    Instrument,
    MarketState,
    Miner,
)
from market.selectors.stats import InstrumentStats


@dataclass
class InstrumentRow:
    """One instrument on the dashboard: its facts, its latest quote (a dict, or None) and stats."""

    id: int
    symbol: str
    name: str
    kind: str
    is_benchmark: bool
    segment: str
    segment_label: str
    hashrate_eh: Decimal | None
    hpc_contracted_mw: Decimal | None
    enterprise_value: Decimal | None
    shares: int | None
    quote: dict[str, Any] | None
    stats: InstrumentStats | None

    @property
    def url(self) -> str:
        return miner_url(self.symbol)

    @property
    def segment_short_label(self) -> str:
        return SEGMENT_SHORT_LABELS.get(self.segment, self.segment_label)

    @property
    def price(self) -> Decimal | None:
        return self.quote["price"] if self.quote else None

    @property
    def change_percent(self) -> Decimal | None:
        return self.quote["change_percent"] if self.quote else None

    @property
    def extended_change_percent(self) -> Decimal | None:
        """The pre-market change while pre-market trades, else the after-hours one (or None)."""
        if not self.quote:
            return None
        state = self.quote["market_state"]
        if state == MarketState.PRE:
            return self.quote["pre_market_change_percent"]
        if state != MarketState.REGULAR:
            return self.quote["post_market_change_percent"]
        return None

    @cached_property
    def market_cap(self) -> Decimal | None:
        if not self.quote:
            return None
        if self.quote["market_cap"] is not None:
            return self.quote["market_cap"]
        if self.shares and self.quote["price"] is not None:
            return self.quote["price"] * self.shares
        return None

    @cached_property
    def share_count(self) -> Decimal | None:
        """Shares behind the market cap: those the quote's market cap is priced on (the
        provider's cap / price), the quote's count, the profile's, or cap / price."""
        if self.quote and self.quote["market_cap_shares"]:
            return self.quote["market_cap_shares"]
        if self.quote and self.quote["shares_outstanding"]:
            return Decimal(self.quote["shares_outstanding"])
        if self.shares:
            return Decimal(self.shares)
        cap, price = self.market_cap, self.price
        if cap is not None and price:
            return cap / price
        return None

    def _cap_change(self, change: Decimal | None) -> Decimal | None:
        shares = self.share_count
        if change is None or shares is None:
            return None
        return change * shares

    @property
    def cap_change(self) -> Decimal | None:
        if not self.quote:
            return None
        change = self.quote["change"]
        if change is None and self.quote["previous_close"] is not None:
            change = self.quote["price"] - self.quote["previous_close"]
        return self._cap_change(change)

    @property
    def pre_market_cap_change(self) -> Decimal | None:
        return self._cap_change(self.quote["pre_market_change"]) if self.quote else None

    @property
    def post_market_cap_change(self) -> Decimal | None:
        return self._cap_change(self.quote["post_market_change"]) if self.quote else None

    @cached_property
    def ytd_percent(self) -> Decimal | None:
        return self.stats.ytd_percent(self.price) if self.stats else None

    @property
    def ytd_base_cap(self) -> Decimal | None:
        """Market cap at the YTD base close on today's share count."""
        shares = self.share_count
        if not self.stats or self.stats.ytd_base is None or shares is None:
            return None
        return self.stats.ytd_base * shares

    @cached_property
    def range_52w(self) -> PriceRange | None:
        return self.stats.range_with(self.price) if self.stats else None

    @cached_property
    def range_position(self) -> Decimal | None:
        price_range = self.range_52w
        return price_range.position_percent(self.price) if price_range else None

    @cached_property
    def ev_per_eh(self) -> Decimal | None:
        """Enterprise value over hashrate; None when either is unknown (or the hashrate is 0)."""
        if self.enterprise_value is None or not self.hashrate_eh:
            return None
        return self.enterprise_value / self.hashrate_eh

    @property
    def trades_like(self) -> TradesLike | None:
        return self.stats.trades_like if self.stats else None

    @property
    def as_of(self) -> dt.datetime | None:
        if not self.quote:
            return None
        return self.quote["provider_time"] or self.quote["fetched_at"]

    @property
    def simulated(self) -> bool:
        return bool(self.quote) and self.quote["source"] == "simulated"


SEGMENT_LABELS = dict(Miner.Segment.choices)
# Short labels for narrow table cells; the full label goes in the title.
SEGMENT_SHORT_LABELS = {
    Miner.Segment.MINER: "Miner",
    Miner.Segment.PIVOT: "Pivot",
    Miner.Segment.AI_HPC: "AI/HPC",
    Miner.Segment.HARDWARE: "Hardware",
}


@lru_cache(maxsize=1)
def _miner_url_pattern() -> tuple[str, str]:
    placeholder = "SYMBOL"
    head, _, tail = reverse("market:miner", args=[placeholder]).partition(placeholder)
    return head, tail


def miner_url(symbol: str) -> str:
    """reverse("market:miner", args=[symbol]) without resolving the URLconf for every row."""
    head, tail = _miner_url_pattern()
    return f"{head}{quote(symbol, safe='')}{tail}"


def instrument_rows(stats: dict[int, InstrumentStats]) -> list[InstrumentRow]:
    """Every active miner and benchmark with its quote and facts: one query."""
    columns = [
        "id",
        "symbol",
        "name",
        "kind",
        "is_benchmark",
        "shares_outstanding",
        "enterprise_value",
        "miner__segment",
        "miner__hashrate_eh",
        "miner__hpc_contracted_mw",
        "quote__id",
        *(f"quote__{name}" for name in QUOTE_FIELDS),
    ]
    rows = []
    queryset = (
        Instrument.objects.filter(is_active=True)
        .filter(Q(miner__isnull=False) | Q(is_benchmark=True))
        .order_by("symbol")
        .values_list(*columns)
    )
    quote_start = columns.index("quote__id") + 1
    for values in queryset:
        (pk, symbol, name, kind, is_benchmark, shares, ev, segment, hashrate, hpc, quote_id) = (
            values[:quote_start]
        )
        quote = (
            dict(zip(QUOTE_FIELDS, values[quote_start:], strict=True))
            if quote_id is not None
            else None
        )
        rows.append(
            InstrumentRow(
                id=pk,
                symbol=symbol,
                name=name,
                kind=kind,
                is_benchmark=is_benchmark or segment is None,
                segment=segment or "",
                segment_label=SEGMENT_LABELS.get(segment, ""),
                hashrate_eh=hashrate,
                hpc_contracted_mw=hpc,
                enterprise_value=ev,
                shares=shares,
                quote=quote,
                stats=stats.get(pk),
            )
        )
    return rows
