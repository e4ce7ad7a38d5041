"""Positions: every holding of a portfolio with its value and P&L in the portfolio's currency.

The holdings come with their instrument, quote and miner facts in one query, and the FX rates
they need in one more, however many there are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from market.models import Instrument, Miner, Quote
from portfolios.models import Holding, Portfolio
from portfolios.services.instruments import fx_symbol

ZERO = Decimal(0)
HUNDRED = Decimal(100)

SEGMENT_ORDER = [
    ("pivot", "Pivot to AI/HPC"),
    ("ai_hpc", "AI/HPC"),
    ("miner", "Pure miner"),
    ("hardware", "Hardware"),
    ("other", "Other (not a miner)"),
]
AI_HPC_SEGMENTS = {Miner.Segment.PIVOT, Miner.Segment.AI_HPC}
# Market-cap tiers in US dollars: (key, label, lower bound).
CAP_TIERS = [
    ("mega", "Mega cap (≥ $200B)", Decimal("200e9")),
    ("large", "Large cap ($10B–$200B)", Decimal("10e9")),
    ("mid", "Mid cap ($2B–$10B)", Decimal("2e9")),
    ("small", "Small cap ($300M–$2B)", Decimal("300e6")),
    ("micro", "Micro cap (< $300M)", ZERO),
]
NO_TIER = ("none", "No market cap (ETF, crypto, unknown)")
COUNTRY_NAMES = {
    "US": "United States",
    "CA": "Canada",
    "AU": "Australia",
    "CN": "China",
    "SG": "Singapore",
    "KY": "Cayman Islands",
    "BM": "Bermuda",
    "GB": "United Kingdom",
    "IS": "Iceland",
    "NO": "Norway",
    "SE": "Sweden",
    "DE": "Germany",
    "NL": "Netherlands",
    "JP": "Japan",
    "HK": "Hong Kong",
    "IL": "Israel",
    "PY": "Paraguay",
}


def cap_tier(market_cap_usd: Decimal | None) -> tuple[str, str]:
    if market_cap_usd is None or market_cap_usd <= 0:
        return NO_TIER
    for key, label, floor in CAP_TIERS:
        if market_cap_usd >= floor:
            return key, label
    return NO_TIER


def _pct(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return part / whole * HUNDRED


@dataclass
class PositionRow:
    holding: Holding
    instrument: Instrument
    quote: Quote | None
    currency: str  # the instrument's own currency (prices and average cost are in it)
    fx_rate: Decimal | None  # one unit of `currency` in the base currency
    quantity: Decimal
    average_cost: Decimal
    price: Decimal | None
    cost_basis: Decimal | None  # base currency, from here on
    market_value: Decimal | None
    day_change: Decimal | None
    day_change_percent: Decimal | None
    unrealized_pnl: Decimal | None
    unrealized_pnl_percent: Decimal | None
    realized_pnl: Decimal | None
    # The part of the unrealized P&L due to the rate's move since the trades (0 at home).
    currency_pnl: Decimal | None
    segment: str
    segment_label: str
    country: str
    country_label: str
    tier: str
    tier_label: str
    weight: Decimal | None = None

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def is_open(self) -> bool:
        return self.quantity > 0

    @property
    def converted(self) -> bool:
        return self.fx_rate is not None and self.fx_rate != 1


@dataclass
class PositionTotals:
    market_value: Decimal = ZERO
    cost_basis: Decimal = ZERO
    day_change: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    day_change_percent: Decimal | None = None
    unrealized_pnl_percent: Decimal | None = None
    total_pnl: Decimal = ZERO


@dataclass
class Positions:
    base_currency: str
    rows: list[PositionRow]  # open positions, largest first
    closed_rows: list[PositionRow]  # sold out, kept for their realized P&L
    totals: PositionTotals
    unpriced: list[str] = field(default_factory=list)  # no quote yet: left out of the totals
    missing_fx: list[str] = field(default_factory=list)  # currencies without a rate yet
    as_of: datetime | None = None  # the oldest quote among the open positions

    @property
    def totals_known(self) -> bool:
        """False while a rate is missing: totals would leave out positions that have prices."""
        return not self.missing_fx

    @property
    def missing_rates(self) -> list[str]:
        """The missing rates by name, e.g. "USD → EUR (USDEUR=X)"."""
        return [f"{c} → {self.base_currency} ({c}{self.base_currency}=X)" for c in self.missing_fx]

    @property
    def all_rows(self) -> list[PositionRow]:
        return self.rows + self.closed_rows


def _rates(currencies: Iterable[str], bases: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """The FX rates (from, to) for every pair needed, in one query; missing ones are absent."""
    pairs = {(c, b) for c in currencies for b in bases if c and b and c != b}
    if not pairs:
        return {}
    symbols = {fx_symbol(c, b): (c, b) for c, b in pairs}
    found = Quote.objects.filter(instrument__symbol__in=symbols).values_list(
        "instrument__symbol", "price"
    )
    return {symbols[symbol]: price for symbol, price in found if price}


def _build_positions(
    holdings: list[Holding],
    base_currency: str,
    rates: dict[tuple[str, str], Decimal] | None = None,
) -> Positions:
    if rates is None:
        rates = _rates({h.instrument.currency for h in holdings}, {base_currency, "USD"})
    missing_fx: set[str] = set()
    rows: list[PositionRow] = []
    for holding in holdings:
        instrument = holding.instrument
        quote = getattr(instrument, "quote", None)
        currency = instrument.currency or base_currency
        rate = Decimal(1) if currency == base_currency else rates.get((currency, base_currency))
        if rate is None:
            missing_fx.add(currency)
        usd_rate = Decimal(1) if currency == "USD" else rates.get((currency, "USD"))
        miner = getattr(instrument, "miner", None)
        segment = miner.segment if miner else "other"
        segment_label = dict(SEGMENT_ORDER)[segment]
        country = miner.country if miner and miner.country else ""
        if not miner:
            country_label = "Other (not a miner)"
        else:
            country_label = COUNTRY_NAMES.get(country, country or "Unknown")
        market_cap = quote.market_cap if quote else None
        if market_cap is not None and usd_rate is not None and instrument.kind == "equity":
            tier, tier_label = cap_tier(market_cap * usd_rate)
        else:
            tier, tier_label = NO_TIER

        price = quote.price if quote else None
        quantity = holding.quantity
        cost_basis = holding.cost_basis * rate if rate is not None else None
        realized = holding.realized_pnl * rate if rate is not None else None
        if holding.base_currency == base_currency and holding.cost_basis_base is not None:
            # Foreign positions at the FX close of each trade's date, not today's rate.
            cost_basis, realized = holding.cost_basis_base, holding.realized_pnl_base
        market_value = day_change = unrealized = currency_pnl = None
        day_change_percent = unrealized_percent = None
        if price is not None and rate is not None:
            market_value = quantity * price * rate
            if quote.change is not None:
                day_change = quantity * quote.change * rate
                day_change_percent = quote.change_percent
            unrealized = market_value - cost_basis
            unrealized_percent = _pct(unrealized, cost_basis)
            currency_pnl = holding.cost_basis * rate - cost_basis
        rows.append(
            PositionRow(
                holding=holding,
                instrument=instrument,
                quote=quote,
                currency=currency,
                fx_rate=rate,
                quantity=quantity,
                average_cost=holding.average_cost,
                price=price,
                cost_basis=cost_basis,
                market_value=market_value,
                day_change=day_change,
                day_change_percent=day_change_percent,
                unrealized_pnl=unrealized,
                unrealized_pnl_percent=unrealized_percent,
                realized_pnl=realized,
                currency_pnl=currency_pnl,
                segment=segment,
                segment_label=segment_label,
                country=country or "-",
                country_label=country_label,
                tier=tier,
                tier_label=tier_label,
            )
        )

    open_rows = [r for r in rows if r.is_open]
    closed_rows = sorted((r for r in rows if not r.is_open), key=lambda r: r.symbol)
    totals = PositionTotals()
    unpriced = []
    previous_value = ZERO
    for row in open_rows:
        if row.market_value is None:
            if row.price is None:  # without a rate it has a price, just no converted value
                unpriced.append(row.symbol)
            continue
        totals.market_value += row.market_value
        totals.cost_basis += row.cost_basis
        totals.unrealized_pnl += row.unrealized_pnl
        if row.day_change is not None:
            totals.day_change += row.day_change
            previous_value += row.market_value - row.day_change
        else:
            previous_value += row.market_value
    for row in rows:
        if row.realized_pnl is not None:
            totals.realized_pnl += row.realized_pnl
    totals.day_change_percent = _pct(totals.day_change, previous_value)
    totals.unrealized_pnl_percent = _pct(totals.unrealized_pnl, totals.cost_basis)
    totals.total_pnl = totals.unrealized_pnl + totals.realized_pnl
    for row in open_rows:
        row.weight = _pct(row.market_value, totals.market_value)
    open_rows.sort(key=lambda r: (r.market_value is None, -(r.market_value or ZERO), r.symbol))
    quote_times = [r.quote.fetched_at for r in open_rows if r.quote is not None]
    return Positions(
        base_currency=base_currency,
        rows=open_rows,
        closed_rows=closed_rows,
        totals=totals,
        unpriced=unpriced,
        missing_fx=sorted(missing_fx),
        as_of=min(quote_times) if quote_times else None,
    )


# What positions read of an instrument, its quote and its miner facts: the facts' long text
# (notes, sources) and the quote's ranges are left in the database.
POSITION_FIELDS = [
    *(f.name for f in Holding._meta.concrete_fields),
    *(f"instrument__{name}" for name in ("symbol", "name", "kind", "currency")),
    *(
        f"instrument__quote__{name}"
        for name in (
            "price",
            "previous_close",
            "change",
            "change_percent",
            "market_state",
            "pre_market_price",
            "pre_market_change_percent",
            "post_market_price",
            "post_market_change_percent",
            "market_cap",
            "currency",
            "provider_time",
            "fetched_at",
            "source",
        )
    ),
    "instrument__miner__segment",
    "instrument__miner__country",
]


def _holdings() -> QuerySet[Holding]:
    return Holding.objects.select_related("instrument__quote", "instrument__miner").only(
        *POSITION_FIELDS
    )


def portfolio_positions(portfolio: Portfolio) -> Positions:
    """Every holding of the portfolio with its value and P&L in the portfolio's currency."""
    holdings = list(_holdings().filter(portfolio=portfolio))
    return _build_positions(holdings, portfolio.base_currency)


def portfolio_summaries(owner) -> list[tuple[Portfolio, Positions]]:
    """Every portfolio of the owner with its positions, in three queries however many."""
    portfolios = list(owner.portfolios.all())
    holdings = list(_holdings().filter(portfolio__owner=owner))
    bases = {p.base_currency for p in portfolios} | {"USD"}
    rates = _rates({h.instrument.currency for h in holdings}, bases)
    by_portfolio: dict[int, list[Holding]] = defaultdict(list)
    for holding in holdings:
        by_portfolio[holding.portfolio_id].append(holding)
    return [(p, _build_positions(by_portfolio[p.pk], p.base_currency, rates)) for p in portfolios]
