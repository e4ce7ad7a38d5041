"""CSV exports of what belongs to a user: transactions, positions, exposure, watchlists.

Each function returns the header and a lazy iterator of rows for `market.csv_export.csv_response`.
Large tables (transactions) are read with `.values_list(...).iterator()`, so an export of a
million rows streams in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from market.models import Quote
from portfolios.models import Transaction, WatchlistItem
from portfolios.selectors import AI_HPC_SEGMENTS, Exposure, Positions

CHUNK_SIZE = 2000

TRANSACTIONS_HEADER = [
    "date",
    "symbol",
    "type",
    "quantity",
    "price",
    "fee",
    "currency",
    "note",
    "split_ratio",
    "price_source",
    "amount",
]
# Where an entry's figures come from: typed in or imported ("trade"), the market's split
# history, or the market's dividend history (an automatic dividend, which an import leaves to
# the ledger to pay again). Cash entries have no price.
TRADE_PRICE_SOURCE = "trade"
SPLIT_PRICE_SOURCE = "split history"
DIVIDEND_PRICE_SOURCE = "dividend history"


def transaction_rows(
    transactions: QuerySet[Transaction], *, with_portfolio: bool = False, base_currency: str = ""
) -> Iterator[tuple]:
    """One row per ledger entry, oldest first; `with_portfolio` puts the portfolio's name first.

    A cash entry (deposit, withdrawal, interest, fee) has no symbol and is in its portfolio's
    base currency (`base_currency` when the entries are of one portfolio); every other entry
    is in its instrument's currency."""
    fields = [
        "trade_date",
        "holding__instrument__symbol",
        "kind",
        "quantity",
        "price",
        "fee",
        "holding__instrument__currency",
        "note",
        "split_ratio",
        "automatic",
        "amount",
    ]
    if with_portfolio:
        fields.insert(0, "portfolio__name")
    joined = with_portfolio or not base_currency
    if joined:
        # Joined only where needed: a million-row export of one portfolio skips the join.
        transactions = transactions.annotate(
            currency=Coalesce("holding__instrument__currency", "portfolio__base_currency")
        )
        fields[fields.index("holding__instrument__currency")] = "currency"
    rows = transactions.order_by(
        *(["portfolio__name", "portfolio_id"] if with_portfolio else []),
        "trade_date",
        "id",
    ).values_list(*fields)
    start = 1 if with_portfolio else 0
    # `amount` is the money an entry moves, in its currency, as a positive number whose
    # direction the type gives: paid for a buy (quantity x price + fee), received for a sell or
    # a dividend (quantity x price - fee, a dividend's fee being the tax withheld), the amount
    # of a cash entry; empty for a split, which moves no money. Exact, never rounded.
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        kind, quantity, price, fee = row[start + 2 : start + 6]
        automatic, amount = row[-2:]
        if kind == "buy":
            yield (*row[:-2], TRADE_PRICE_SOURCE, price * quantity + fee)
        elif kind == "sell" or kind == "dividend":
            source = DIVIDEND_PRICE_SOURCE if automatic else TRADE_PRICE_SOURCE
            yield (*row[:-2], source, price * quantity - fee)
        elif kind == "split":
            yield (*row[:-2], SPLIT_PRICE_SOURCE, None)
        elif not joined:
            cells = list(row[:-2])
            cells[start + 6] = base_currency
            yield (*cells, "", amount)
        else:
            yield (*row[:-2], "", amount)


# Positions ----------------------------------------------------------------------------------------

POSITIONS_HEADER = [
    "symbol",
    "name",
    "quantity",
    "average_cost",
    "currency",
    "price",
    "fx_rate",
    "base_currency",
    "cost_basis",
    "market_value",
    "day_change",
    "day_change_percent",
    "unrealized_pnl",
    "unrealized_pnl_percent",
    "realized_pnl",
    "weight_percent",
    "segment",
    "country",
    "status",
    "price_source",
    "price_as_of",
]


def quote_as_of(quote: Quote | None):
    """When the quote's price was current: the provider's time, else when we fetched it."""
    if quote is None:
        return None
    return quote.provider_time or quote.fetched_at


