"""The first-run guide on the dashboard: a signed-in user with nothing yet gets one-click ways
to a watchlist, a portfolio or an import; it goes away once they have one."""

from __future__ import annotations

import pytest

from portfolios.models import Portfolio, Watchlist

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_gets_no_guide(client):
    assert "Get started" not in client.get("/").content.decode()


def test_a_new_user_is_invited_and_one_click_creates_a_watchlist(user_client, user):
    html = user_client.get("/").content.decode()
    assert "Get started" in html
    assert "You have no watchlist or portfolio yet." in html

    response = user_client.post("/watchlists/new/", {"name": "My watchlist"})

    watchlist = Watchlist.objects.get(owner=user)
    assert watchlist.name == "My watchlist"
    assert response.status_code == 302 and response["Location"] == f"/watchlists/{watchlist.pk}/"
    assert "Get started" not in user_client.get("/").content.decode()


def test_import_a_file_creates_a_portfolio_and_opens_its_import_page(user_client, user):
    response = user_client.post(
        "/portfolios/new/", {"name": "Imported", "base_currency": "USD", "then": "import"}
    )

    portfolio = Portfolio.objects.get(owner=user)
    assert (portfolio.name, portfolio.base_currency) == ("Imported", "USD")
    assert response["Location"] == f"/portfolios/{portfolio.pk}/import/"
    assert user_client.get(response["Location"]).status_code == 200
