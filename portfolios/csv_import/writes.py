"""Checking an import's entries against the ledger, and writing them through it.

Trades and dividends go through `record_transactions` (which recomputes their holdings), cash
entries through `record_cash_entries`; both in the caller's database transaction, so that a
problem in either leaves nothing written.
"""

from __future__ import annotations

from django.db import transaction

from market.models import Instrument
from portfolios import ledger
from portfolios.csv_import.formats import FIELD_LABELS
from portfolios.csv_import.results import ImportPreview
from portfolios.csv_import.rows import CashRow, RowProblem, TradeRow
from portfolios.services.cash import CashInput, clean_cash_values, record_cash_entries
from portfolios.services.transactions import (
    LedgerError,
    TradeInput,
    clean_trade_values,
    record_transactions,
)

# The ledger service names entry fields; the preview names the file's columns.
_LEDGER_FIELD_TO_COLUMN = {
    "kind": "type",
    "trade_date": "date",
    "quantity": "quantity",
    "price": "price",
    "fee": "fee",
    "note": "note",
    "symbol": "symbol",
    "amount": "amount",
}


class EntriesRefused(Exception):
    """The ledger refused some entries; `problems` says which and why. The caller's database
    transaction must roll back what was written."""

    def __init__(self, problems: list[RowProblem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class _RollBack(Exception):
    pass


def column(preview: ImportPreview, ledger_field: str) -> str:
    name = _LEDGER_FIELD_TO_COLUMN.get(ledger_field)
    return preview.parsed.columns.get(name, FIELD_LABELS.get(name, "")) if name else ""


def trade_values(trade: TradeRow) -> dict:
    return {
        "kind": trade.kind,
        "trade_date": trade.trade_date,
        "quantity": trade.quantity,
        "price": trade.price,
        "fee": trade.fee,
        "note": trade.note,
    }


def cash_values(row: CashRow) -> dict:
    return {"kind": row.kind, "trade_date": row.trade_date, "amount": row.amount, "note": row.note}


def _problems(
    error: LedgerError, preview: ImportPreview, rows: list[TradeRow] | list[CashRow]
) -> list[RowProblem]:
    return [
        RowProblem(
            rows[row_error.row].line if row_error.row is not None else 0,
            column(preview, row_error.field),
            row_error.message,
        )
        for row_error in error.row_errors
    ]


def write(
    portfolio,
    preview: ImportPreview,
    rows: list[tuple[TradeRow, Instrument]],
    cash_rows: list[CashRow],
) -> int:
    """Record these entries (in the caller's transaction) and return how many were written;
    raise EntriesRefused with every problem the ledger finds."""
    problems: list[RowProblem] = []
    written = 0
    try:
        written += len(
            record_transactions(
                portfolio=portfolio,
                trades=[
                    TradeInput(**trade_values(trade), instrument=instrument)
                    for trade, instrument in rows
                ],
            )
        )
    except LedgerError as exc:
        problems += _problems(exc, preview, [trade for trade, _ in rows])
    try:
        written += len(
            record_cash_entries(
                portfolio=portfolio, entries=[CashInput(**cash_values(row)) for row in cash_rows]
            )
        )
    except LedgerError as exc:
        problems += _problems(exc, preview, cash_rows)
    if problems:
        raise EntriesRefused(problems)
    return written


def check_ledger(portfolio, preview: ImportPreview, unknown: dict[str, list[TradeRow]]) -> None:
    """Every problem the ledger would find, at once: a row's own (a future date) does not hide
    another row's oversold sell, and sells of symbols still to be added are walked too. The
    entries are written inside a transaction that is rolled back."""
    checkable = []
    for trade, instrument in preview.to_write:
        _, errors = clean_trade_values(**trade_values(trade))
        for name, message in errors:
            preview.problems.append(RowProblem(trade.line, column(preview, name), message))
        if not errors:
            checkable.append((trade, instrument))
    checkable_cash = []
    for row in preview.cash_to_write:
        _, errors = clean_cash_values(**cash_values(row))
        for name, message in errors:
            preview.problems.append(RowProblem(row.line, column(preview, name), message))
        if not errors:
            checkable_cash.append(row)
    if checkable or checkable_cash:
        try:
            with transaction.atomic():
                write(portfolio, preview, checkable, checkable_cash)
                raise _RollBack
        except _RollBack:
            pass
        except EntriesRefused as exc:
            preview.problems.extend(exc.problems)
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