def position_rows(positions: Positions) -> Iterator[tuple]:
    """Open positions (largest first), then closed ones, then a total row."""
    base = positions.base_currency
    for row in positions.all_rows:
        quote = row.quote
        yield (
            row.symbol,
            row.instrument.name,
            row.quantity,
            row.average_cost,
            row.currency,
            row.price,
            row.fx_rate,
            base,
            row.cost_basis,
            row.market_value,
            row.day_change,
            row.day_change_percent,
            row.unrealized_pnl,
            row.unrealized_pnl_percent,
            row.realized_pnl,
            row.weight,
            row.segment,
            row.country if row.country != "-" else "",
            "open" if row.is_open else "closed",
            quote.source if quote else "",
            quote_as_of(quote),
        )
    totals = positions.totals
    yield (
        "",
        "Total",
        None,
        None,
        "",
        None,
        None,
        base,
        totals.cost_basis,
        totals.market_value,
        totals.day_change,
        totals.day_change_percent,
        totals.unrealized_pnl,
        totals.unrealized_pnl_percent,
        totals.realized_pnl,
        Decimal(100) if positions.rows else None,
        "",
        "",
        "total",
        _joined_sources(row.quote for row in positions.rows),
        positions.as_of,
    )


def _joined_sources(quotes: Iterable[Quote | None]) -> str:
    return "+".join(sorted({quote.source for quote in quotes if quote is not None}))


# Exposure -----------------------------------------------------------------------------------------

EXPOSURE_HEADER = [
    "dimension",
    "key",
    "label",
    "value",
    "weight_percent",
    "currency",
    "symbols",
    "price_source",
    "price_as_of",
]


def quotes_by_symbol(symbols: Iterable[str]) -> dict[str, tuple[str, object]]:
    """(source, as-of) of the latest quote of each symbol, in one query."""
    return {
        symbol: (source, provider_time or fetched_at)
        for symbol, source, provider_time, fetched_at in Quote.objects.filter(
            instrument__symbol__in=set(symbols)
        ).values_list("instrument__symbol", "source", "provider_time", "fetched_at")
    }


def exposure_rows(exposure: Exposure) -> Iterator[tuple]:
    """The headline figures, then every slice of every breakdown; each row says where its prices
    come from (all sources of its symbols' quotes) and as of when (the oldest of them)."""
    quotes = quotes_by_symbol(s.key for s in exposure.positions)

    def provenance(symbols: list[str]) -> tuple[str, object]:
        found = [quotes[symbol] for symbol in symbols if symbol in quotes]
        sources = "+".join(sorted({source for source, _ in found}))
        times = [moment for _, moment in found if moment is not None]
        return sources, min(times) if times else None

    every_symbol = [s.key for s in exposure.positions]
    ai_symbols = [
        symbol for s in exposure.by_segment if s.key in AI_HPC_SEGMENTS for symbol in s.symbols
    ]
    currency = exposure.currency
    total = Decimal(100) if exposure.positions else None
    yield (
        "total",
        "all",
        "All priced positions",
        exposure.total_value,
        total,
        currency,
        " ".join(every_symbol),
        *provenance(every_symbol),
    )
    yield (
        "headline",
        "ai_hpc",
        "AI/HPC pivoters",
        exposure.ai_hpc_value,
        exposure.ai_hpc_weight,
        currency,
        " ".join(ai_symbols),
        *provenance(ai_symbols),
    )
    for dimension, slices in (
        ("segment", exposure.by_segment),
        ("country", exposure.by_country),
        ("market_cap_tier", exposure.by_tier),
        ("position", exposure.positions),
    ):
        for item in slices:
            yield (
                dimension,
                item.key,
                item.label,
                item.value,
                item.weight,
                currency,
                " ".join(item.symbols),
                *provenance(item.symbols),
            )


# Watchlists ---------------------------------------------------------------------------------------

WATCHLIST_HEADER = [
    "position",
    "symbol",
    "name",
    "segment",
    "currency",
    "price",
    "change",
    "change_percent",
    "pre_market_price",
    "pre_market_change_percent",
    "post_market_price",
    "post_market_change_percent",
    "volume",
    "market_cap",
    "market_state",
    "note",
    "added_at",
    "price_source",
    "price_as_of",
]


def watchlist_rows(items: QuerySet[WatchlistItem]) -> Iterator[tuple]:
    for number, item in enumerate(items, start=1):
        instrument = item.instrument
        quote = getattr(instrument, "quote", None)
        miner = getattr(instrument, "miner", None)
        yield (
            number,
            instrument.symbol,
            instrument.name,
            miner.segment if miner else "",
            instrument.currency,
            quote.price if quote else None,
            quote.change if quote else None,
            quote.change_percent if quote else None,
            quote.pre_market_price if quote else None,
            quote.pre_market_change_percent if quote else None,
            quote.post_market_price if quote else None,
            quote.post_market_change_percent if quote else None,
            quote.volume if quote else None,
            quote.market_cap if quote else None,
            quote.market_state if quote else "",
            item.note,
            item.added_at,
            quote.source if quote else "",
            quote_as_of(quote),
        )
