"""Checking a read file against the database, and writing its trades through the ledger.

`preview_import` finds the instrument of every trade (the symbol as written, a crypto pair
written without its dash, or an ISIN looked up with the market-data provider), leaves out the
trades already in the portfolio and the rows we cannot price (with their reason), and checks the
rest against the ledger without writing anything. `confirm_import` writes exactly the trades the
preview listed, in one database transaction, or none of them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from market.models import Instrument
from market.providers import MarketDataProvider, ProviderError, SearchHit, get_provider
from portfolios import ledger
from portfolios.csv_import.cells import ImportRefused
from portfolios.csv_import.formats import FIELD_LABELS
from portfolios.csv_import.reader import (
    ParsedFile,
    RowProblem,
    SkippedRow,
    TradeRow,
    parse_transactions_csv,
)
from portfolios.models import Portfolio, Transaction
from portfolios.services.transactions import (
    LedgerError,
    TradeInput,
    clean_trade_values,
    record_transactions,
)

# BTCUSD, ETHEUR: a crypto code glued to the currency it is quoted in (as Ghostfolio and some
# brokers write them); the provider writes BTC-USD.
CRYPTO_PAIR_RE = re.compile(r"^([A-Z0-9]{2,10})(USD|USDT|USDC|EUR|GBP|CHF|CAD|AUD|JPY)$")
LISTED_KINDS = {"equity", "etf", "crypto", "index"}


@dataclass
class SymbolMapping:
    """A code of the file read as another symbol: a crypto pair, or an ISIN's listing."""

    code: str
    symbol: str
    reason: str  # "crypto pair" or "ISIN"
    listings: list[SearchHit] = field(default_factory=list)  # when there are several

    @property
    def several(self) -> bool:
        return len(self.listings) > 1


