"""The layouts of the CSV files we read, recognised by their header row.

A layout says which header names each field, how its action column reads (buy, sell, or a kind
of row we skip and why), how its dates and amounts are written, and which columns hold fees.
The generic layout reads our own export, Ghostfolio's activity CSV and files that use the usual
names (Date, Symbol, Type, Quantity, Price, Fee...). The broker layouts follow the column names
the brokers publish for their exports:

- Interactive Brokers: a Flex Query of trades (Activity or Trade Confirmation flex query, CSV,
  with column headers): Buy/Sell, TradeDate, Symbol and/or ISIN, Quantity (negative for a
  sell), TradePrice, IBCommission (negative: a debit), CurrencyPrimary, AssetClass.
- Charles Schwab: Accounts › History › Export (CSV): Date (MM/DD/YYYY, "… as of MM/DD/YYYY" for
  a trade booked later), Action, Symbol, Description, Quantity, Price ($1,234.56), Fees & Comm,
  Amount; a "Transactions Total" line at the end.
- Trading 212: History › Export (CSV): Action (Market buy, Limit sell…), Time, ISIN, Ticker,
  Name, No. of shares, Price / share, Currency (Price / share), Exchange rate, fee columns
  each with its currency (Currency conversion fee, Stamp duty reserve tax…).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field


def normalise_header(name: str) -> str:
    return re.sub(r"[\s_]+", "", name.strip().lower())


# Each field of the generic layout with the headers (compared case-insensitively, spaces and
# underscores ignored) that name it. The first alias is the one our own export writes.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "TradeDate"),
    "symbol": ("symbol", "Code", "Ticker"),
    "isin": ("isin",),
    "type": ("type", "Action", "Buy/Sell"),
    "quantity": ("quantity", "Qty", "Shares", "Units"),
    "price": ("price", "UnitPrice", "TradePrice"),
    "fee": ("fee", "Commission", "IBCommission"),
    "currency": ("currency", "Ccy", "CurrencyPrimary"),
    "note": ("note", "Comment"),
    "data_source": ("DataSource",),
}
FIELD_LABELS = {
    "date": "Date",
    "symbol": "Symbol",
    "isin": "ISIN",
    "type": "Type",
    "quantity": "Quantity",
    "price": "Price",
    "fee": "Fee",
    "currency": "Currency",
    "note": "Note",
    "data_source": "DataSource",
}
REQUIRED_FIELDS = ("date", "symbol", "type", "quantity", "price")

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


@dataclass(frozen=True)
class Kind:
    """How one action cell reads: a trade kind ("buy", "sell"), or a reason to skip the row,
    or neither (a problem: the cell is not an action this layout has)."""

    trade: str = ""
    skip: str = ""


@dataclass(frozen=True)
class Layout:
    name: str  # shown in the preview: "Interactive Brokers flex query (trades)"
    columns: dict[str, str]  # field -> header as the layout writes it
    signature: frozenset[str]  # normalised headers that must all be present
    kind_of: Callable[[str], Kind]
    month_first: bool = False  # 07/12/2024 is July 12th
    money_cells: bool = False  # "$1,234.56": currency signs and thousands separators allowed
    # fee header -> the header of its currency (empty when the fee is in the trade's currency)
    fees: dict[str, str] = field(default_factory=dict)
    exchange_rate: str = ""  # trade currency per unit of the fee's currency
    signed_quantity: bool = False  # a sell's quantity is written negative
    skip_line: Callable[[dict[str, str]], str] = lambda cells: ""


def _generic_kind(text: str) -> Kind:
    key = text.strip().lower()
    if key in ("buy", "sell"):
        return Kind(trade=key)
    if key in SKIPPED_KINDS:
        return Kind(skip=SKIPPED_KINDS[key])
    return Kind()


GENERIC = Layout(name="", columns={}, signature=frozenset(), kind_of=_generic_kind)


def _ibkr_kind(text: str) -> Kind:
    key = text.strip().upper()
    if key in ("BUY", "SELL"):
        return Kind(trade=key.lower())
    if "CA." in key:
        return Kind(skip="a cancelled trade")
    return Kind()


def _ibkr_skip(cells: dict[str, str]) -> str:
    asset_class = cells.get("AssetClass", "").strip().upper()
    if asset_class == "CASH":
        return "a currency conversion: cash is not tracked"
    if asset_class and asset_class not in ("STK", "ETF", "CRYPTO", "FUND"):
        return f"asset class {asset_class}: only shares, funds and crypto are tracked"
    if not cells.get("Symbol", "").strip() and not cells.get("ISIN", "").strip():
        return "no symbol or ISIN: a currency conversion or an asset we cannot price"
    return ""


IBKR = Layout(
    name="Interactive Brokers flex query (trades)",
    columns={
        "date": "TradeDate",
        "symbol": "Symbol",
        "isin": "ISIN",
        "type": "Buy/Sell",
        "quantity": "Quantity",
        "price": "TradePrice",
        "currency": "CurrencyPrimary",
        "note": "Description",
    },
    signature=frozenset({"buy/sell", "tradedate", "quantity", "tradeprice", "ibcommission"}),
    kind_of=_ibkr_kind,
    fees={"IBCommission": "IBCommissionCurrency"},
    signed_quantity=True,
    skip_line=_ibkr_skip,
)

_SCHWAB_SKIPS = {
    "dividend": "dividends are not tracked",
    "div": "dividends are not tracked",
    "cap gain": "capital gain distributions are not tracked",
    "interest": "interest is not tracked",
    "fee": "fees outside a trade are not tracked",
    "tax": "taxes are not tracked",
    "split": "splits are applied from the market's split history, not from files",
    "journal": "transfers are not tracked",
    "transfer": "transfers are not tracked",
    "wire": "cash movements are not tracked",
    "moneylink": "cash movements are not tracked",
    "to open": "options are not tracked",
    "to close": "options are not tracked",
}


def _schwab_kind(text: str) -> Kind:
    key = text.strip().lower()
    if key in ("buy", "reinvest shares"):
        return Kind(trade="buy")
    if key == "sell":
        return Kind(trade="sell")
    for word, reason in _SCHWAB_SKIPS.items():
        if word in key:
            return Kind(skip=reason)
    return Kind(skip=f"the Schwab action “{text.strip()}” is not a buy or a sell")


def _schwab_skip(cells: dict[str, str]) -> str:
    if cells.get("Date", "").strip().lower().startswith("transactions total"):
        return "the file's total line"
    return ""


SCHWAB = Layout(
    name="Charles Schwab transactions",
    columns={
        "date": "Date",
        "symbol": "Symbol",
        "type": "Action",
        "quantity": "Quantity",
        "price": "Price",
        "note": "Description",
    },
    signature=frozenset({"date", "action", "symbol", "description", "fees&comm", "amount"}),
    kind_of=_schwab_kind,
    month_first=True,
    money_cells=True,
    fees={"Fees & Comm": ""},
    skip_line=_schwab_skip,
)

_T212_FEES = (
    "Currency conversion fee",
    "Transaction fee",
    "Stamp duty reserve tax",
    "Stamp duty",
    "French transaction tax",
    "Finra fee",
    "PTM levy",
)


def _trading212_kind(text: str) -> Kind:
    key = text.strip().lower()
    words = key.split()
    if words and words[-1] in ("buy", "sell") and len(words) <= 3:
        return Kind(trade=words[-1])
    for word, reason in (
        ("dividend", "dividends are not tracked"),
        ("interest", "interest is not tracked"),
        ("deposit", "cash movements are not tracked"),
        ("withdrawal", "cash movements are not tracked"),
        ("currency conversion", "currency conversions are not tracked"),
        ("split", "splits are applied from the market's split history, not from files"),
    ):
        if word in key:
            return Kind(skip=reason)
    return Kind(skip=f"the Trading 212 action “{text.strip()}” is not a buy or a sell")


TRADING212 = Layout(
    name="Trading 212 history",
    columns={
        "date": "Time",
        "symbol": "Ticker",
        "isin": "ISIN",
        "type": "Action",
        "quantity": "No. of shares",
        "price": "Price / share",
        "currency": "Currency (Price / share)",
        "note": "Notes",
    },
    signature=frozenset({"action", "time", "isin", "ticker", "no.ofshares", "price/share"}),
    kind_of=_trading212_kind,
    fees={fee: f"Currency ({fee})" for fee in _T212_FEES},
    exchange_rate="Exchange rate",
)

BROKER_LAYOUTS = (IBKR, SCHWAB, TRADING212)


def detect_layout(header: list[str]) -> Layout | None:
    """The broker layout whose signature the header row has, if any."""
    present = {normalise_header(name) for name in header}
    for layout in BROKER_LAYOUTS:
        if layout.signature <= present:
            return layout
    return None
