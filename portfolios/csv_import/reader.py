"""Reading transactions from an uploaded CSV file: pure (bytes in, rows and row-numbered problems
out, no database).

The file may be our own transactions export, Ghostfolio's activity CSV (and files using the
header aliases it accepts), or a broker's export whose layout `formats` recognises by its
header. `parse_transactions_csv` refuses a whole file with `ImportRefused` only when it cannot
be read as a table of trades at all; otherwise every record becomes a trade, a skipped row (with
its reason) or row problems.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from market.rules import NOTE_MAX_LENGTH, SYMBOL_RE
from portfolios.csv_import.cells import (
    ImportRefused,
    decode_upload,
    detect_delimiter,
    file_size_text,
    is_isin,
    looks_like_data,
    parse_date,
    parse_decimal,
    parse_money,
    parse_us_date,
    un_neutralise,
)
from portfolios.csv_import.formats import (
    COLUMN_ALIASES,
    FIELD_LABELS,
    GENERIC,
    REQUIRED_FIELDS,
    Layout,
    detect_layout,
    normalise_header,
)

STORED = Decimal("0.00000001")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_PREAMBLE_LINES = 3


@dataclass(frozen=True)
class TradeRow:
    """A buy or sell read from one record of the file. `symbol` is as written (upper-cased);
    `isin` is set when the file identifies the security by ISIN (symbol may then be empty)."""

    line: int
    symbol: str
    kind: str
    trade_date: dt.date
    quantity: Decimal
    price: Decimal
    fee: Decimal
    note: str = ""
    currency: str = ""
    isin: str = ""

    @property
    def code(self) -> str:
        """What the file calls the security: its symbol, or its ISIN."""
        return self.symbol or self.isin


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str  # the header as written in the file ("" for the record as a whole)
    message: str


@dataclass(frozen=True)
class SkippedRow:
    line: int
    kind: str
    symbol: str
    reason: str


@dataclass
class ParsedFile:
    sha256: str
    delimiter: str
    columns: dict[str, str]  # field -> header as written in the file
    ignored_columns: list[str]
    layout: str = ""  # the broker layout recognised ("" for the generic one)
    trades: list[TradeRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)


_ALIAS_TO_FIELD = {
    normalise_header(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases
}


@dataclass
class _Columns:
    layout: Layout
    positions: dict[str, int]  # field -> index
    written: dict[str, str]  # field -> header as written
    ignored: list[str]
    headers: list[str]
    fees: list[tuple[int, int | None, str]]  # (amount index, its currency's index, header)
    exchange_rate: int | None = None


def _refuse_header(header: list[str]) -> None:
    cells = [cell for cell in header if cell.strip()]
    if cells and any(looks_like_data(cell) for cell in cells):
        raise ImportRefused(
            "The file has no header row: its first line holds data "
            f"({', '.join(cells[:4])}…). Add a first line naming the columns: "
            "Date, Symbol, Type, Quantity, Price (and optionally Fee, Currency, Note)."
        )
    raise ImportRefused(
        "This does not look like a transactions CSV: none of the columns of its first line "
        "is one we read "
        f"(found: {', '.join(cells[:8]) or 'nothing'}). The header must name the columns: "
        "Date, Symbol, Type, Quantity, Price (and optionally Fee, Currency, Note)."
    )


def _match_header(header: list[str]) -> _Columns:
    """Where each field is, in a broker's layout or in the generic one."""
    headers = [name.strip() for name in header]
    index_of = {normalise_header(name): i for i, name in reversed(list(enumerate(headers)))}
    layout = detect_layout(headers)
    if layout is not None:
        positions = {
            name: index_of[normalise_header(written)]
            for name, written in layout.columns.items()
            if normalise_header(written) in index_of
        }
        fees = [
            (index_of[normalise_header(fee)], index_of.get(normalise_header(currency)), fee)
            for fee, currency in layout.fees.items()
            if normalise_header(fee) in index_of
        ]
        used = set(positions.values()) | {i for i, _, _ in fees}
        columns = _Columns(
            layout=layout,
            positions=positions,
            written={name: headers[i] for name, i in positions.items()},
            ignored=[name for i, name in enumerate(headers) if name and i not in used],
            headers=headers,
            fees=fees,
            exchange_rate=index_of.get(normalise_header(layout.exchange_rate or "-")),
        )
    else:
        positions: dict[str, int] = {}
        ignored: list[str] = []
        for index, name in enumerate(headers):
            field_name = _ALIAS_TO_FIELD.get(normalise_header(name))
            if field_name is None or field_name in positions:
                if name:
                    ignored.append(name)
                continue
            positions[field_name] = index
        if not positions:
            _refuse_header(header)
        columns = _Columns(
            layout=GENERIC,
            positions=positions,
            written={name: headers[i] for name, i in positions.items()},
            ignored=ignored,
            headers=headers,
            fees=[(positions["fee"], None, headers[positions["fee"]])]
            if "fee" in positions
            else [],
        )
    missing = [
        name
        for name in REQUIRED_FIELDS
        if name not in columns.positions and not (name == "symbol" and "isin" in columns.positions)
    ]
    if missing:
        described = "; ".join(
            f"{FIELD_LABELS[name]} (also read as: {', '.join(COLUMN_ALIASES[name][1:])})"
            for name in missing
        )
        raise ImportRefused(f"Missing required column(s): {described}.")
    return columns


