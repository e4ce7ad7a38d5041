from django.contrib import admin

from portfolios.models import (
    Holding,
    Notification,
    Portfolio,
    PriceAlert,
    Transaction,
    Watchlist,
    WatchlistItem,
)

admin.site.register(
    [Watchlist, WatchlistItem, Portfolio, Holding, Transaction, PriceAlert, Notification]
)
