"""What reading a CSV file gives: the entries it holds, the rows skipped (with why) and the
row-numbered problems. Plain values, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class TradeRow:
    """A buy, sell or dividend read from one record of the file: an entry of a holding.

    `symbol` is as written (upper-cased); `isin` is set when the file identifies the security by
    ISIN (symbol may then be empty). A dividend holds the shares (quantity), the amount per
    share (price) and the tax withheld (fee); one the file gives only as a total (`total`) is
    read as 1 x that amount, as Ghostfolio and the broker converters write them."""

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
    total: bool = False

    @property
    def code(self) -> str:
        """What the file calls the security: its symbol, or its ISIN."""
        return self.symbol or self.isin


@dataclass(frozen=True)
class CashRow:
    """A deposit, withdrawal, interest or stand-alone fee read from one record: an entry of the
    portfolio's cash, with no instrument. `amount` is positive (the kind gives its direction);
    `currency` is as written ("" when the file does not say)."""

    line: int
    kind: str
    trade_date: dt.date
    amount: Decimal
    currency: str = ""
    note: str = ""

    @property
    def code(self) -> str:
        return ""


@dataclass(frozen=True)
class TaxRow:
    """Tax on a dividend written on a line of its own (Interactive Brokers, Schwab): added to
    the tax withheld (fee) of the file's dividend of the same security and day. `amount` is
    signed as written: negative when withheld, positive when refunded."""

    line: int
    code: str
    trade_date: dt.date
    amount: Decimal
    kind: str  # the action as written, for a skipped row


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
    cash: list[CashRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    taxes: list[TaxRow] = field(default_factory=list)
    # Rows written as part of another row's entry (a tax line, a second dividend line).
    combined: list[SkippedRow] = field(default_factory=list)
