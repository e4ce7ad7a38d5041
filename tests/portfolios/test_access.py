"""Every private URL: another signed-in user gets 404 (and changes nothing); an anonymous
visitor is sent to sign in. The lists below must name every route of portfolios.urls."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from portfolios import urls as portfolio_urls
from portfolios.models import (
    Holding,
    Notification,
    Portfolio,
    PriceAlert,
    Transaction,
    Watchlist,
    WatchlistItem,
)
from tests.factories import WatchlistFactory

pytestmark = pytest.mark.django_db

# (route name, method, which owned objects the URL takes, POST data)
OWNED = [
    ("watchlist", "get", ("watchlist",), None),
    ("watchlist_rows", "get", ("watchlist",), None),
    ("watchlist_edit", "get", ("watchlist",), None),
    ("watchlist_edit", "post", ("watchlist",), {"rename-name": "Taken over"}),
    ("watchlist_delete", "get", ("watchlist",), None),
    ("watchlist_delete", "post", ("watchlist",), {}),
    ("watchlist_move", "post", ("watchlist",), {"direction": "up"}),
    ("watchlist_add", "post", ("watchlist",), {"symbol": "CLSK"}),
    ("watchlist_search", "get", ("watchlist",), None),
    ("watchlist_item_note", "get", ("watchlist", "item"), None),
    ("watchlist_item_note", "post", ("watchlist", "item"), {"note": "mine now"}),
    ("watchlist_item_move", "post", ("watchlist", "item"), {"direction": "down"}),
    ("watchlist_item_remove", "post", ("watchlist", "item"), {}),
    ("portfolio", "get", ("portfolio",), None),
    ("portfolio_positions", "get", ("portfolio",), None),
    ("portfolio_exposure", "get", ("portfolio",), None),
    ("performance", "get", ("portfolio",), None),
    ("performance_csv", "get", ("portfolio", "=history"), None),
    ("performance_csv", "get", ("portfolio", "=returns"), None),
    ("performance_csv", "get", ("portfolio", "=contribution"), None),
    ("portfolio_edit", "get", ("portfolio",), None),
    ("portfolio_edit", "post", ("portfolio",), {"name": "Taken", "base_currency": "EUR"}),
    ("portfolio_delete", "get", ("portfolio",), None),
    ("portfolio_delete", "post", ("portfolio",), {}),
    ("transactions", "get", ("portfolio",), None),
    ("transaction_create", "get", ("portfolio",), None),
    (
        "transaction_create",
        "post",
        ("portfolio",),
        {
            "symbol": "IREN",
            "kind": "buy",
            "trade_date": "2025-01-02",
            "quantity": "1",
            "price": "1",
        },
    ),
    ("transaction_edit", "get", ("portfolio", "transaction"), None),
    (
        "transaction_edit",
        "post",
        ("portfolio", "transaction"),
        {"kind": "buy", "trade_date": "2025-01-02", "quantity": "99", "price": "1"},
    ),
    ("transaction_delete", "get", ("portfolio", "transaction"), None),
    ("transaction_delete", "post", ("portfolio", "transaction"), {}),
    ("alert_edit", "get", ("alert",), None),
    (
        "alert_edit",
        "post",
        ("alert",),
        {"symbol": "IREN", "condition": "below", "threshold": "1", "active": "on"},
    ),
    ("alert_delete", "post", ("alert",), {}),
    ("alert_toggle", "post", ("alert",), {}),
    ("notification_read", "post", ("notification",), {}),
]
# Pages of the signed-in user's own things, taking no object: only "sign in first" applies.
PERSONAL = [
    ("watchlists", "get"),
    ("watchlist_create", "get"),
    ("watchlist_create", "post"),
    ("watchlist_add_symbol", "post"),
    ("portfolios", "get"),
    ("portfolio_create", "get"),
    ("portfolio_create", "post"),
    ("exposure", "get"),
    ("performance_all", "get"),
    ("performance_all_csv", "get"),
    ("alerts", "get"),
    ("alert_create", "get"),
    ("alert_create", "post"),
    ("notifications", "get"),
    ("notifications_read_all", "post"),
]


@pytest.fixture
def owned(user, iren, trade, portfolio):
    watchlist = WatchlistFactory(owner=user, name="Mine")
    WatchlistFactory(owner=user, name="Second")
    item = WatchlistItem.objects.create(watchlist=watchlist, instrument=iren, note="secret")
    entry = trade(iren, "buy", "2025-01-02", 10, "20")
    alert = PriceAlert.objects.create(
        owner=user, instrument=iren, condition="above", threshold=Decimal("50")
    )
    notification = Notification.objects.create(owner=user, text="IREN is up")
    return {
        "watchlist": watchlist,
        "item": item,
        "portfolio": portfolio,
        "transaction": entry,
        "alert": alert,
        "notification": notification,
    }


def state() -> tuple:
    """Everything the other user could have changed."""
    return (
        list(Watchlist.objects.order_by("pk").values_list("pk", "name", "position")),
        list(WatchlistItem.objects.order_by("pk").values_list("pk", "note", "position")),
        list(Portfolio.objects.order_by("pk").values_list("pk", "name", "base_currency")),
        list(Holding.objects.order_by("pk").values_list("pk", "quantity")),
        list(Transaction.objects.order_by("pk").values_list("pk", "quantity")),
        list(PriceAlert.objects.order_by("pk").values_list("pk", "condition", "active")),
        list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
    )


def url_of(name: str, objects: tuple, owned: dict) -> str:
    """ "=text" in `objects` is a literal argument (a CSV's table name)."""
    args = [key[1:] if key.startswith("=") else owned[key].pk for key in objects]
    return reverse(f"portfolios:{name}", args=args)


# Arguments of personal pages that take one (not an object of the user's).
PERSONAL_ARGS = {"performance_all_csv": ["history"]}


def test_the_matrix_names_every_route():
    routes = {pattern.name for pattern in portfolio_urls.urlpatterns}
    covered = {name for name, *_ in OWNED} | {name for name, _ in PERSONAL}
    assert routes == covered


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("name", "method", "objects", "data"), OWNED)
def test_another_user_gets_404_and_changes_nothing(
    client, other_user, owned, name, method, objects, data, htmx
):
    client.force_login(other_user)
    before = state()
    headers = {"HX-Request": "true"} if htmx else {}
    response = getattr(client, method)(url_of(name, objects, owned), data or {}, headers=headers)
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize(("name", "method", "objects", "data"), OWNED)
def test_the_owner_gets_the_page_or_the_action(user_client, owned, name, method, objects, data):
    """The same URLs work for their owner (so the 404s above are about ownership)."""
    response = getattr(user_client, method)(url_of(name, objects, owned), data or {})
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(("name", "method", "objects", "data"), OWNED)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, owned, name, method, objects, data):
    before = state()
    url = url_of(name, objects, owned)
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('account_login')}?next=")
    assert state() == before


@pytest.mark.parametrize(("name", "method"), PERSONAL)
def test_personal_pages_send_an_anonymous_visitor_to_sign_in(client, name, method):
    response = getattr(client, method)(
        reverse(f"portfolios:{name}", args=PERSONAL_ARGS.get(name, []))
    )
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('account_login')}?next=")
