"""Reading transactions from an uploaded CSV, pure (bytes in, rows and row-numbered problems
out, no database): our own transactions export, or an activity CSV in Ghostfolio's format (and
the header aliases it accepts).

`parse_transactions_csv` refuses a whole file with `ImportRefused` when it cannot be read as a
table of trades at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from market.csv_export import FORMULA_TRIGGERS
from market.rules import NOTE_MAX_LENGTH, SYMBOL_RE

# Each field we read, with the headers (compared case-insensitively, spaces and underscores
# ignored) that name it. The first alias is the one our own export writes.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "TradeDate"),
    "symbol": ("symbol", "Code", "Ticker"),
    "type": ("type", "Action", "Buy/Sell"),
    "quantity": ("quantity", "Qty", "Shares", "Units"),
    "price": ("price", "UnitPrice", "TradePrice"),
    "fee": ("fee", "Commission", "IBCommission"),
    "currency": ("currency", "Ccy", "CurrencyPrimary"),
    "note": ("note", "Comment"),
}
REQUIRED_FIELDS = ("date", "symbol", "type", "quantity", "price")
FIELD_LABELS = {
    "date": "Date",
    "symbol": "Symbol",
    "type": "Type",
    "quantity": "Quantity",
    "price": "Price",
    "fee": "Fee",
    "currency": "Currency",
    "note": "Note",
}
TRADE_KINDS = {"buy": "buy", "sell": "sell"}
# Activity kinds other trackers export that a portfolio of holdings does not record: listed as
# skipped in the preview, never silently dropped. Split entries in our own export are skipped
# because the ledger applies splits from the market's split history itself.
SKIPPED_KINDS = {
    "dividend": "dividends are not tracked",
    "fee": "stand-alone fees are not tracked",
    "interest": "interest is not tracked",
    "item": "valuables (items) are not tracked",
    "liability": "liabilities are not tracked",
    "deposit": "cash movements are not tracked",
    "withdrawal": "cash movements are not tracked",
    "cash": "cash movements are not tracked",
    "tax": "taxes are not tracked",
    "transfer": "transfers are not tracked",
    "split": "splits are applied from the market's split history, not from files",
}
# The ledger stores DecimalField(max_digits=20, decimal_places=8).
MAX_DECIMAL_PLACES = 8
MAX_INTEGER_DIGITS = 12
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
DELIMITERS = (",", ";", "\t")

# (regex, order of day/month/year groups, the format as users read it)
_DATE_FORMATS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
]
_TWO_DIGIT_YEAR = re.compile(
    r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2}$|^\d{2}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{6}$"
)
# An ISO timestamp (as Ghostfolio writes its dates): only the calendar date is kept.
_ISO_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}")
_BINARY_SIGNATURES = [
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
]
DATE_FORMATS_TEXT = "YYYY-MM-DD, DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY or YYYYMMDD"


class ImportRefused(Exception):
    """The file as a whole cannot be imported; the message says why, in words for the user."""


@dataclass(frozen=True)
class TradeRow:
    """A buy or sell read from one record of the file."""

    line: int
    symbol: str
    kind: str
    trade_date: dt.date
    quantity: Decimal
    price: Decimal
    fee: Decimal
    note: str = ""
    currency: str = ""

    @property
    def fingerprint(self) -> tuple:
        """What makes two trades the same trade (the note may have been edited since)."""
        return (self.symbol, self.kind, self.trade_date, self.quantity, self.price, self.fee)


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
    trades: list[TradeRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)


def _normalise_header(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lower())


_ALIAS_TO_FIELD = {
    _normalise_header(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases
}


def decode_upload(content: bytes) -> str:
    """The file's text, or ImportRefused when it is not UTF-8 text (a UTF-8 BOM is fine)."""
    if not content.strip():
        raise ImportRefused("The file is empty.")
    head = content[:8]
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise ImportRefused(
                f"This is not a CSV file: it looks like {what}. "
                "Export or save it as CSV (comma- or semicolon-separated) and upload that."
            )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(
            "The file is encoded as UTF-16. Save it as CSV UTF-8 (in Excel: "
            "Save As › CSV UTF-8) and upload it again."
        )
    if b"\x00" in content[:65536]:
        raise ImportRefused("This is not a CSV file: it contains binary data (NUL bytes).")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start : exc.start + 1].hex().upper()
        raise ImportRefused(
            f"The file is not UTF-8 text (byte 0x{byte} on line {line} is not valid UTF-8; "
            "it was probably saved as Windows-1252 or Latin-1). Save it as CSV UTF-8 and "
            "upload it again."
        ) from exc
    return text


