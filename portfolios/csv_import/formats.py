"""The layouts of the CSV files we read, recognised by their header row.

A layout says which header names each field, how its action column reads (a ledger entry, or a
kind of row we skip and why), how its dates and amounts are written, and which columns hold
fees. The generic layout reads our own export, Ghostfolio's activity CSV and files that use the
usual names (Date, Symbol, Type, Quantity, Price, Fee, Amount...). The broker layouts follow the
column names the brokers publish for their exports:

- Interactive Brokers: a Flex Query of trades (Activity or Trade Confirmation flex query, CSV,
  with column headers): Buy/Sell, TradeDate, Symbol and/or ISIN, Quantity (negative for a
  sell), TradePrice, IBCommission (negative: a debit), CurrencyPrimary, AssetClass. And a Flex
  Query of cash transactions: Type (Dividends, Withholding Tax, Deposits/Withdrawals, Broker
  Interest Received, Other Fees...), Date/Time (20250127;202000), Symbol, ISIN, Amount
  (negative: money out), CurrencyPrimary, Description.
- Charles Schwab: Accounts › History › Export (CSV): Date (MM/DD/YYYY, "… as of MM/DD/YYYY" for
  a trade booked later), Action (Buy, Sell, Qualified Dividend, Cash Dividend, NRA Tax Adj,
  Bank Interest, MoneyLink Transfer, Service Fee...), Symbol, Description, Quantity, Price
  ($1,234.56), Fees & Comm, Amount (negative: money out); a "Transactions Total" line at the
  end.
- Trading 212: History › Export (CSV): Action (Market buy, Limit sell, Dividend (Ordinary),
  Deposit, Withdrawal, Interest on cash…), Time, ISIN, Ticker, Name, No. of shares,
  Price / share, Currency (Price / share), Exchange rate, Total and Currency (Total), Withholding
  tax and its currency, fee columns each with its currency (Currency conversion fee, Stamp duty
  reserve tax…).

Ghostfolio writes a fee as quantity x price + fee (usually 0 x 0 + the fee) and interest as
quantity x price, both in the account's currency; a dividend as shares x amount per share, with
the tax in the fee. A dividend a file gives only as a total (Schwab, Interactive Brokers) is read
as 1 x the total, as the converters to Ghostfolio write it.
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
    "amount": ("amount", "Total", "NetAmount"),
    "price_source": ("price_source",),
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
    "amount": "Amount",
    "price_source": "price_source",
}
REQUIRED_FIELDS = ("date", "symbol", "type", "quantity", "price")
# A file with an amount column may hold only cash entries (no symbol, quantity or price).
REQUIRED_WITH_AMOUNT = ("date", "type")

# The kinds of ledger entry a row can become. A trade or dividend belongs to a holding; a cash
# entry to the portfolio's cash (no instrument, an amount in the portfolio's base currency).
TRADE_ENTRIES = ("buy", "sell")
CASH_ENTRIES = ("fee", "interest", "deposit", "withdrawal")
# The sign each kind's amount has in a file of signed amounts (money in, money out).
MONEY_IN = ("dividend", "interest", "deposit")

# Activity kinds other trackers export that a portfolio does not record: listed as skipped in
# the preview, never silently dropped. Split entries in our own export are skipped because the
# ledger applies splits from the market's split history itself.
SKIPPED_KINDS = {
    "item": "valuables (items) are not tracked",
    "valuable": "valuables are not tracked",
    "liability": "liabilities are not tracked",
    "cash": "a cash movement that does not say whether money came in or went out",
    "tax": "a tax not tied to a dividend of this file is not tracked",
    "transfer": "a transfer that does not say whether money came in or went out",
    "split": "splits are applied from the market's split history, not from files",
}
AUTOMATIC_DIVIDEND = "paid from the market's dividend history: the ledger pays it again itself"


@dataclass(frozen=True)
class Kind:
    """How one action cell reads: a ledger entry ("buy", "sell", "dividend", "fee", "interest",
    "deposit", "withdrawal", or "tax" on a dividend), or a reason to skip the row, or neither (a
    problem: the cell is not an action this layout has). In a file of signed amounts, `reverse`
    is the entry an amount of the other sign makes (a transfer out is a withdrawal)."""

    entry: str = ""
    skip: str = ""
    reverse: str = ""


@dataclass(frozen=True)
class Layout:
    name: str  # shown in the preview: "Interactive Brokers flex query (trades)"
    # field -> header as the layout writes it (or the headers it may have, the first present)
    columns: dict[str, str | tuple[str, ...]]
    signature: frozenset[str]  # normalised headers that must all be present
    kind_of: Callable[[str], Kind]
    month_first: bool = False  # 07/12/2024 is July 12th
    money_cells: bool = False  # "$1,234.56": currency signs and thousands separators allowed
    # fee header -> the header of its currency (empty when the fee is in the trade's currency)
    fees: dict[str, str] = field(default_factory=dict)
    exchange_rate: str = ""  # trade currency per unit of the fee's currency
    signed_quantity: bool = False  # a sell's quantity is written negative
    skip_line: Callable[[dict[str, str]], str] = lambda cells: ""
    amount_currency: str = ""  # the header of the amount's currency, when it has its own
    signed_amounts: bool = False  # money out is written negative (its sign says which way)
    # tax withheld on a dividend: header -> the header of its currency
    dividend_taxes: dict[str, str] = field(default_factory=dict)
    time_after_semicolon: bool = False  # "20250127;202000": the date, then the time


def _generic_kind(text: str) -> Kind:
    key = text.strip().lower()
    if key in (*TRADE_ENTRIES, "dividend", *CASH_ENTRIES):
        return Kind(entry=key)
    if key in SKIPPED_KINDS:
        return Kind(skip=SKIPPED_KINDS[key])
    return Kind()


GENERIC = Layout(name="", columns={}, signature=frozenset(), kind_of=_generic_kind)


def _ibkr_kind(text: str) -> Kind:
    key = text.strip().upper()
    if key in ("BUY", "SELL"):
        return Kind(entry=key.lower())
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

_IBKR_CASH_TYPES = (
    ("withholding", Kind(entry="tax")),
    ("tax", Kind(entry="tax")),
    ("in lieu of dividend", Kind(entry="dividend")),
    ("dividend", Kind(entry="dividend")),
    ("deposit", Kind(entry="deposit", reverse="withdrawal")),
    ("withdrawal", Kind(entry="deposit", reverse="withdrawal")),
    ("interest paid", Kind(entry="fee")),
    ("interest", Kind(entry="interest", reverse="fee")),
    ("fee", Kind(entry="fee")),
    ("commission", Kind(entry="fee")),
)


def _ibkr_cash_kind(text: str) -> Kind:
    key = text.strip().lower()
    for word, kind in _IBKR_CASH_TYPES:
        if word in key:
            return kind
    return Kind(skip=f"the Interactive Brokers type “{text.strip()}” is not one we read")


def _ibkr_cash_skip(cells: dict[str, str]) -> str:
    if cells.get("LevelOfDetail", "").strip().upper() == "SUMMARY":
        return "a summary line (its detail lines are read)"
    return ""


IBKR_CASH = Layout(
    name="Interactive Brokers flex query (cash transactions)",
    columns={
        "date": ("Date/Time", "SettleDate", "ReportDate"),
        "symbol": "Symbol",
        "isin": "ISIN",
        "type": "Type",
        "currency": "CurrencyPrimary",
        "note": "Description",
        "amount": "Amount",
    },
    signature=frozenset({"type", "amount", "currencyprimary", "description"}),
    kind_of=_ibkr_cash_kind,
    skip_line=_ibkr_cash_skip,
    signed_amounts=True,
    time_after_semicolon=True,
)

# Checked in order: the first phrase found in the action decides.
_SCHWAB_ACTIONS = (
    ("tax", Kind(entry="tax")),
    ("withholding", Kind(entry="tax")),
    ("split", Kind(skip="splits are applied from the market's split history, not from files")),
    ("shares", Kind(skip="transfers of shares are not tracked")),
    ("security transfer", Kind(skip="transfers of shares are not tracked")),
    ("to open", Kind(skip="options are not tracked")),
    ("to close", Kind(skip="options are not tracked")),
    ("div", Kind(entry="dividend")),
    ("cap gain", Kind(entry="dividend")),
    ("interest", Kind(entry="interest", reverse="fee")),
    ("fee", Kind(entry="fee")),
    ("moneylink", Kind(entry="deposit", reverse="withdrawal")),
    ("wire", Kind(entry="deposit", reverse="withdrawal")),
    ("journal", Kind(entry="deposit", reverse="withdrawal")),
    ("funds", Kind(entry="deposit", reverse="withdrawal")),
    ("transfer", Kind(entry="deposit", reverse="withdrawal")),
)


def _schwab_kind(text: str) -> Kind:
    key = text.strip().lower()
    if key in ("buy", "reinvest shares"):
        return Kind(entry="buy")
    if key == "sell":
        return Kind(entry="sell")
    for word, kind in _SCHWAB_ACTIONS:
        if word in key:
            return kind
    return Kind(skip=f"the Schwab action “{text.strip()}” is not one we read")


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
        "amount": "Amount",
    },
    signature=frozenset({"date", "action", "symbol", "description", "fees&comm", "amount"}),
    kind_of=_schwab_kind,
    month_first=True,
    money_cells=True,
    fees={"Fees & Comm": ""},
    skip_line=_schwab_skip,
    signed_amounts=True,
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
        return Kind(entry=words[-1])
    for word, kind in (
        ("dividend", Kind(entry="dividend")),
        ("interest", Kind(entry="interest")),
        ("deposit", Kind(entry="deposit")),
        ("withdrawal", Kind(entry="withdrawal")),
        ("currency conversion", Kind(skip="currency conversions are not tracked")),
        ("split", Kind(skip="splits are applied from the market's split history, not from files")),
    ):
        if word in key:
            return kind
    return Kind(skip=f"the Trading 212 action “{text.strip()}” is not one we read")


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
        "amount": "Total",
    },
    signature=frozenset({"action", "time", "isin", "ticker", "no.ofshares", "price/share"}),
    kind_of=_trading212_kind,
    fees={fee: f"Currency ({fee})" for fee in _T212_FEES},
    exchange_rate="Exchange rate",
    amount_currency="Currency (Total)",
    dividend_taxes={"Withholding tax": "Currency (Withholding tax)"},
)

BROKER_LAYOUTS = (IBKR, IBKR_CASH, SCHWAB, TRADING212)


def detect_layout(header: list[str]) -> Layout | None:
    """The broker layout whose signature the header row has, if any."""
    present = {normalise_header(name) for name in header}
    for layout in BROKER_LAYOUTS:
        if layout.signature <= present:
            return layout
    return None