@dataclass
class ImportPreview:
    """What an import would do: the trades it would write, the ones already in the portfolio,
    the rows it skips (with why), the codes it reads as other symbols, and every problem (a
    problem blocks the import; a skipped row does not)."""

    parsed: ParsedFile
    to_write: list[tuple[TradeRow, Instrument]] = field(default_factory=list)
    duplicates: list[TradeRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    unknown_symbols: list[str] = field(default_factory=list)
    mappings: list[SymbolMapping] = field(default_factory=list)
    searched: dict[str, list[SearchHit]] = field(default_factory=dict)  # ISIN -> listings

    @property
    def already_imported(self) -> bool:
        """Every trade of the file is already in the portfolio: the file was imported before."""
        return not self.to_write and bool(self.duplicates) and not self.problems

    @property
    def can_confirm(self) -> bool:
        return bool(self.to_write) and not self.problems

    @property
    def has_choices(self) -> bool:
        """Some ISIN has several listings the user may pick from."""
        return any(mapping.several for mapping in self.mappings)

    @property
    def listings(self) -> dict[str, str]:
        """The listing used for each ISIN."""
        return {m.code: m.symbol for m in self.mappings if m.reason == "ISIN"}


@dataclass(frozen=True)
class ImportResult:
    written: int
    duplicates: int
    skipped: int


class ImportBlocked(Exception):
    """Confirming found problems (the ledger changed since the preview, or the file did);
    nothing was written. `preview` holds them."""

    def __init__(self, preview: ImportPreview):
        super().__init__(f"{len(preview.problems)} problem(s)")
        self.preview = preview


class _RollBack(Exception):
    pass


def _symbol_column(parsed: ParsedFile, trade: TradeRow) -> str:
    name = "symbol" if trade.symbol else "isin"
    return parsed.columns.get(name, FIELD_LABELS[name])


def _resolve_codes(
    trades: list[TradeRow],
    *,
    provider: MarketDataProvider | None,
    listings: dict[str, str],
    searched: dict[str, list[SearchHit]],
) -> tuple[dict[str, str], dict[str, str], list[SymbolMapping]]:
    """The symbol each code of the file stands for, the codes that cannot be resolved (with
    why), and the codes read as another symbol. ISINs are looked up with the provider unless
    `searched` holds the answer already; `listings` holds the user's pick among several."""
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
    for isin in sorted({t.isin for t in trades if not t.symbol}):
        if isin not in searched:
            try:
                provider = provider or get_provider()
                searched[isin] = [
                    hit
                    for hit in provider.search(isin)
                    if hit.symbol.upper() != isin and (hit.kind or "equity") in LISTED_KINDS
                ]
            except ProviderError:
                failed[isin] = "problem"
                continue
        hits = searched[isin]
        if not hits:
            failed[isin] = f"no listing found for the ISIN {isin}: there is no price to follow"
            continue
        offered = [hit.symbol.upper() for hit in hits]
        symbol = listings[isin] if listings.get(isin) in offered else offered[0]
        resolved[isin] = symbol
        mappings.append(SymbolMapping(isin, symbol, "ISIN", hits))
    return resolved, failed, mappings


def preview_import(
    *,
    portfolio: Portfolio,
    content: bytes,
    check_ledger: bool = True,
    provider: MarketDataProvider | None = None,
    listings: dict[str, str] | None = None,
    searched: dict[str, list[SearchHit]] | None = None,
) -> ImportPreview:
    """Read the file and check every trade against the database without writing anything.

    Raises ImportRefused for a file that cannot be read at all. ISINs are looked up with
    `provider` (the configured one by default) unless `searched` holds a previous preview's
    answers; `listings` gives the user's pick for an ISIN listed several times. With
    `check_ledger`, the trades are recorded by the ledger service inside a transaction that is
    rolled back, so the preview reports exactly what confirming would refuse (an oversold sell,
    a future date)."""
    parsed = parse_transactions_csv(content, max_bytes=settings.CSV_IMPORT_MAX_BYTES)
    preview = ImportPreview(
        parsed=parsed,
        problems=list(parsed.problems),
        skipped=list(parsed.skipped),
        searched=dict(searched or {}),
    )
    resolved, failed, preview.mappings = _resolve_codes(
        parsed.trades, provider=provider, listings=listings or {}, searched=preview.searched
    )
    wanted = set(resolved.values())
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=wanted)}
    unknown: dict[str, list[TradeRow]] = defaultdict(list)
    found: list[tuple[TradeRow, Instrument]] = []
    for trade in parsed.trades:
        code = trade.code
        if code in failed:
            if failed[code] == "problem":
                preview.problems.append(
                    RowProblem(
                        trade.line,
                        _symbol_column(parsed, trade),
                        f"the ISIN {code} could not be looked up (the market-data provider did "
                        "not answer); try again in a minute",
                    )
                )
            else:
                preview.skipped.append(SkippedRow(trade.line, trade.kind, code, failed[code]))
            continue
        symbol = resolved[code]
        instrument = instruments.get(symbol)
        if instrument is None:
            unknown[symbol].append(trade)
            preview.problems.append(
                RowProblem(
                    trade.line,
                    _symbol_column(parsed, trade),
                    f"{symbol} is not an instrument we follow yet: add it with the button "
                    "below, or correct the symbol in the file",
                )
            )
        elif trade.currency and trade.currency != instrument.currency:
            preview.problems.append(
                RowProblem(
                    trade.line,
                    parsed.columns["currency"],
                    f"{symbol} trades in {instrument.currency}, not {trade.currency}",
                )
            )
        else:
            found.append((trade, instrument))
    preview.unknown_symbols = list(unknown)
    preview.skipped.sort(key=lambda row: row.line)

    # Trades already in the portfolio (the same file imported before, or overlapping files) are
    # left out, counted as a multiset so that two identical fills in one file both count.
    existing = Counter(
        Transaction.objects.filter(
            holding__portfolio=portfolio, kind__in=[Transaction.Kind.BUY, Transaction.Kind.SELL]
        ).values_list(
            "holding__instrument__symbol", "kind", "trade_date", "quantity", "price", "fee"
        )
    )
    for trade, instrument in found:
        key = (
            instrument.symbol,
            trade.kind,
            trade.trade_date,
            trade.quantity,
            trade.price,
            trade.fee,
        )
        if existing[key] > 0:
            existing[key] -= 1
            preview.duplicates.append(trade)
        else:
            preview.to_write.append((trade, instrument))

    if check_ledger:
        _check_ledger(portfolio, preview, unknown)
    preview.problems.sort(key=lambda p: (p.line, p.column))
    # A row with a problem is never also listed as read without one.
    blocked = {problem.line for problem in preview.problems}
    preview.to_write = [(t, i) for t, i in preview.to_write if t.line not in blocked]
    return preview


