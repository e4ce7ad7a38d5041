"""Adding a miner to a watchlist from its own page."""

import pytest
from django.urls import reverse

from market.models import Instrument
from portfolios.models import Watchlist, WatchlistItem
from tests.factories import WatchlistFactory

pytestmark = pytest.mark.django_db
URL = reverse("portfolios:watchlist_add_symbol")


def items() -> list:
    return list(WatchlistItem.objects.values_list("watchlist__name", "instrument__symbol"))


def test_the_miner_page_offers_the_users_watchlists(user_client, user, universe):
    WatchlistFactory(owner=user, name="Core")
    WatchlistFactory(name="Someone else's")
    content = user_client.get("/miners/IREN/").content.decode()
    assert 'action="/watchlists/add-symbol/"' in content
    assert ">Core</option>" in content
    assert "Someone else" not in content


def test_an_anonymous_visitor_is_offered_to_sign_in(client, universe):
    content = client.get("/miners/IREN/").content.decode()
    assert "/accounts/login/?next=/miners/IREN/" in content
    assert "add-symbol" not in content


def test_adds_to_a_new_watchlist(user_client, user, universe):
    response = user_client.post(URL, {"symbol": "IREN", "watchlist": "new", "new_name": "Pivots"})
    watchlist = Watchlist.objects.get(owner=user, name="Pivots")
    assert response.status_code == 302
    assert response["Location"] == reverse("portfolios:watchlist", args=[watchlist.pk])
    assert items() == [("Pivots", "IREN")]


def test_adds_to_an_existing_watchlist(user_client, user, universe):
    watchlist = WatchlistFactory(owner=user, name="Core")
    user_client.post(URL, {"symbol": "wulf", "watchlist": str(watchlist.pk)})
    assert items() == [("Core", "WULF")]


def test_a_new_watchlist_needs_a_name_and_nothing_is_written(user_client, universe):
    response = user_client.post(URL, {"symbol": "IREN", "watchlist": "new", "new_name": " "})
    assert response.status_code == 302
    assert response["Location"] == "/miners/IREN/"
    page = user_client.get(response["Location"]).content.decode()
    assert "Name the new watchlist." in page
    assert not Watchlist.objects.exists()


def test_a_symbol_already_on_the_list_is_refused_and_no_watchlist_is_half_made(
    user_client, user, universe
):
    watchlist = WatchlistFactory(owner=user, name="Core")
    user_client.post(URL, {"symbol": "IREN", "watchlist": str(watchlist.pk)})
    response = user_client.post(URL, {"symbol": "IREN", "watchlist": str(watchlist.pk)})
    assert response["Location"] == "/miners/IREN/"
    assert items() == [("Core", "IREN")]
    # The same name as an existing list: refused, and IREN is not added anywhere else.
    user_client.post(URL, {"symbol": "WULF", "watchlist": "new", "new_name": "Core"})
    assert items() == [("Core", "IREN")]
    assert Watchlist.objects.count() == 1


def test_another_users_watchlist_is_404_and_unchanged(client, other_user, user, universe):
    theirs = WatchlistFactory(owner=user, name="Theirs")
    client.force_login(other_user)
    response = client.post(URL, {"symbol": "IREN", "watchlist": str(theirs.pk)})
    assert response.status_code == 404
    assert items() == []


def test_an_unknown_symbol_is_404(user_client, universe):
    assert not Instrument.objects.filter(symbol="NOPE").exists()
    response = user_client.post(URL, {"symbol": "NOPE", "watchlist": "new", "new_name": "X"})
    assert response.status_code == 404
    assert not Watchlist.objects.exists()


def test_the_signed_in_miner_page_stays_within_six_queries(
    user_client, user, universe, django_assert_max_num_queries
):
    for n in range(3):
        WatchlistFactory(owner=user, name=f"List {n}")
    user_client.get("/miners/IREN/")  # warm the page's caches
    with django_assert_max_num_queries(6):
        assert user_client.get("/miners/IREN/").status_code == 200