def parse_transactions_csv(content: bytes, *, max_bytes: int | None = None) -> ParsedFile:
    """Read every record of the file into trades, skipped rows and row problems.

    Raises ImportRefused when the file as a whole cannot be read (too large, not UTF-8, not CSV,
    no header, a required column missing, no rows)."""
    if max_bytes is not None and len(content) > max_bytes:
        raise ImportRefused(
            f"The file is {file_size_text(len(content))}; the limit is "
            f"{file_size_text(max_bytes)}. Split it into smaller files."
        )
    text = decode_upload(content)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = detect_delimiter(first_line)
    if delimiter is None and normalise_header(first_line) not in _ALIAS_TO_FIELD:
        lines = [line for line in text.splitlines() if line.strip()][1 : MAX_PREAMBLE_LINES + 1]
        delimiter = next((d for d in map(detect_delimiter, lines) if d), None)
        if delimiter is None:
            raise ImportRefused(
                "This does not look like a CSV file: its first line has no comma, semicolon or "
                "tab separating columns."
            )
    delimiter = delimiter or ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    parsed: ParsedFile | None = None
    columns: _Columns | None = None
    preamble = 0
    line = 1
    try:
        for record in reader:
            start_line = line
            line = reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                try:
                    columns = _match_header(record)
                except ImportRefused:
                    # A title line above the header ("Transactions for account …").
                    cells = [cell for cell in record if cell.strip()]
                    if (
                        len(cells) == 1
                        and preamble < MAX_PREAMBLE_LINES
                        and not looks_like_data(cells[0])
                    ):
                        preamble += 1
                        continue
                    raise
                parsed = ParsedFile(
                    sha256=hashlib.sha256(content).hexdigest(),
                    delimiter=delimiter,
                    columns=columns.written,
                    ignored_columns=columns.ignored,
                    layout=columns.layout.name,
                )
                continue
            assert parsed is not None
            _read_record(parsed, columns, record, start_line)
    except csv.Error as exc:
        raise ImportRefused(f"This is not a well-formed CSV file: line {line}: {exc}.") from exc
    if parsed is None:
        raise ImportRefused("The file is empty.")
    if not (parsed.trades or parsed.problems or parsed.skipped):
        raise ImportRefused("The file has a header but no rows.")
    return parsed


