from django.urls import path

from portfolios.views import alerts, notifications, performance, portfolios, watchlists

app_name = "portfolios"

urlpatterns = [
    # Watchlists
    path("watchlists/", watchlists.index, name="watchlists"),
    path("watchlists/new/", watchlists.create, name="watchlist_create"),
    path("watchlists/add-symbol/", watchlists.add_symbol, name="watchlist_add_symbol"),
    path("watchlists/<int:pk>/", watchlists.detail, name="watchlist"),
    path("watchlists/<int:pk>/rows/", watchlists.rows, name="watchlist_rows"),
    path("watchlists/<int:pk>/edit/", watchlists.edit, name="watchlist_edit"),
    path("watchlists/<int:pk>/delete/", watchlists.delete, name="watchlist_delete"),
    path("watchlists/<int:pk>/move/", watchlists.move, name="watchlist_move"),
    path("watchlists/<int:pk>/add/", watchlists.add_item, name="watchlist_add"),
    path("watchlists/<int:pk>/search/", watchlists.search, name="watchlist_search"),
    path(
        "watchlists/<int:pk>/items/<int:item_pk>/note/",
        watchlists.item_note,
        name="watchlist_item_note",
    ),
    path(
        "watchlists/<int:pk>/items/<int:item_pk>/move/",
        watchlists.item_move,
        name="watchlist_item_move",
    ),
    path(
        "watchlists/<int:pk>/items/<int:item_pk>/remove/",
        watchlists.item_remove,
        name="watchlist_item_remove",
    ),
    # Portfolios
    path("portfolios/", portfolios.index, name="portfolios"),
    path("portfolios/new/", portfolios.create, name="portfolio_create"),
    path("portfolios/exposure/", portfolios.exposure_all, name="exposure"),
    path("portfolios/<int:pk>/", portfolios.detail, name="portfolio"),
    path("portfolios/performance/", performance.performance_all, name="performance_all"),
    path(
        "portfolios/performance/<str:table>.csv",
        performance.performance_all_csv,
        name="performance_all_csv",
    ),
    path("portfolios/<int:pk>/performance/", performance.performance, name="performance"),
    path(
        "portfolios/<int:pk>/performance/<str:table>.csv",
        performance.performance_csv,
        name="performance_csv",
    ),
    path("portfolios/<int:pk>/positions/", portfolios.positions, name="portfolio_positions"),
    path("portfolios/<int:pk>/exposure/", portfolios.exposure_one, name="portfolio_exposure"),
    path("portfolios/<int:pk>/edit/", portfolios.edit, name="portfolio_edit"),
    path("portfolios/<int:pk>/delete/", portfolios.delete, name="portfolio_delete"),
    path("portfolios/<int:pk>/transactions/", portfolios.transactions, name="transactions"),
    path(
        "portfolios/<int:pk>/transactions/new/",
        portfolios.transaction_create,
        name="transaction_create",
    ),
    path(
        "portfolios/<int:pk>/transactions/<int:tx_pk>/edit/",
        portfolios.transaction_edit,
        name="transaction_edit",
    ),
    path(
        "portfolios/<int:pk>/transactions/<int:tx_pk>/delete/",
        portfolios.transaction_delete,
        name="transaction_delete",
    ),
    # Alerts and notifications
    path("alerts/", alerts.index, name="alerts"),
    path("alerts/new/", alerts.create, name="alert_create"),
    path("alerts/<int:pk>/edit/", alerts.edit, name="alert_edit"),
    path("alerts/<int:pk>/delete/", alerts.delete, name="alert_delete"),
    path("alerts/<int:pk>/toggle/", alerts.toggle, name="alert_toggle"),
    path("notifications/", notifications.index, name="notifications"),
    path("notifications/read-all/", notifications.read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", notifications.read, name="notification_read"),
]
