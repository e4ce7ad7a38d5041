"""Lookups with the market-data provider are budgeted per user and per minute
(PROVIDER_LOOKUPS_PER_MINUTE) and their answers cached: an import preview of many ISINs says
when the file asks for more and looks up the rest later; a watchlist search past the budget
lists what we follow without asking the provider."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from market.providers import SearchHit
from portfolios.models import PendingImport, Transaction
from tests.factories import InstrumentFactory, PortfolioFactory, UserFactory, WatchlistFactory
from tests.security.conftest import SearchProvider

pytestmark = pytest.mark.django_db
D = Decimal
UTC = dt.UTC
# 10:00:15 UTC: the minute's window ends in 45 seconds.
MORNING = dt.datetime(2025, 6, 3, 10, 0, 15, tzinfo=UTC)

ISINS = {
    "US5949181045": SearchHit("MSFT", "Microsoft Corporation", "NasdaqGS", "equity"),
    "US0378331005": SearchHit("AAPL", "Apple Inc.", "NasdaqGS", "equity"),
    "US67066G1040": SearchHit("NVDA", "NVIDIA Corporation", "NasdaqGS", "equity"),
}


@pytest.fixture
def provider(monkeypatch):
    recorded = SearchProvider({isin: [hit] for isin, hit in ISINS.items()})
    monkeypatch.setattr("portfolios.csv_import.codes.get_provider", lambda: recorded)
    monkeypatch.setattr("portfolios.views.watchlists.get_provider", lambda: recorded)
    return recorded


@pytest.fixture
def listed(db):
    return [InstrumentFactory(symbol=hit.symbol, name=hit.name) for hit in ISINS.values()]


def isin_file() -> bytes:
    lines = ["Date,Symbol,Type,Quantity,Price"]
    lines += [f"2025-01-0{n + 2},{isin},buy,{n + 1},100" for n, isin in enumerate(sorted(ISINS))]
    return ("\n".join(lines) + "\n").encode()


def test_a_preview_looks_up_no_more_isins_than_the_budget_and_says_so(
    user_client, user, provider, listed, settings
):
    settings.PROVIDER_LOOKUPS_PER_MINUTE = 2
    target = PortfolioFactory(owner=user)
    with time_machine.travel(MORNING, tick=False):
        response = user_client.post(
            f"/portfolios/{target.pk}/import/",
            {"file": SimpleUploadedFile("isins.csv", isin_file(), content_type="text/csv")},
        )
    assert response.status_code == 422
    # The ISINs in order: US0378331005 (AAPL), US5949181045 (MSFT), US67066G1040 (NVDA).
    assert provider.searched == ["US0378331005", "US5949181045"]
    page = response.content.decode()
    assert (
        "This file asks for more lookups with the market-data provider than one account may make "
        "in a minute (2): 1 of its ISINs was not looked up yet, so their rows wait."
    ) in page
    preview = response.context["preview"]
    assert preview.deferred_lookups == ["US67066G1040"]
    assert [(p.line, p.message) for p in preview.problems] == [
        (
            4,
            "the ISIN US67066G1040 was not looked up yet: this file asks for more lookups than "
            "one account may make in a minute (see above)",
        )
    ]
    sha256 = response.context["sha256"]

    # Within the same minute, checking again looks up nothing more.
    with time_machine.travel(MORNING + dt.timedelta(seconds=30), tick=False):
        again = user_client.post(f"/portfolios/{target.pk}/import/listings/", {"sha256": sha256})
    assert again.context["preview"].deferred_lookups == ["US67066G1040"]
    assert len(provider.searched) == 2

    # The next minute: the third is looked up, the first two come from what was kept.
    with time_machine.travel(MORNING + dt.timedelta(seconds=46), tick=False):
        ready = user_client.post(f"/portfolios/{target.pk}/import/listings/", {"sha256": sha256})
    assert ready.status_code == 200
    assert provider.searched == ["US0378331005", "US5949181045", "US67066G1040"]
    assert [(t.isin, i.symbol) for t, i in ready.context["preview"].to_write] == [
        ("US0378331005", "AAPL"),
        ("US5949181045", "MSFT"),
        ("US67066G1040", "NVDA"),
    ]
    with time_machine.travel(MORNING + dt.timedelta(minutes=2), tick=False):
        confirmed = user_client.post(f"/portfolios/{target.pk}/import/confirm/", {"sha256": sha256})
    assert confirmed.status_code == 302
    assert Transaction.objects.filter(portfolio=target).count() == 3
    assert not PendingImport.objects.exists()


def test_answers_are_cached_for_everyone(user_client, user, provider, listed, settings):
    settings.PROVIDER_LOOKUPS_PER_MINUTE = 3
    with time_machine.travel(MORNING, tick=False):
        first = user_client.post(
            f"/portfolios/{PortfolioFactory(owner=user).pk}/import/",
            {"file": SimpleUploadedFile("isins.csv", isin_file(), content_type="text/csv")},
        )
        assert first.status_code == 200
        assert len(provider.searched) == 3
        other_user = UserFactory()
        other = Client()
        other.force_login(other_user)
        second = other.post(
            f"/portfolios/{PortfolioFactory(owner=other_user).pk}/import/",
            {"file": SimpleUploadedFile("isins.csv", isin_file(), content_type="text/csv")},
        )
    assert second.status_code == 200
    assert len(second.context["preview"].to_write) == 3
    assert len(provider.searched) == 3  # no new search: the answers were kept


def test_watchlist_searches_past_the_budget_list_only_what_we_follow(
    user_client, user, provider, settings
):
    settings.PROVIDER_LOOKUPS_PER_MINUTE = 2
    InstrumentFactory(symbol="IREN", name="IREN Ltd")
    watchlist = WatchlistFactory(owner=user)
    url = f"/watchlists/{watchlist.pk}/search/"
    with time_machine.travel(MORNING, tick=False):
        for query in ("micro", "apple"):
            response = user_client.get(url, {"q": query})
            assert "is not answering" not in response.content.decode()
        assert provider.searched == ["micro", "apple"]
        response = user_client.get(url, {"q": "iren"})
        page = response.content.decode()
        assert (
            "You have made 2 searches of the market-data provider this minute, the most one "
            "account may: only the instruments we follow are listed. Try again in 45 seconds."
        ) in page
        assert "IREN Ltd" in page  # ours, still listed
        # A query asked before is answered from the cache, whatever the budget.
        user_client.get(url, {"q": "Micro"})
        assert provider.searched == ["micro", "apple"]
    with time_machine.travel(MORNING + dt.timedelta(minutes=1), tick=False):
        user_client.get(url, {"q": "iren"})
    assert provider.searched == ["micro", "apple", "iren"]


def test_new_symbols_spend_the_budget_too(user_client, user, settings):
    """Each unknown symbol typed into a form is a provider lookup: past the budget the form says
    so, and asks nothing more of the provider."""
    settings.PROVIDER_LOOKUPS_PER_MINUTE = 2
    watchlist = WatchlistFactory(owner=user)
    url = f"/watchlists/{watchlist.pk}/add/"
    with time_machine.travel(MORNING, tick=False):
        assert user_client.post(url, {"symbol": "ZZA"}).status_code == 422  # unknown: spent
        assert user_client.post(url, {"symbol": "NEWA"}).status_code == 302
        response = user_client.post(url, {"symbol": "NEWB"})
    assert response.status_code == 422
    assert (
        "You have made 2 lookups with the market-data provider this minute, the most one account "
        "may, so NEWB was not looked up. Try again in 45 seconds."
    ) in response.content.decode()
    assert list(watchlist.items.values_list("instrument__symbol", flat=True)) == ["NEWA"]