def _check_ledger(
    portfolio: Portfolio, preview: ImportPreview, unknown: dict[str, list[TradeRow]]
) -> None:
    """Every problem the ledger would find, at once: a row's own (a future date) does not hide
    another row's oversold sell, and sells of symbols still to be added are walked too."""
    checkable = []
    for trade, instrument in preview.to_write:
        _, errors = clean_trade_values(**_trade_values(trade))
        for name, message in errors:
            preview.problems.append(RowProblem(trade.line, _column(preview, name), message))
        if not errors:
            checkable.append((trade, instrument))
    if checkable:
        try:
            with transaction.atomic():
                _record(portfolio, checkable)
                raise _RollBack
        except _RollBack:
            pass
        except LedgerError as exc:
            preview.problems.extend(_ledger_problems(exc, preview, checkable))
    for symbol, trades in unknown.items():
        position = ledger.walk(
            ledger.Trade(t.line, t.kind, t.trade_date, t.quantity, t.price, t.fee, t.line)
            for t in trades
        )
        for oversold in position.oversold:
            held = f"{oversold.held.normalize():f}"
            preview.problems.append(
                RowProblem(
                    oversold.key,
                    preview.parsed.columns["quantity"],
                    f"the file holds {held} {symbol} on {oversold.trade_date}; "
                    f"it cannot sell {oversold.wanted.normalize():f}",
                )
            )


def confirm_import(
    *,
    portfolio: Portfolio,
    content: bytes,
    sha256: str,
    listings: dict[str, str] | None = None,
    searched: dict[str, list[SearchHit]] | None = None,
    provider: MarketDataProvider | None = None,
) -> ImportResult:
    """Write the file's trades into the portfolio in one database transaction, or none of them.

    The file is read and checked again from scratch, with the preview's ISIN lookups
    (`searched`) and the user's `listings`, so it writes the trades the preview showed: raises
    ImportRefused when it is not the file that was previewed or cannot be read, ImportBlocked
    (nothing written) when any row has a problem now."""
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ImportRefused("The uploaded file changed since its preview; upload it again.")
    with transaction.atomic():
        # One import at a time per portfolio, so a double-submitted confirm sees the first
        # one's trades as already imported instead of writing them twice.
        Portfolio.objects.select_for_update().filter(pk=portfolio.pk).first()
        preview = preview_import(
            portfolio=portfolio,
            content=content,
            check_ledger=False,
            provider=provider,
            listings=listings,
            searched=searched,
        )
        if preview.problems or not preview.to_write:
            raise ImportBlocked(preview)
        try:
            entries = _record(portfolio, preview.to_write)
        except LedgerError as exc:
            preview.problems.extend(_ledger_problems(exc, preview, preview.to_write))
            preview.problems.sort(key=lambda p: (p.line, p.column))
            raise ImportBlocked(preview) from None
    return ImportResult(
        written=len(entries),
        duplicates=len(preview.duplicates),
        skipped=len(preview.skipped),
    )


def _trade_values(trade: TradeRow) -> dict:
    return {
        "kind": trade.kind,
        "trade_date": trade.trade_date,
        "quantity": trade.quantity,
        "price": trade.price,
        "fee": trade.fee,
        "note": trade.note,
    }


def _record(portfolio: Portfolio, rows: list[tuple[TradeRow, Instrument]]) -> list:
    return record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(**_trade_values(trade), instrument=instrument) for trade, instrument in rows
        ],
    )


# The ledger service names trade fields; the preview names the file's columns.
_LEDGER_FIELD_TO_COLUMN = {
    "kind": "type",
    "trade_date": "date",
    "quantity": "quantity",
    "price": "price",
    "fee": "fee",
    "note": "note",
    "symbol": "symbol",
}


def _column(preview: ImportPreview, ledger_field: str) -> str:
    name = _LEDGER_FIELD_TO_COLUMN.get(ledger_field)
    return preview.parsed.columns.get(name, FIELD_LABELS.get(name, "")) if name else ""


def _ledger_problems(
    error: LedgerError, preview: ImportPreview, rows: list[tuple[TradeRow, Instrument]]
) -> list[RowProblem]:
    return [
        RowProblem(
            rows[row_error.row][0].line if row_error.row is not None else 0,
            _column(preview, row_error.field),
            row_error.message,
        )
        for row_error in error.row_errors
    ]