def detect_delimiter(header_line: str) -> str | None:
    """The delimiter of the header line: the most frequent of comma, semicolon and tab outside
    quotes, or None when the line has none of them."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def parse_date(text: str) -> dt.date:
    """A trade date in one of the accepted formats; ValueError with the reason otherwise."""
    value = text.strip()
    timestamp = _ISO_TIMESTAMP.match(value)
    if timestamp:
        value = timestamp.group(1)
    if _TWO_DIGIT_YEAR.match(value):
        raise ValueError(
            f"{text!r} has a two-digit year, which is ambiguous: write the year in full "
            "(e.g. 2025-01-31 or 31.01.2025)"
        )
    for pattern, order in _DATE_FORMATS:
        match = pattern.match(value)
        if not match:
            continue
        first, second, third = (int(g) for g in match.groups())
        year, month, day = (first, second, third) if order == "ymd" else (third, second, first)
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError(f"{text!r} is not a real date") from None
    raise ValueError(f"{text!r} is not a date in a format we read ({DATE_FORMATS_TEXT})")


def parse_decimal(text: str, *, decimal_comma: bool = False) -> Decimal:
    """An exact Decimal from a cell; `decimal_comma` allows "12,5" in semicolon files."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if value.startswith("'"):
        value = value[1:]
    if decimal_comma and "," in value:
        if "." in value or value.count(",") > 1:
            raise ValueError(f"{text!r} mixes separators: write it without thousands separators")
        value = value.replace(",", ".")
    elif "," in value:
        raise ValueError(
            f"{text!r} has a comma: use . as the decimal point and no thousands separator"
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a number")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMAL_PLACES:
        raise ValueError(f"{text!r} has more than {MAX_DECIMAL_PLACES} decimal places")
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"{text!r} is too large")
    return number


def un_neutralise(text: str) -> str:
    """Undo the single quote our export puts before text a spreadsheet would run as a formula."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def _looks_like_data(cell: str) -> bool:
    try:
        parse_date(cell)
        return True
    except ValueError:
        pass
    try:
        parse_decimal(cell)
        return True
    except ValueError:
        return False


def _match_header(header: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Column positions and their headers by field, and the headers we ignore."""
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        field_name = _ALIAS_TO_FIELD.get(_normalise_header(name))
        if field_name is None or field_name in positions:
            if name.strip():
                ignored.append(name.strip())
            continue
        positions[field_name] = index
        written[field_name] = name.strip()
    if not positions:
        cells = [cell for cell in header if cell.strip()]
        if cells and any(_looks_like_data(cell) for cell in cells):
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
    missing = [name for name in REQUIRED_FIELDS if name not in positions]
    if missing:
        described = "; ".join(
            f"{FIELD_LABELS[name]} (also read as: {', '.join(COLUMN_ALIASES[name][1:])})"
            for name in missing
        )
        raise ImportRefused(f"Missing required column(s): {described}.")
    return positions, written, ignored


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
    if delimiter is None and _normalise_header(first_line) not in _ALIAS_TO_FIELD:
        raise ImportRefused(
            "This does not look like a CSV file: its first line has no comma, semicolon or tab "
            "separating columns."
        )
    delimiter = delimiter or ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    parsed: ParsedFile | None = None
    positions: dict[str, int] = {}
    header_width = 0
    line = 1
    try:
        for record in reader:
            start_line = line
            line = reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if parsed is None:
                positions, written, ignored = _match_header(record)
                parsed = ParsedFile(
                    sha256=hashlib.sha256(content).hexdigest(),
                    delimiter=delimiter,
                    columns=written,
                    ignored_columns=ignored,
                )
                header_width = len(record)
                continue
            _read_record(parsed, positions, record, start_line, header_width)
    except csv.Error as exc:
        raise ImportRefused(f"This is not a well-formed CSV file: line {line}: {exc}.") from exc
    if parsed is None:
        raise ImportRefused("The file is empty.")
    if not (parsed.trades or parsed.problems or parsed.skipped):
        raise ImportRefused("The file has a header but no rows.")
    return parsed


