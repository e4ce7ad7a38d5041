"""Every write to what a user owns: watchlists, portfolios and their ledgers, alerts.

Import from here (`from portfolios.services import record_transaction`); the modules are split
by subject only to keep each one readable.
"""

from portfolios.services.alert_setup import (
    AlertSaved,
    create_alert,
    set_alert_active,
    update_alert,
)
from portfolios.services.alerts import check_alert, current_price, evaluate_alerts
from portfolios.services.cash import (
    CashInput,
    clean_cash_values,
    delete_cash_entry,
    record_cash_entries,
    record_cash_entry,
    update_cash_entry,
)
from portfolios.services.collections import (
    CURRENCIES,
    DOWN,
    UP,
    add_watchlist_item,
    create_portfolio,
    create_watchlist,
    delete_portfolio,
    delete_watchlist,
    move_watchlist,
    move_watchlist_item,
    remove_watchlist_item,
    rename_watchlist,
    set_watchlist_item_note,
    update_portfolio,
)
from portfolios.services.dividends import apply_dividends
from portfolios.services.instruments import (
    ensure_fx_instruments,
    find_or_add_instrument,
    fx_symbol,
    retire_unused_instruments,
    symbol_choices,
)
from portfolios.services.notifications import mark_all_read, mark_read
from portfolios.services.splits import apply_splits
from portfolios.services.transactions import (
    LedgerError,
    RowError,
    TradeInput,
    clean_trade_values,
    delete_transaction,
    recompute_holding,
    record_transaction,
    record_transactions,
    split_label,
    update_transaction,
)

__all__ = [
    "AlertSaved",
    "create_alert",
    "set_alert_active",
    "update_alert",
    "CURRENCIES",
    "CashInput",
    "DOWN",
    "UP",
    "LedgerError",
    "RowError",
    "TradeInput",
    "add_watchlist_item",
    "apply_dividends",
    "clean_cash_values",
    "delete_cash_entry",
    "record_cash_entries",
    "record_cash_entry",
    "update_cash_entry",
    "apply_splits",
    "check_alert",
    "clean_trade_values",
    "create_portfolio",
    "create_watchlist",
    "delete_portfolio",
    "delete_transaction",
    "delete_watchlist",
    "ensure_fx_instruments",
    "current_price",
    "evaluate_alerts",
    "find_or_add_instrument",
    "fx_symbol",
    "mark_all_read",
    "mark_read",
    "move_watchlist",
    "move_watchlist_item",
    "recompute_holding",
    "record_transaction",
    "record_transactions",
    "remove_watchlist_item",
    "retire_unused_instruments",
    "rename_watchlist",
    "set_watchlist_item_note",
    "split_label",
    "symbol_choices",
    "update_portfolio",
    "update_transaction",
]
