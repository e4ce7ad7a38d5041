"""The search box in the navigation: on every page, suggestions with price and day change, Enter
opening the best match, and the plain GET form without JavaScript."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.factories import InstrumentFactory, QuoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def instruments(db):
    cipher = InstrumentFactory(symbol="CIFR", name="Cipher Mining")
    QuoteFactory(instrument=cipher, price=Decimal("15.20"), previous_close=Decimal("16.00"))
    InstrumentFactory(symbol="CIFX", name="Cipher Other")
    iren = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=iren, price=Decimal("57.85"), previous_close=Decimal("55.00"))


@pytest.mark.parametrize("path", ["/", "/miners/", "/status/", "/accounts/login/"])
def test_every_page_has_the_search_form(client, instruments, path):
    html = client.get(path).content.decode()
    assert '<form class="nav-search" method="get" action="/miners/" role="search"' in html
    assert 'hx-get="/miners/suggest/"' in html


def test_suggestions_show_price_and_day_change(client, instruments):
    html = client.get("/miners/suggest/", {"q": "ciph"}).content.decode()
    rows = re.findall(r"<li><a href=\"(/miners/\w+/)\">(.*?)</a></li>", html, re.S)
    assert [href for href, _ in rows] == ["/miners/CIFR/", "/miners/CIFX/"]
    first = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[0][1])).strip()
    assert first == "CIFR Cipher Mining $15.20 -5.00%"
    # No quote yet: a dash, never $0.
    assert "—" in rows[1][1]


def test_suggestions_for_nothing_and_for_no_match(client, instruments):
    assert client.get("/miners/suggest/", {"q": ""}).content.decode().strip() == ""
    html = client.get("/miners/suggest/", {"q": "zzzz"}).content.decode()
    assert "Nothing matches “zzzz”." in html


def test_enter_opens_the_best_match(client, instruments):
    response = client.get("/miners/", {"q": "cipher", "go": "best"})
    assert response.status_code == 302 and response["Location"] == "/miners/CIFR/"
    # Without go=best the search page lists the matches.
    assert client.get("/miners/", {"q": "cipher"}).status_code == 200
    # Nothing to open: the search page says so.
    html = client.get("/miners/", {"q": "zzzz", "go": "best"}).content.decode()
    assert "Nothing matches “zzzz”." in html