def _read_record(parsed: ParsedFile, columns: _Columns, record: list[str], line: int) -> None:
    layout = columns.layout

    def at(index: int | None) -> str:
        return record[index].strip() if index is not None and index < len(record) else ""

    def cell(name: str) -> str:
        return at(columns.positions.get(name))

    def column(name: str) -> str:
        return parsed.columns.get(name, FIELD_LABELS[name])

    problems: list[RowProblem] = []

    def problem(name: str, message: str, header: str = "") -> None:
        problems.append(RowProblem(line, header or (column(name) if name else ""), message))

    def skip(kind: str, reason: str) -> None:
        parsed.skipped.append(SkippedRow(line, kind, cell("symbol") or cell("isin"), reason))

    width = len(columns.headers)
    if len(record) > width and any(value.strip() for value in record[width:]):
        problem("", f"has {len(record)} cells but the header names {width} columns")

    reason = layout.skip_line(dict(zip(columns.headers, record, strict=False)))
    if reason:
        return skip(cell("type"), reason)
    kind_text = cell("type")
    kind = layout.kind_of(kind_text) if kind_text else None
    if not kind_text:
        problem("type", "is empty: expected buy or sell")
    elif kind.skip:
        return skip(kind_text, kind.skip)
    elif not kind.trade:
        problem("type", f"{kind_text!r} is not buy or sell")
    if cell("data_source").upper() == "MANUAL":
        return skip(
            kind_text, "priced by hand (DataSource MANUAL): there is no market price for it"
        )

    symbol, isin = cell("symbol").upper(), cell("isin").upper()
    if symbol and not isin and is_isin(symbol):
        symbol, isin = "", symbol
    if isin and not is_isin(isin):
        problem("isin", f"{cell('isin')!r} is not a valid ISIN")
    if symbol and not SYMBOL_RE.match(symbol):
        if not isin:
            return skip(kind_text, f"“{cell('symbol')[:40]}” is not a ticker symbol we can price")
        symbol = ""
    if not symbol and not isin:
        problem("symbol", "is empty")

    trade_date = None
    if not cell("date"):
        problem("date", "is empty")
    else:
        try:
            read_date = parse_us_date if layout.month_first else parse_date
            trade_date = read_date(cell("date"))
        except ValueError as exc:
            problem("date", str(exc))

    def number(text: str) -> Decimal:
        if layout.money_cells:
            return parse_money(text)
        return parse_decimal(text, decimal_comma=parsed.delimiter == ";")

    amounts: dict[str, Decimal] = {}
    for name in ("quantity", "price"):
        if not cell(name):
            problem(name, "is empty")
            continue
        try:
            amounts[name] = number(cell(name))
        except ValueError as exc:
            problem(name, str(exc))
    if "quantity" in amounts and layout.signed_quantity:
        amounts["quantity"] = abs(amounts["quantity"])
    if "quantity" in amounts and amounts["quantity"] <= 0:
        problem("quantity", f"must be greater than zero, not {cell('quantity')}")
    if "price" in amounts and amounts["price"] <= 0:
        problem("price", f"must be greater than zero, not {cell('price')}")

    currency = cell("currency").upper()
    if currency and not CURRENCY_RE.match(currency):
        problem("currency", f"{cell('currency')!r} is not a 3-letter currency code")

    fee = Decimal(0)
    for index, currency_index, header in columns.fees:
        text = at(index)
        if not text:
            continue
        try:
            # A fee written negative is a debit, as brokers print it: its size is the fee.
            amount = abs(number(text))
        except ValueError as exc:
            problem("", str(exc), header)
            continue
        fee_currency = at(currency_index).upper()
        if amount and fee_currency and currency and fee_currency != currency:
            rate_text = at(columns.exchange_rate)
            try:
                rate = parse_decimal(rate_text) if rate_text else Decimal(0)
            except ValueError:
                rate = Decimal(0)
            if rate <= 0:
                problem("", f"is in {fee_currency}, the trade in {currency}", header)
                continue
            amount = (amount * rate).quantize(STORED)
        fee += amount

    note = un_neutralise(cell("note"))
    if len(note) > NOTE_MAX_LENGTH:
        problem("note", f"is {len(note)} characters long; at most {NOTE_MAX_LENGTH}")

    if problems:
        parsed.problems.extend(problems)
        return
    assert trade_date is not None and kind is not None
    parsed.trades.append(
        TradeRow(
            line=line,
            symbol=symbol,
            kind=kind.trade,
            trade_date=trade_date,
            quantity=amounts["quantity"],
            price=amounts["price"],
            fee=fee,
            note=note,
            currency=currency,
            isin=isin,
        )
    )
