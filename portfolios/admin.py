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

admin.site.register([Watchlist, WatchlistItem, Portfolio, PriceAlert, Notification])


class DerivedFromTheLedger(admin.ModelAdmin):
    """Holdings are recomputed from transactions, and transactions change only through the
    ledger service (which recomputes and checks them): the admin shows them, read-only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Holding)
class HoldingAdmin(DerivedFromTheLedger):
    list_display = ["portfolio", "instrument", "quantity", "average_cost", "realized_pnl"]
    list_select_related = ["portfolio", "instrument"]
    search_fields = ["instrument__symbol", "portfolio__name"]


@admin.register(Transaction)
class TransactionAdmin(DerivedFromTheLedger):
    list_display = ["trade_date", "kind", "holding", "quantity", "price", "fee"]
    list_select_related = ["holding__instrument", "holding__portfolio"]
    list_filter = ["kind"]
    search_fields = ["holding__instrument__symbol", "portfolio__name"]
