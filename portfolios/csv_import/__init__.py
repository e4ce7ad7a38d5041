"""Importing transactions from a CSV file.

`reader` (with `cells`, `formats`, `records` and `combine`) reads a file into `rows` without
touching the database; `service` checks what it read against the database and `writes` records
it through the ledger services. Import from here:
`from portfolios.csv_import import preview_import`.
"""

from portfolios.csv_import.cells import (
    ImportRefused,
    decode_upload,
    detect_delimiter,
    file_size_text,
    is_isin,
    parse_date,
    parse_decimal,
    parse_money,
    parse_us_date,
    un_neutralise,
)
from portfolios.csv_import.formats import BROKER_LAYOUTS, COLUMN_ALIASES, detect_layout
from portfolios.csv_import.reader import parse_transactions_csv
from portfolios.csv_import.results import ImportBlocked, ImportPreview, ImportResult, SymbolMapping
from portfolios.csv_import.rows import CashRow, ParsedFile, RowProblem, SkippedRow, TradeRow
from portfolios.csv_import.service import confirm_import, preview_import

__all__ = [
    "BROKER_LAYOUTS",
    "CashRow",
    "COLUMN_ALIASES",
    "ImportBlocked",
    "ImportPreview",
    "ImportRefused",
    "ImportResult",
    "ParsedFile",
    "RowProblem",
    "SkippedRow",
    "SymbolMapping",
    "TradeRow",
    "confirm_import",
    "decode_upload",
    "detect_delimiter",
    "detect_layout",
    "file_size_text",
    "is_isin",
    "parse_date",
    "parse_decimal",
    "parse_money",
    "parse_transactions_csv",
    "parse_us_date",
    "preview_import",
    "un_neutralise",
]