def _read_record(
    parsed: ParsedFile, positions: dict[str, int], record: list[str], line: int, width: int
) -> None:
    def cell(name: str) -> str:
        index = positions.get(name)
        if index is None or index >= len(record):
            return ""
        return record[index].strip()

    def column(name: str) -> str:
        return parsed.columns.get(name, FIELD_LABELS[name])

    problems: list[RowProblem] = []

    def problem(name: str, message: str) -> None:
        problems.append(RowProblem(line, column(name) if name else "", message))

    if len(record) > width and any(value.strip() for value in record[width:]):
        problem("", f"has {len(record)} cells but the header names {width} columns")

    kind_text = cell("type")
    kind_key = kind_text.lower()
    if not kind_text:
        problem("type", "is empty: expected buy or sell")
    elif kind_key in SKIPPED_KINDS:
        parsed.skipped.append(
            SkippedRow(line, kind_text, cell("symbol").upper(), SKIPPED_KINDS[kind_key])
        )
        return
    elif kind_key not in TRADE_KINDS:
        problem("type", f"{kind_text!r} is not buy or sell")

    symbol = cell("symbol").upper()
    if not symbol:
        problem("symbol", "is empty")
    elif not SYMBOL_RE.match(symbol):
        problem("symbol", f"{cell('symbol')!r} is not a valid symbol")

    trade_date = None
    if not cell("date"):
        problem("date", "is empty")
    else:
        try:
            trade_date = parse_date(cell("date"))
        except ValueError as exc:
            problem("date", str(exc))

    decimal_comma = parsed.delimiter == ";"
    amounts: dict[str, Decimal] = {}
    for name in ("quantity", "price", "fee"):
        text = cell(name)
        if not text:
            if name == "fee":
                amounts[name] = Decimal(0)
            else:
                problem(name, "is empty")
            continue
        try:
            amounts[name] = parse_decimal(text, decimal_comma=decimal_comma)
        except ValueError as exc:
            problem(name, str(exc))
    if "quantity" in amounts and amounts["quantity"] <= 0:
        problem("quantity", f"must be greater than zero, not {cell('quantity')}")
    if "price" in amounts and amounts["price"] <= 0:
        problem("price", f"must be greater than zero, not {cell('price')}")
    if "fee" in amounts and amounts["fee"] < 0:
        problem("fee", f"cannot be negative ({cell('fee')})")

    currency = cell("currency").upper()
    if currency and not CURRENCY_RE.match(currency):
        problem("currency", f"{cell('currency')!r} is not a 3-letter currency code")

    note = un_neutralise(cell("note"))
    if len(note) > NOTE_MAX_LENGTH:
        problem("note", f"is {len(note)} characters long; at most {NOTE_MAX_LENGTH}")

    if problems:
        parsed.problems.extend(problems)
        return
    assert trade_date is not None
    parsed.trades.append(
        TradeRow(
            line=line,
            symbol=symbol,
            kind=TRADE_KINDS[kind_key],
            trade_date=trade_date,
            quantity=amounts["quantity"],
            price=amounts["price"],
            fee=amounts["fee"],
            note=note,
            currency=currency,
        )
    )


def file_size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
