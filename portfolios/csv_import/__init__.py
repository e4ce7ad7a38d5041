"""Importing transactions from a CSV file.

`reader` reads a file without touching the database; `service` checks what it read against the
database and writes it through the ledger. Import from here:
`from portfolios.csv_import import preview_import`.
"""

from portfolios.csv_import.reader import (
    ImportRefused,
    ParsedFile,
    RowProblem,
    SkippedRow,
    TradeRow,
    decode_upload,
    detect_delimiter,
    file_size_text,
    parse_date,
    parse_decimal,
    parse_transactions_csv,
    un_neutralise,
)
from portfolios.csv_import.service import (
    ImportBlocked,
    ImportPreview,
    ImportResult,
    confirm_import,
    preview_import,
)

__all__ = [
    "ImportBlocked",
    "ImportPreview",
    "ImportRefused",
    "ImportResult",
    "ParsedFile",
    "RowProblem",
    "SkippedRow",
    "TradeRow",
    "confirm_import",
    "decode_upload",
    "detect_delimiter",
    "file_size_text",
    "parse_date",
    "parse_decimal",
    "parse_transactions_csv",
    "preview_import",
    "un_neutralise",
]
