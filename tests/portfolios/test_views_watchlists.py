"""Watchlist pages: every action as a plain form post (redirect) and with htmx (a partial)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from market.models import Instrument
from portfolios.models import Watchlist, WatchlistItem
from tests.factories import InstrumentFactory, QuoteFactory, WatchlistFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def watchlist(user):
    return WatchlistFactory(owner=user, name="Pivoters")


def url(name, *args):
    return reverse(f"portfolios:{name}", args=args)


def symbols(watchlist) -> list[str]:
    return list(
        watchlist.items.order_by("position", "id").values_list("instrument__symbol", flat=True)
    )


def test_create_a_watchlist_plain_and_with_htmx(user_client, user):
    response = user_client.post(url("watchlist_create"), {"name": "Pure miners"})
    watchlist = user.watchlists.get(name="Pure miners")
    assert response.status_code == 302
    assert response["Location"] == url("watchlist", watchlist.pk)

    response = user_client.post(url("watchlist_create"), {"name": "Hardware"}, headers=HTMX)
    assert response.status_code == 200
    assert b'id="page-body"' in response.content and b"Hardware" in response.content
    assert b"<html" not in response.content
    assert list(user.watchlists.values_list("name", "position")) == [
        ("Pure miners", 0),
        ("Hardware", 1),
    ]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("Pivoters", "You already have a watchlist called “Pivoters”."),
    ],
)
def test_a_bad_watchlist_name_is_refused(user_client, watchlist, name, message, htmx):
    response = user_client.post(
        url("watchlist_create"), {"name": name}, headers=HTMX if htmx else {}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    if htmx:
        assert response["HX-Retarget"] == "#watchlist-create"
        assert response.content.decode().lstrip().startswith('<form id="watchlist-create"')
    assert Watchlist.objects.count() == 1


def test_add_a_symbol_from_the_universe(user_client, watchlist, iren):
    response = user_client.post(
        url("watchlist_add", watchlist.pk), {"symbol": "iren", "note": " AI "}
    )
    assert response.status_code == 302
    item = watchlist.items.get()
    assert (item.instrument, item.note) == (iren, "AI")


def test_add_a_symbol_the_provider_knows_creates_the_instrument(user_client, watchlist):
    response = user_client.post(
        url("watchlist_add", watchlist.pk), {"symbol": "BTDR"}, headers=HTMX
    )
    assert response.status_code == 200
    assert Instrument.objects.filter(symbol="BTDR").exists()
    assert symbols(watchlist) == ["BTDR"]
    assert "Added BTDR to Pivoters." in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("ZZQQ", "The market-data provider does not know the symbol ZZQQ."),
        ("IREN LTD", "“IREN LTD” is not a ticker symbol."),
        ("", "This field is required."),
    ],
)
def test_an_unknown_or_malformed_symbol_is_a_form_error(
    user_client, watchlist, symbol, message, htmx
):
    response = user_client.post(
        url("watchlist_add", watchlist.pk), {"symbol": symbol}, headers=HTMX if htmx else {}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    if htmx:
        assert response["HX-Retarget"] == "#watchlist-add"
    assert not WatchlistItem.objects.exists()
    assert not Instrument.objects.filter(symbol__startswith="ZZ").exists()


def test_a_symbol_already_on_the_list_is_refused(user_client, watchlist, iren):
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren)
    response = user_client.post(
        url("watchlist_add", watchlist.pk), {"symbol": "IREN"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "IREN is already on Pivoters." in response.content.decode()
    assert WatchlistItem.objects.count() == 1


def test_a_note_too_long_is_refused_and_kept_unchanged(user_client, watchlist, iren):
    item = WatchlistItem.objects.create(watchlist=watchlist, instrument=iren, note="old")
    response = user_client.post(
        url("watchlist_item_note", watchlist.pk, item.pk),
        {f"note-{item.pk}-note": "x" * 201},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert "Ensure this value has at most 200 characters (it has 201)." in response.content.decode()
    assert response["HX-Retarget"] == "#note-editor"
    item.refresh_from_db()
    assert item.note == "old"

    response = user_client.post(
        url("watchlist_item_note", watchlist.pk, item.pk), {f"note-{item.pk}-note": "200 MW"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.note == "200 MW"


def test_reorder_and_remove_items(user_client, watchlist, iren, clsk):
    wulf = InstrumentFactory(symbol="WULF")
    for position, instrument in enumerate([iren, clsk, wulf]):
        WatchlistItem.objects.create(watchlist=watchlist, instrument=instrument, position=position)
    wulf_item = watchlist.items.get(instrument=wulf)

    user_client.post(url("watchlist_item_move", watchlist.pk, wulf_item.pk), {"direction": "up"})
    assert symbols(watchlist) == ["IREN", "WULF", "CLSK"]
    response = user_client.post(
        url("watchlist_item_move", watchlist.pk, wulf_item.pk), {"direction": "up"}, headers=HTMX
    )
    assert response.status_code == 200 and b'id="watchlist-rows"' in response.content
    assert symbols(watchlist) == ["WULF", "IREN", "CLSK"]
    # Already first: nothing moves.
    user_client.post(url("watchlist_item_move", watchlist.pk, wulf_item.pk), {"direction": "up"})
    assert symbols(watchlist) == ["WULF", "IREN", "CLSK"]

    item = watchlist.items.get(instrument=iren)
    response = user_client.post(url("watchlist_item_remove", watchlist.pk, item.pk), headers=HTMX)
    assert response.status_code == 200
    assert symbols(watchlist) == ["WULF", "CLSK"]


def test_reorder_watchlists(user_client, user, watchlist):
    second = WatchlistFactory(owner=user, name="Second", position=1)
    response = user_client.post(url("watchlist_move", second.pk), {"direction": "up"}, headers=HTMX)
    assert response.status_code == 200
    assert list(user.watchlists.values_list("name", flat=True)) == ["Second", "Pivoters"]


def test_rename_and_delete_a_watchlist(user_client, user, watchlist):
    WatchlistFactory(owner=user, name="Taken")
    response = user_client.post(
        url("watchlist_edit", watchlist.pk), {"rename-name": "Taken"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "You already have a watchlist called “Taken”." in response.content.decode()
    watchlist.refresh_from_db()
    assert watchlist.name == "Pivoters"

    response = user_client.post(url("watchlist_edit", watchlist.pk), {"rename-name": "AI names"})
    assert response.status_code == 302
    watchlist.refresh_from_db()
    assert watchlist.name == "AI names"

    response = user_client.post(url("watchlist_delete", watchlist.pk))
    assert response.status_code == 302
    assert not Watchlist.objects.filter(pk=watchlist.pk).exists()


def test_the_table_shows_live_quotes_and_the_rows_partial_is_polled(user_client, watchlist, iren):
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren, note="Microsoft 200 MW")
    page = user_client.get(url("watchlist", watchlist.pk)).content.decode()
    assert "$40.00" in page and "+5.26%" in page and "Microsoft 200 MW" in page
    assert f'hx-get="{url("watchlist_rows", watchlist.pk)}" hx-trigger="every 30s"' in page

    iren.quote.price = iren.quote.price + 2
    iren.quote.save()
    rows = user_client.get(url("watchlist_rows", watchlist.pk), headers=HTMX).content.decode()
    assert rows.lstrip().startswith('<tbody id="watchlist-rows"')
    assert "$42.00" in rows


def test_the_rows_partial_runs_a_constant_number_of_queries(
    user_client, watchlist, django_assert_num_queries
):
    def add(count):
        for _ in range(count):
            instrument = InstrumentFactory()
            QuoteFactory(instrument=instrument)
            WatchlistItem.objects.create(watchlist=watchlist, instrument=instrument)

    add(2)
    # user, watchlist, items with quotes (the session comes from the cache)
    with django_assert_num_queries(3):
        user_client.get(url("watchlist_rows", watchlist.pk))
    add(30)
    with django_assert_num_queries(3):
        user_client.get(url("watchlist_rows", watchlist.pk))


def test_search_finds_our_instruments_and_the_providers(user_client, watchlist, iren):
    response = user_client.get(url("watchlist_search", watchlist.pk), {"q": "iren"}, headers=HTMX)
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="search-results"')
    assert "IREN Ltd" in text
    response = user_client.get(url("watchlist", watchlist.pk), {"q": "WYFI"})
    assert "WYFI" in response.content.decode()  # the provider knows it; Add creates it


def test_a_failed_add_after_a_success_empties_the_success_banner(user_client, watchlist, iren):
    ok = user_client.post(url("watchlist_add", watchlist.pk), {"symbol": "IREN"}, headers=HTMX)
    assert ok.status_code == 200
    assert 'id="flash-messages"' in ok.content.decode()
    assert "Added IREN to Pivoters." in ok.content.decode()

    refused = user_client.post(url("watchlist_add", watchlist.pk), {"symbol": "IREN"}, headers=HTMX)
    html = refused.content.decode()
    assert refused.status_code == 422
    assert html.endswith('<div id="flash-messages" role="status" hx-swap-oob="true"></div>')
    assert "Added IREN" not in html


def test_a_refused_form_is_logged_once(user_client, watchlist, caplog):
    import logging

    path = url("watchlist_add", watchlist.pk)
    with caplog.at_level(logging.DEBUG):
        response = user_client.post(path, {"symbol": ""}, headers=HTMX)
    assert response.status_code == 422
    lines = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(f"POST {path} 422 ")
