"""URLs of a user's CSV downloads and of the transactions import."""

from django.urls import path

from portfolios.views import exports, imports

app_name = "portfolios_csv"

urlpatterns = [
    path(
        "portfolios/<int:pk>/transactions.csv",
        exports.transactions_csv,
        name="transactions",
    ),
    path("portfolios/transactions.csv", exports.all_transactions_csv, name="all_transactions"),
    path("portfolios/<int:pk>/positions.csv", exports.positions_csv, name="positions"),
    path("portfolios/<int:pk>/exposure.csv", exports.exposure_csv, name="exposure"),
    path("portfolios/exposure.csv", exports.exposure_csv, name="all_exposure"),
    path("watchlists/<int:pk>/watchlist.csv", exports.watchlist_csv, name="watchlist"),
    path("portfolios/<int:pk>/import/", imports.import_transactions, name="import"),
    path(
        "portfolios/<int:pk>/import/check/",
        imports.import_progress,
        name="import_progress",
    ),
    path(
        "portfolios/<int:pk>/import/confirm/",
        imports.confirm_transactions_import,
        name="import_confirm",
    ),
    path(
        "portfolios/<int:pk>/import/cancel/",
        imports.cancel_transactions_import,
        name="import_cancel",
    ),
    path(
        "portfolios/<int:pk>/import/add-symbols/",
        imports.add_symbols_and_preview,
        name="import_add_symbols",
    ),
    path(
        "portfolios/<int:pk>/import/listings/",
        imports.choose_listings_and_preview,
        name="import_listings",
    ),
]
