"""Reading transactions from an uploaded CSV file: pure (bytes in, rows and row-numbered problems
out, no database).

The file may be our own transactions export, Ghostfolio's activity CSV (and files using the
header aliases it accepts), or a broker's export whose layout `formats` recognises by its
header. `parse_transactions_csv` refuses a whole file with `ImportRefused` only when it cannot
be read as a table of transactions at all; otherwise every record becomes a ledger entry (a
trade, a dividend or a cash entry), a skipped row (with its reason), a row combined with another
(a dividend's tax line) or row problems.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re

from portfolios.csv_import.cells import (
    ImportRefused,
    decode_upload,
    detect_delimiter,
    file_size_text,
    looks_like_data,
)
from portfolios.csv_import.combine import combine_dividends
from portfolios.csv_import.formats import (
    COLUMN_ALIASES,
    FIELD_LABELS,
    GENERIC,
    REQUIRED_FIELDS,
    REQUIRED_WITH_AMOUNT,
    detect_layout,
    normalise_header,
)
from portfolios.csv_import.records import Columns, read_record
from portfolios.csv_import.rows import (  # noqa: F401 (re-exported for callers)
    CashRow,
    ParsedFile,
    RowProblem,
    SkippedRow,
    TradeRow,
)

MAX_PREAMBLE_LINES = 3
AMOUNT_IN_CURRENCY = re.compile(r"^(?:Total|Amount) \(([A-Za-z]{3})\)$")

_ALIAS_TO_FIELD = {
    normalise_header(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in aliases
}


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


def _match_header(header: list[str]) -> Columns:
    """Where each field is, in a broker's layout or in the generic one."""
    headers = [name.strip() for name in header]
    index_of = {normalise_header(name): i for i, name in reversed(list(enumerate(headers)))}

    def find(written: str | tuple[str, ...]) -> int | None:
        names = (written,) if isinstance(written, str) else written
        return next((index_of[n] for n in map(normalise_header, names) if n in index_of), None)

    def with_currency(columns: dict[str, str]) -> list[tuple[int, int | None, str]]:
        return [
            (index_of[normalise_header(name)], index_of.get(normalise_header(currency)), name)
            for name, currency in columns.items()
            if normalise_header(name) in index_of
        ]

    layout = detect_layout(headers)
    if layout is not None:
        positions = {
            name: index
            for name, written in layout.columns.items()
            if (index := find(written)) is not None
        }
        amount_in = ""
        if "amount" in layout.columns and "amount" not in positions:
            # Older Trading 212 files name the currency in the header: "Total (EUR)".
            for index, name in enumerate(headers):
                if match := AMOUNT_IN_CURRENCY.match(name):
                    positions["amount"], amount_in = index, match.group(1).upper()
                    break
        fees = with_currency(layout.fees)
        taxes = with_currency(layout.dividend_taxes)
        amount_currency = find(layout.amount_currency) if layout.amount_currency else None
        used = set(positions.values()) | {i for i, _, _ in fees + taxes}
        exchange_rate = find(layout.exchange_rate) if layout.exchange_rate else None
        used |= {i for _, i, _ in fees + taxes} | {amount_currency, exchange_rate}
        columns = Columns(
            layout=layout,
            positions=positions,
            written={name: headers[i] for name, i in positions.items()},
            ignored=[name for i, name in enumerate(headers) if name and i not in used],
            headers=headers,
            fees=fees,
            exchange_rate=exchange_rate,
            amount_currency=amount_currency,
            amount_in=amount_in,
            dividend_taxes=taxes,
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
        columns = Columns(
            layout=GENERIC,
            positions=positions,
            written={name: headers[i] for name, i in positions.items()},
            ignored=ignored,
            headers=headers,
            fees=[(positions["fee"], None, headers[positions["fee"]])]
            if "fee" in positions
            else [],
        )
    required = REQUIRED_WITH_AMOUNT if "amount" in columns.positions else REQUIRED_FIELDS
    missing = [
        name
        for name in required
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
    columns: Columns | None = None
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
            read_record(parsed, columns, record, start_line)
    except csv.Error as exc:
        raise ImportRefused(f"This is not a well-formed CSV file: line {line}: {exc}.") from exc
    if parsed is None:
        raise ImportRefused("The file is empty.")
    assert columns is not None
    combine_dividends(parsed, columns.written.get("amount", FIELD_LABELS["amount"]))
    if not (parsed.trades or parsed.cash or parsed.problems or parsed.skipped or parsed.combined):
        raise ImportRefused("The file has a header but no rows.")
    return parsed
