"""A user's own rows around the market pages (portfolios.own_rows): read once per change of theirs
and kept under their token, never stale after a change, never another user's."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portfolios.models import PriceAlert, Watchlist, WatchlistItem
from portfolios.services import evaluate_alerts
from tests.factories import PortfolioFactory

D = Decimal
pytestmark = pytest.mark.django_db


def your_section(client, symbol: str) -> str:
    page = client.get(f"/miners/{symbol}/").content.decode()
    match = re.search(r'<section class="card your-position".*?</section>', page, re.S)
    assert match, "no 'Your …' section"
    return re.sub(r"\s+", " ", match.group(0))


def own_queries(client, path: str) -> list[str]:
    """The queries a page runs on the user's holdings, watchlists, alerts and notifications."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    own = ("portfolios_holding", "portfolios_watchlist", "portfolios_pricealert", "notification")
    return [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in own)]


def test_the_rows_are_read_once_for_every_miner_page_until_the_user_changes_something(
    user_client, iren, clsk, trade
):
    trade(iren, "buy", "2025-01-10", 10, "30")
    assert len(own_queries(user_client, "/miners/IREN/")) == 5  # holdings, lists, items, alerts…
    assert own_queries(user_client, "/miners/CLSK/") == []  # …kept: another miner page reads none
    assert own_queries(user_client, "/") == []  # nor does the dashboard's navigation
    trade(clsk, "buy", "2025-01-10", 5, "10")
    assert own_queries(user_client, "/miners/CLSK/") != []  # a change of theirs: read again


def test_a_trade_a_watchlist_and_an_alert_show_on_the_next_miner_page(
    user_client, user, iren, trade
):
    trade(iren, "buy", "2025-01-10", 10, "30")
    section = your_section(user_client, "IREN")
    assert "<dt>Shares</dt><dd>10</dd>" in section
    assert "+$100.00" in section  # (40 - 30) x 10
    assert "in none of yours" in section

    trade(iren, "buy", "2025-01-11", 5, "36")
    watchlist = Watchlist.objects.create(owner=user, name="Pivoters")
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren)
    PriceAlert.objects.create(owner=user, instrument=iren, condition="above", threshold=D("50"))
    section = your_section(user_client, "IREN")
    assert "<dt>Shares</dt><dd>15</dd>" in section
    assert "+$120.00" in section  # 15 x 40 - (300 + 180)
    assert ">Pivoters</a>" in section
    assert "$50.00" in section


def test_the_unread_badge_follows_an_alert_firing_and_marking_read(user_client, user, iren):
    PriceAlert.objects.create(owner=user, instrument=iren, condition="above", threshold=D("39"))
    assert 'aria-label="1 unread"' not in user_client.get("/").content.decode()
    assert len(evaluate_alerts(instrument_ids=[iren.pk])) == 1  # 40 is above 39
    assert 'aria-label="1 unread"' in user_client.get("/").content.decode()
    user_client.post(reverse("portfolios:notifications_read_all"))
    assert 'aria-label="1 unread"' not in user_client.get("/").content.decode()


def test_another_users_rows_are_never_shown(user_client, other_user, iren, trade):
    theirs = PortfolioFactory(owner=other_user, name="Theirs")
    trade(iren, "buy", "2025-01-10", 7, "30", into=theirs)
    Watchlist.objects.create(owner=other_user, name="Their list")
    section = your_section(user_client, "IREN")
    assert "You hold no IREN" in section and "Their list" not in section and "Theirs" not in section
