"""Checking a read file against the database, and writing its trades through the ledger.

`preview_import` checks the rows against the database without writing; `confirm_import` writes
them through the ledger service in one database transaction, or none of them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from market.models import Instrument
from portfolios.csv_import.reader import (
    FIELD_LABELS,
    ImportRefused,
    ParsedFile,
    RowProblem,
    SkippedRow,
    TradeRow,
    parse_transactions_csv,
)
from portfolios.models import Portfolio, Transaction
from portfolios.services.transactions import LedgerError, TradeInput, record_transactions


@dataclass
class ImportPreview:
    """What an import would do: the trades it would write, the ones already in the portfolio,
    the rows it skips, and every problem (any problem blocks the whole import)."""

    parsed: ParsedFile
    to_write: list[tuple[TradeRow, Instrument]] = field(default_factory=list)
    duplicates: list[TradeRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    unknown_symbols: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[SkippedRow]:
        return self.parsed.skipped

    @property
    def already_imported(self) -> bool:
        """Every trade of the file is already in the portfolio: the file was imported before."""
        return not self.to_write and bool(self.duplicates) and not self.problems

    @property
    def can_confirm(self) -> bool:
        return bool(self.to_write) and not self.problems


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


def preview_import(
    *, portfolio: Portfolio, content: bytes, check_ledger: bool = True
) -> ImportPreview:
    """Read the file and check every trade against the database without writing anything.

    Raises ImportRefused for a file that cannot be read at all. With `check_ledger`, the trades
    are recorded by the ledger service inside a transaction that is rolled back, so the preview
    reports exactly what confirming would refuse (an oversold sell, a future date)."""
    parsed = parse_transactions_csv(content, max_bytes=settings.CSV_IMPORT_MAX_BYTES)
    preview = ImportPreview(parsed=parsed, problems=list(parsed.problems))
    symbols = {trade.symbol for trade in parsed.trades}
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    unknown: dict[str, None] = {}
    resolved: list[tuple[TradeRow, Instrument]] = []
    for trade in parsed.trades:
        instrument = instruments.get(trade.symbol)
        if instrument is None:
            unknown[trade.symbol] = None
            preview.problems.append(
                RowProblem(
                    trade.line,
                    parsed.columns["symbol"],
                    f"{trade.symbol} is not an instrument we follow yet: add it with the button "
                    "below, or correct the symbol in the file",
                )
            )
        elif trade.currency and trade.currency != instrument.currency:
            preview.problems.append(
                RowProblem(
                    trade.line,
                    parsed.columns["currency"],
                    f"{trade.symbol} trades in {instrument.currency}, not {trade.currency}",
                )
            )
        else:
            resolved.append((trade, instrument))
    preview.unknown_symbols = list(unknown)

    # Trades already in the portfolio (the same file imported before, or overlapping files) are
    # left out, counted as a multiset so that two identical fills in one file both count.
    existing = Counter(
        Transaction.objects.filter(
            holding__portfolio=portfolio, kind__in=[Transaction.Kind.BUY, Transaction.Kind.SELL]
        ).values_list(
            "holding__instrument__symbol", "kind", "trade_date", "quantity", "price", "fee"
        )
    )
    for trade, instrument in resolved:
        if existing[trade.fingerprint] > 0:
            existing[trade.fingerprint] -= 1
            preview.duplicates.append(trade)
        else:
            preview.to_write.append((trade, instrument))

    if check_ledger and preview.to_write:
        try:
            with transaction.atomic():
                _record(portfolio, preview.to_write)
                raise _RollBack
        except _RollBack:
            pass
        except LedgerError as exc:
            preview.problems.extend(_ledger_problems(exc, preview))
    preview.problems.sort(key=lambda p: (p.line, p.column))
    return preview


def confirm_import(*, portfolio: Portfolio, content: bytes, sha256: str) -> ImportResult:
    """Write the file's trades into the portfolio in one database transaction, or none of them.

    The file is read and checked again from scratch: raises ImportRefused when it is not the
    file that was previewed or cannot be read, ImportBlocked (nothing written) when any row has
    a problem now."""
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ImportRefused("The uploaded file changed since its preview; upload it again.")
    with transaction.atomic():
        # One import at a time per portfolio, so a double-submitted confirm sees the first
        # one's trades as already imported instead of writing them twice.
        Portfolio.objects.select_for_update().filter(pk=portfolio.pk).first()
        preview = preview_import(portfolio=portfolio, content=content, check_ledger=False)
        if preview.problems or not preview.to_write:
            raise ImportBlocked(preview)
        try:
            entries = _record(portfolio, preview.to_write)
        except LedgerError as exc:
            preview.problems.extend(_ledger_problems(exc, preview))
            preview.problems.sort(key=lambda p: (p.line, p.column))
            raise ImportBlocked(preview) from None
    return ImportResult(
        written=len(entries),
        duplicates=len(preview.duplicates),
        skipped=len(preview.skipped),
    )


def _record(portfolio: Portfolio, rows: list[tuple[TradeRow, Instrument]]) -> list:
    return record_transactions(
        portfolio=portfolio,
        trades=[
            TradeInput(
                kind=trade.kind,
                trade_date=trade.trade_date,
                quantity=trade.quantity,
                price=trade.price,
                fee=trade.fee,
                note=trade.note,
                instrument=instrument,
            )
            for trade, instrument in rows
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


def _ledger_problems(error: LedgerError, preview: ImportPreview) -> list[RowProblem]:
    problems = []
    for row_error in error.row_errors:
        line = preview.to_write[row_error.row][0].line if row_error.row is not None else 0
        name = _LEDGER_FIELD_TO_COLUMN.get(row_error.field)
        column = preview.parsed.columns.get(name, FIELD_LABELS.get(name, "")) if name else ""
        problems.append(RowProblem(line, column, row_error.message))
    return problems
