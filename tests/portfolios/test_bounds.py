"""Input at and past its bounds gets a clear error and writes nothing: names, trade values and
the holdings they add up to, trade dates, NUL bytes anywhere in an import, and the number of
symbols one user may add to the site."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from market.models import Instrument
from portfolios.models import Holding, PriceAlert, Transaction, Watchlist, WatchlistItem
from portfolios.services import add_watchlist_item, retire_unused_instruments
from tests.factories import InstrumentFactory, UserFactory, WatchlistFactory

pytestmark = pytest.mark.django_db


def trade_form(**overrides) -> dict:
    return {
        "symbol": "IREN",
        "kind": "buy",
        "trade_date": "2025-01-10",
        "quantity": "10",
        "price": "20",
        "fee": "0",
        "note": "",
        **overrides,
    }


def test_a_new_watchlist_name_over_80_characters_from_the_miner_page(user_client, iren):
    response = user_client.post(
        reverse("portfolios:watchlist_add_symbol"),
        {"symbol": "IREN", "watchlist": "new", "new_name": "x" * 81},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Keep the name to 80 characters (it has 81)."
    ]
    assert not Watchlist.objects.exists()


def test_a_trade_worth_a_trillion_is_a_form_error(user_client, portfolio, iren):
    response = user_client.post(
        reverse("portfolios:transaction_create", args=[portfolio.pk]),
        trade_form(quantity="1000000", price="1000000"),
    )
    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == [
        "The trade's value (quantity × price + fee) is too large: keep it under 1,000,000,000,000."
    ]
    assert not Transaction.objects.exists()


def test_trades_that_add_up_past_what_a_holding_holds_are_refused(user_client, portfolio, iren):
    url = reverse("portfolios:transaction_create", args=[portfolio.pk])
    for _ in range(2):
        response = user_client.post(url, trade_form(quantity="900000", price="900000"))
    assert response.status_code == 422
    assert response.context["form"].non_field_errors() == [
        "This would take your IREN holding's quantity, cost or P&L past 1,000,000,000,000, "
        "more than a portfolio can hold."
    ]
    assert Transaction.objects.count() == 1
    assert Holding.objects.get().cost_basis == Decimal("810000000000")


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("1899-12-31", "The trade date cannot be before 1900-01-01."),
        ("0001-01-01", "The trade date cannot be before 1900-01-01."),
    ],
)
def test_trade_dates_before_1900_are_refused(user_client, portfolio, iren, day, message):
    response = user_client.post(
        reverse("portfolios:transaction_create", args=[portfolio.pk]), trade_form(trade_date=day)
    )
    assert response.status_code == 422
    assert response.context["form"].errors["trade_date"] == [message]
    assert not Transaction.objects.exists()


def test_an_import_with_a_nul_byte_past_the_first_64_kib_is_refused(user_client, portfolio):
    content = b"date,symbol,type,quantity,price\n" + b"2025-01-10,IREN,buy,1,10\n" * 3000
    content += b"2025-01-10,IR\x00EN,buy,1,10\n"
    assert len(content) > 65536
    response = user_client.post(
        f"/portfolios/{portfolio.pk}/import/",
        {"file": SimpleUploadedFile("trades.csv", content, content_type="text/csv")},
    )
    assert response.status_code == 422
    assert "This is not a CSV file: it contains binary data (NUL bytes)." in (
        response.content.decode()
    )
    assert not Transaction.objects.exists()


# -- instruments users add -------------------------------------------------------------------------


def test_each_user_may_add_a_limited_number_of_symbols(user_client, user, settings):
    settings.INSTRUMENTS_ADDED_PER_USER = 2
    watchlist = WatchlistFactory(owner=user)
    url = reverse("portfolios:watchlist_add", args=[watchlist.pk])
    for symbol in ("AAAA", "BBBB"):
        assert user_client.post(url, {"symbol": symbol}).status_code == 302
    response = user_client.post(url, {"symbol": "CCCC"})
    assert response.status_code == 422
    assert response.context["add_form"].errors["symbol"] == [
        "You have added 2 new symbols to Minerwatch, the most one account may add, so CCCC "
        "cannot be added. Pick a symbol from the list."
    ]
    assert set(Instrument.objects.values_list("symbol", flat=True)) == {"AAAA", "BBBB"}
    assert set(Instrument.objects.values_list("added_by", flat=True)) == {user.pk}
    # Symbols the site has already are not "added": another user's, the universe's.
    InstrumentFactory(symbol="DDDD", added_by=UserFactory())
    assert user_client.post(url, {"symbol": "DDDD"}).status_code == 302


def test_instruments_nobody_uses_stop_being_refreshed_and_come_back_when_picked(
    user_client, user, iren
):
    watched = InstrumentFactory(symbol="WWW")
    alerted = InstrumentFactory(symbol="ALRT")
    dropped = InstrumentFactory(symbol="GONE")
    benchmark = InstrumentFactory(symbol="NVDA", is_benchmark=True)
    fx = InstrumentFactory(symbol="EURUSD=X", kind=Instrument.Kind.FX)
    watchlist = WatchlistFactory(owner=user)
    add_watchlist_item(watchlist=watchlist, instrument=watched)
    PriceAlert.objects.create(owner=user, instrument=alerted, condition="above", threshold=1)

    assert retire_unused_instruments() == 1
    active = set(Instrument.objects.filter(is_active=True).values_list("symbol", flat=True))
    assert active == {"IREN", "WWW", "ALRT", benchmark.symbol, fx.symbol}
    dropped.refresh_from_db()
    assert not dropped.is_active

    response = user_client.post(
        reverse("portfolios:watchlist_add", args=[watchlist.pk]), {"symbol": "GONE"}
    )
    assert response.status_code == 302
    dropped.refresh_from_db()
    assert dropped.is_active
    assert WatchlistItem.objects.filter(instrument=dropped).exists()
    assert retire_unused_instruments() == 0


def test_a_held_instrument_is_kept(portfolio, trade):
    held = InstrumentFactory(symbol="HELD")
    trade(held, "buy", "2025-01-10", "1", "10")
    assert retire_unused_instruments() == 0
    assert Instrument.objects.get(symbol="HELD").is_active
    assert dt.date(2025, 1, 10) == Transaction.objects.get().trade_date


def test_a_symbol_the_provider_stopped_knowing_stays_inactive_when_picked(user_client, user):
    from django.utils import timezone

    delisted = InstrumentFactory(symbol="DLST", is_active=False, deactivated_at=timezone.now())
    watchlist = WatchlistFactory(owner=user)
    user_client.post(reverse("portfolios:watchlist_add", args=[watchlist.pk]), {"symbol": "DLST"})
    delisted.refresh_from_db()
    assert not delisted.is_active
