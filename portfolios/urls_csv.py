"""URLs of a user's CSV downloads and of the transactions import."""

from django.urls import path

from portfolios import views_csv

app_name = "portfolios_csv"

urlpatterns = [
    path(
        "portfolios/<int:pk>/transactions.csv",
        views_csv.transactions_csv,
        name="transactions",
    ),
    path("portfolios/transactions.csv", views_csv.all_transactions_csv, name="all_transactions"),
    path("portfolios/<int:pk>/positions.csv", views_csv.positions_csv, name="positions"),
    path("portfolios/<int:pk>/exposure.csv", views_csv.exposure_csv, name="exposure"),
    path("portfolios/exposure.csv", views_csv.exposure_csv, name="all_exposure"),
    path("watchlists/<int:pk>/watchlist.csv", views_csv.watchlist_csv, name="watchlist"),
    path("portfolios/<int:pk>/import/", views_csv.import_transactions, name="import"),
    path(
        "portfolios/<int:pk>/import/confirm/",
        views_csv.confirm_transactions_import,
        name="import_confirm",
    ),
    path(
        "portfolios/<int:pk>/import/cancel/",
        views_csv.cancel_transactions_import,
        name="import_cancel",
    ),
    path(
        "portfolios/<int:pk>/import/add-symbols/",
        views_csv.add_symbols_and_preview,
        name="import_add_symbols",
    ),
]
