"""Reading one record of a CSV file into a ledger entry, a skipped row or row problems (pure).

A buy or sell needs its security, date, quantity and price. A dividend needs its security and
either its shares and amount per share or its total amount. A deposit, withdrawal, interest or
fee needs its date and amount (or, as Ghostfolio writes them, quantity x price + fee); it belongs
to the portfolio's cash, so its symbol, if any, is not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from market.rules import MINOR_UNITS, NOTE_MAX_LENGTH, SYMBOL_RE
from portfolios.csv_import.cells import (
    is_isin,
    parse_date,
    parse_decimal,
    parse_money,
    parse_us_date,
    un_neutralise,
)
from portfolios.csv_import.formats import (
    AUTOMATIC_DIVIDEND,
    CASH_ENTRIES,
    FIELD_LABELS,
    MONEY_IN,
    Kind,
    Layout,
)
from portfolios.csv_import.rows import (
    CashRow,
    ParsedFile,
    RowProblem,
    SkippedRow,
    TaxRow,
    TradeRow,
)

STORED = Decimal("0.00000001")
KINDS_TEXT = "buy, sell, dividend, deposit, withdrawal, interest or fee"
DIVIDEND_HISTORY = "dividend history"  # the price_source of our export's automatic dividends


@dataclass
class Columns:
    """Where each field of a file is: the header row matched against a layout."""

    layout: Layout
    positions: dict[str, int]  # field -> index
    written: dict[str, str]  # field -> header as written
    ignored: list[str]
    headers: list[str]
    fees: list[tuple[int, int | None, str]]  # (amount index, its currency's index, header)
    exchange_rate: int | None = None
    amount_currency: int | None = None
    amount_in: str = ""  # the amount's currency when its header names it ("Total (EUR)")
    dividend_taxes: list[tuple[int, int | None, str]] | None = None


class _Record:
    """One record being read: its cells, and the problems found so far."""

    def __init__(self, parsed: ParsedFile, columns: Columns, record: list[str], line: int):
        self.parsed, self.columns, self.record, self.line = parsed, columns, record, line
        self.layout = columns.layout
        self.problems: list[RowProblem] = []

    def at(self, index: int | None) -> str:
        record = self.record
        return record[index].strip() if index is not None and index < len(record) else ""

    def cell(self, name: str) -> str:
        return self.at(self.columns.positions.get(name))

    def column(self, name: str) -> str:
        return self.parsed.columns.get(name, FIELD_LABELS[name])

    def problem(self, name: str, message: str, header: str = "") -> None:
        column = header or (self.column(name) if name else "")
        self.problems.append(RowProblem(self.line, column, message))

    def skip(self, kind: str, reason: str, symbol: str | None = None) -> None:
        code = self.cell("symbol") or self.cell("isin") if symbol is None else symbol
        self.parsed.skipped.append(SkippedRow(self.line, kind, code, reason))

    def number(self, text: str) -> Decimal:
        if self.layout.money_cells:
            return parse_money(text)
        return parse_decimal(text, decimal_comma=self.parsed.delimiter == ";")

    def decimal(self, name: str) -> Decimal | None:
        """A number cell that must be there and be more than zero."""
        text = self.cell(name)
        if not text:
            self.problem(name, "is empty")
            return None
        try:
            value = self.number(text)
        except ValueError as exc:
            self.problem(name, str(exc))
            return None
        if name == "quantity" and self.layout.signed_quantity:
            value = abs(value)
        if value <= 0:
            self.problem(name, f"must be greater than zero, not {text}")
            return None
        return value

    def amount(self) -> Decimal | None:
        """The amount cell as written (signed), None when empty or not a number."""
        text = self.cell("amount")
        if not text:
            return None
        try:
            return self.number(text)
        except ValueError as exc:
            self.problem("amount", str(exc))
            return None

    def date(self) -> dt.date | None:
        text = self.cell("date")
        if not text:
            self.problem("date", "is empty")
            return None
        if self.layout.time_after_semicolon:
            text = text.split(";", 1)[0]
        try:
            read_date = parse_us_date if self.layout.month_first else parse_date
            return read_date(text)
        except ValueError as exc:
            self.problem("date", str(exc))
            return None

    def currency(self, index: int | None = None) -> str:
        name = "currency"
        if index is None:
            index = self.columns.positions.get(name)
        text = self.at(index)
        if text and not (len(text) == 3 and text.isalpha()):
            header = self.columns.headers[index] if index is not None else ""
            self.problem(name, f"{text!r} is not a 3-letter currency code", header)
            return ""
        if text in MINOR_UNITS:  # London's GBX (pence): the price is kept in pounds
            return MINOR_UNITS[text][0]
        return text.upper()

    def unit_divisor(self) -> int:
        """What the row's prices are divided by to be in its currency's major unit: 100 for a
        price in pence (GBX), else 1."""
        return MINOR_UNITS.get(self.at(self.columns.positions.get("currency")), ("", 1))[1]

    def fees(self, fee_columns: list[tuple[int, int | None, str]], currency: str) -> Decimal:
        """The sum of these fee cells in `currency` (converted at the row's exchange rate)."""
        total = Decimal(0)
        for index, currency_index, header in fee_columns:
            text = self.at(index)
            if not text:
                continue
            try:
                # A fee written negative is a debit, as brokers print it: its size is the fee.
                amount = abs(self.number(text))
            except ValueError as exc:
                self.problem("", str(exc), header)
                continue
            fee_currency = self.at(currency_index).upper()
            if amount and fee_currency and currency and fee_currency != currency:
                rate_text = self.at(self.columns.exchange_rate)
                try:
                    rate = parse_decimal(rate_text) if rate_text else Decimal(0)
                except ValueError:
                    rate = Decimal(0)
                if rate <= 0:
                    self.problem("", f"is in {fee_currency}, the trade in {currency}", header)
                    continue
                # The rate is in the price's unit (100 GBX per GBP): a fee converted into pence
                # is divided back into pounds.
                amount = (amount * rate / self.unit_divisor()).quantize(STORED)
            total += amount
        return total

    def note(self) -> str:
        note = un_neutralise(self.cell("note"))
        if len(note) > NOTE_MAX_LENGTH:
            self.problem("note", f"is {len(note)} characters long; at most {NOTE_MAX_LENGTH}")
        return note


def read_record(parsed: ParsedFile, columns: Columns, record: list[str], line: int) -> None:
    """Read one record into `parsed`: an entry, a skipped row, or its problems."""
    row = _Record(parsed, columns, record, line)
    layout = columns.layout
    width = len(columns.headers)
    if len(record) > width and any(value.strip() for value in record[width:]):
        row.problem("", f"has {len(record)} cells but the header names {width} columns")

    reason = layout.skip_line(dict(zip(columns.headers, record, strict=False)))
    if reason:
        return row.skip(row.cell("type"), reason)
    kind_text = row.cell("type")
    kind = layout.kind_of(kind_text) if kind_text else Kind()
    if not kind_text:
        row.problem("type", f"is empty: expected {KINDS_TEXT}")
    elif kind.skip:
        return row.skip(kind_text, kind.skip)
    elif not kind.entry:
        row.problem("type", f"{kind_text!r} is not a type we read ({KINDS_TEXT})")

    if kind.entry in CASH_ENTRIES:
        return _read_cash(row, kind, kind_text)
    if kind.entry == "tax":
        return _read_tax(row, kind_text)
    if kind.entry == "dividend" and row.cell("price_source").lower() == DIVIDEND_HISTORY:
        return row.skip(kind_text, AUTOMATIC_DIVIDEND)
    if row.cell("data_source").upper() == "MANUAL":
        return row.skip(
            kind_text, "priced by hand (DataSource MANUAL): there is no market price for it"
        )
    return _read_holding_entry(row, kind, kind_text)


def _security(row: _Record, kind_text: str) -> tuple[str, str] | None:
    """(symbol, isin) of the row; None when the row was skipped for it."""
    symbol, isin = row.cell("symbol").upper(), row.cell("isin").upper()
    if symbol and not isin and is_isin(symbol):
        symbol, isin = "", symbol
    if isin and not is_isin(isin):
        row.problem("isin", f"{row.cell('isin')!r} is not a valid ISIN")
    if symbol and not SYMBOL_RE.match(symbol):
        if not isin:
            row.skip(kind_text, f"“{row.cell('symbol')[:40]}” is not a ticker symbol we can price")
            return None
        symbol = ""
    return symbol, isin


def _read_holding_entry(row: _Record, kind: Kind, kind_text: str) -> None:
    """A buy, sell or dividend: an entry of the holding of the row's security."""
    security = _security(row, kind_text)
    if security is None:
        return
    symbol, isin = security
    if not symbol and not isin:
        if kind.entry == "dividend":
            row.problem("symbol", "is empty: a dividend needs the security that paid it")
        else:
            row.problem("symbol", "is empty")
    trade_date = row.date()
    total = (
        kind.entry == "dividend"
        and not (row.cell("quantity") or row.cell("price"))
        and bool(row.cell("amount"))
    )
    if total:
        quantity, price = Decimal(1), row.amount()
    elif kind.entry == "dividend" and not (row.cell("quantity") or row.cell("price")):
        quantity = price = None
        row.problem(
            "amount" if "amount" in row.columns.positions else "quantity",
            "is empty: a dividend needs its shares and amount per share, or its total amount",
        )
    else:
        quantity, price = row.decimal("quantity"), row.decimal("price")
        if price is not None and row.unit_divisor() != 1:
            price = price / row.unit_divisor()
    currency = row.currency()
    fee = row.fees(row.columns.fees, currency)
    if kind.entry == "dividend":
        fee += row.fees(row.columns.dividend_taxes or [], currency)
    note = row.note()
    if total and price is not None:
        # In a file of signed amounts a negative total reverses a dividend: see `combine`.
        if not row.layout.signed_amounts:
            price = abs(price)
        if price == 0:
            row.problem("amount", f"must not be zero, not {row.cell('amount')}")
        # The total is what was paid: the amount per share (here, for one unit) is before tax.
        price += fee
    if row.problems:
        row.parsed.problems.extend(row.problems)
        return
    assert trade_date is not None and quantity is not None and price is not None
    row.parsed.trades.append(
        TradeRow(
            line=row.line,
            symbol=symbol,
            kind=kind.entry,
            trade_date=trade_date,
            quantity=quantity,
            price=price,
            fee=fee,
            note=note,
            currency=currency,
            isin=isin,
            total=total,
        )
    )


def _read_cash(row: _Record, kind: Kind, kind_text: str) -> None:
    """A deposit, withdrawal, interest or fee: an entry of the portfolio's cash."""
    entry = kind.entry
    trade_date = row.date()
    amount = row.amount()
    if amount is None and not row.cell("amount"):
        amount = _amount_from_quantity_and_price(row, entry)
    if row.columns.amount_currency is not None:
        currency = row.currency(row.columns.amount_currency)
    else:
        currency = row.columns.amount_in or row.currency()
    note = row.note()
    if amount is not None and row.layout.signed_amounts and amount:
        money_in = amount > 0
        if money_in != (entry in MONEY_IN):
            if not kind.reverse and not row.problems:
                way = "in" if money_in else "out"
                return row.skip(
                    kind_text,
                    f"money {way} on a {entry} row (a refund or a reversal): the ledger holds "
                    f"a {entry} only as money {'out' if money_in else 'in'}",
                    symbol="",
                )
            entry = kind.reverse or entry
    if amount is not None:
        amount = abs(amount)
        if amount == 0:
            row.problem("amount", f"must be greater than zero, not {row.cell('amount') or 0}")
    if row.problems:
        row.parsed.problems.extend(row.problems)
        return
    assert trade_date is not None and amount is not None
    row.parsed.cash.append(
        CashRow(
            line=row.line,
            kind=entry,
            trade_date=trade_date,
            amount=amount,
            currency=currency,
            note=note,
        )
    )


def _amount_from_quantity_and_price(row: _Record, entry: str) -> Decimal | None:
    """Ghostfolio's cash activities: a fee is quantity x price + fee (usually 0 x 0 + fee),
    interest quantity x price - fee; None (with a problem) when the row has neither."""
    if not any(row.cell(name) for name in ("quantity", "price", "fee")):
        row.problem("amount", f"is empty: a {entry} needs its amount")
        return None
    values = {}
    for name in ("quantity", "price"):
        try:
            values[name] = abs(row.number(row.cell(name))) if row.cell(name) else Decimal(0)
        except ValueError as exc:
            row.problem(name, str(exc))
            return None
    fee = row.fees(row.columns.fees, "")
    gross = values["quantity"] * values["price"]
    amount = gross + fee if entry == "fee" else gross - fee
    if amount < 0:
        row.problem("fee", f"is more than quantity x price: the {entry} would be below zero")
        return None
    return amount


def _read_tax(row: _Record, kind_text: str) -> None:
    """Tax on a dividend, on a line of its own: kept to be added to its dividend."""
    security = _security(row, kind_text)
    if security is None:
        return
    symbol, isin = security
    trade_date = row.date()
    amount = row.amount()
    if not row.cell("amount"):
        row.problem("amount", "is empty")
    if not symbol and not isin:
        row.problem("symbol", "is empty: a tax on a dividend needs the security that paid it")
    if row.problems:
        row.parsed.problems.extend(row.problems)
        return
    assert trade_date is not None and amount is not None
    row.parsed.taxes.append(TaxRow(row.line, symbol or isin, trade_date, amount, kind_text))
