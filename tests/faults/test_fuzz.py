"""Hostile input on every route: no server error, whoever asks.

Routes come from the URLconf; form fields from the forms the site renders (each form's action
and its inputs, read from the pages as the owner sees them) and query parameters from the views'
code and the site's own links. Hypothesis fills them with hostile values (NUL and other control
characters, very long text, huge, tiny and malformed numbers, dates before 1900 and far ahead,
malformed URLs in htmx headers) for the owner, another user and an anonymous visitor, with a
bounded number of examples per route so that it runs in CI in about a minute.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from market.models import Instrument
from portfolios.models import Notification, PriceAlert
from portfolios.services import add_watchlist_item, record_transaction
from tests.factories import (
    InstrumentFactory,
    MinerFactory,
    PortfolioFactory,
    QuoteFactory,
    UserFactory,
    WatchlistFactory,
)

EXAMPLES_PER_ROUTE = 2
ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")

# -- hostile values -----------------------------------------------------------------------------

EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "IREN\x00",
    "a\x00" * 40,
    "\x01\x02\x1b[31m\x7f",
    "x" * 81,
    "x" * 5000,
    "-1",
    "0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "1" * 40,
    "999999999999",
    "1000000000000",
    "0.000000001",
    "12345678901234567890.123456789",
    "0001-01-01",
    "1899-12-31",
    "9999-12-31",
    "2025-02-30",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "http://[",
    "IREN",
    "new",
    "up",
    "down",
    "buy",
    "sell",
    "above",
]
hostile_text = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=5),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
)
hostile_header = st.one_of(
    st.sampled_from(["http://[", "http://testserver/?sort=\x00", "::::", "", "/?sort=-market_cap"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)


# -- what the site offers ---------------------------------------------------------------------


def _routes(resolver=None, prefix=""):
    """(pattern text, view name) of every route, admin aside (staff only, Django's own)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if text.startswith(django_settings.ADMIN_URL):
                continue
            yield from _routes(entry, text)
        elif isinstance(entry, URLPattern):
            yield text.lstrip("^").rstrip("$").replace("\\Z", ""), entry.name


ROUTES = sorted(set(_routes()))


def _query_names_in_code() -> set[str]:
    """Every query parameter a view reads by name."""
    names = set()
    for folder in ("market", "portfolios", "config"):
        for path in Path(django_settings.BASE_DIR, folder).rglob("*.py"):
            names.update(re.findall(r"GET\.get(?:list)?\(\s*\"(\w+)\"", path.read_text()))
    return names


class _Forms(HTMLParser):
    """The forms of a page: (method, action, {field names}), and the query names of its links."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, set[str]]] = []
        self.link_queries: set[str] = set()
        self._current: tuple[str, str, set[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = (
                (attrs.get("method") or "get").lower(),
                attrs.get("action") or "",
                set(),
            )
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea", "button") and self._current is not None:
            self._current[2].add(attrs.get("name") or "")
        for name in ("href", "hx-get"):
            if attrs.get(name) and "?" in attrs[name]:
                self.link_queries.update(k for k, _ in parse_qsl(urlsplit(attrs[name]).query))

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _data(owner):
    """The owner's watchlist, portfolio (with a trade), alert and notification."""
    iren = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    MinerFactory(instrument=iren, segment="pivot", country="AU")
    QuoteFactory(instrument=iren, price=Decimal("40.00"), previous_close=Decimal("38.00"))
    watchlist = WatchlistFactory(owner=owner, name="Watch")
    item = add_watchlist_item(watchlist=watchlist, instrument=iren)
    portfolio = PortfolioFactory(owner=owner, name="Main")
    entry = record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=dt.date(2025, 1, 10),
        quantity=Decimal(10),
        price=Decimal(30),
    )
    alert = PriceAlert.objects.create(owner=owner, instrument=iren, condition="above", threshold=50)
    note = Notification.objects.create(owner=owner, text="IREN above 50", link="/miners/IREN/")
    return {
        "watchlists": {"pk": watchlist.pk, "item_pk": item.pk},
        "portfolios": {"pk": portfolio.pk, "tx_pk": entry.pk},
        "alerts": {"pk": alert.pk},
        "notifications": {"pk": note.pk},
        "symbol": "IREN",
    }


def _url(pattern: str, ids: dict) -> str:
    section = ids.get(pattern.split("/")[0], {})

    def value(match):
        converter, name = match.groups()
        if name == "symbol":
            return ids["symbol"]
        if converter == "int":
            return str(section.get(name, 1))
        return "x"

    return "/" + ROUTE_PARAMETER.sub(value, pattern)


def _endpoints(owner_client: Client, ids: dict):
    """[(url, method, field names)] for every route: the forms posted to it, the query
    parameters it may read."""
    query_names = _query_names_in_code()
    posted: dict[str, set[str]] = {}
    for pattern, _name in ROUTES:
        url = _url(pattern, ids)
        response = owner_client.get(url, headers={"accept-encoding": "identity"})
        if response.streaming or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode(errors="replace"))
        query_names |= parser.link_queries
        for method, action, fields in parser.forms:
            target = urlsplit(action).path or url
            if method == "post":
                posted.setdefault(target, set()).update(fields)
            else:
                query_names |= fields
    query_names -= {"csrfmiddlewaretoken", ""}
    endpoints = []
    for pattern, _name in ROUTES:
        url = _url(pattern, ids)
        endpoints.append((url, "get", sorted(query_names)))
        fields = posted.get(url, set()) - {"csrfmiddlewaretoken", ""}
        endpoints.append((url, "post", sorted(fields) or ["name", "symbol", "q"]))
    return endpoints


# -- the fuzz -------------------------------------------------------------------------------------


def _fuzz(client_for, endpoints):
    for url, method, names in endpoints:
        _fuzz_one(client_for, url, method, names)


def _fuzz_one(client_for, url: str, method: str, names: list[str]) -> None:
    fields = st.one_of(
        # One hostile value in every field, or a different one (or none) in each.
        hostile_text.map(lambda value: dict.fromkeys(names, value)),
        st.fixed_dictionaries({}, optional=dict.fromkeys(names, hostile_text)),
    )
    htmx = st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {
                "HX-Request": st.just("true"),
                "HX-Target": st.sampled_from(["rows", "miners", "price-history", "x"]),
                "HX-Current-URL": hostile_header,
            }
        ),
    )

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(values=fields, headers=htmx, upload=st.binary(max_size=200), nul_tail=st.booleans())
    @example(
        values=dict.fromkeys(names, "IREN\x00"),
        headers={"HX-Request": "true", "HX-Target": "miners", "HX-Current-URL": "http://["},
        upload=b"date,symbol,type,quantity,price\n",
        nul_tail=True,
    )
    def request_survives(values, headers, upload, nul_tail):
        client = client_for()  # signed in again if a sign-out (or a password change) ended it
        if method == "get":
            response = client.get(url, values, headers=headers)
        else:
            if url.endswith("/import/"):
                if nul_tail:  # a NUL past the first 64 KiB, where a sniff would not look
                    upload += b"x" * 70_000 + b"\x00"
                values = {**values, "file": SimpleUploadedFile("t.csv", upload, "text/csv")}
            response = client.post(url, values, headers=headers)
        assert response.status_code < 500, (method, url, values, headers)

    request_survives()


@pytest.fixture
def site(db, settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    owner = UserFactory()
    ids = _data(owner)
    owner_client = Client()
    owner_client.force_login(owner)
    return owner, ids, _endpoints(owner_client, ids)


def test_routes_are_enumerated_from_the_urlconf():
    names = {name for _, name in ROUTES}
    assert {"dashboard", "miner", "watchlist_add_symbol", "transaction_create", "import"} <= names
    assert "account_login" in names and "healthz" in names


@pytest.mark.parametrize("role", ["owner", "other user", "anonymous"])
def test_no_route_answers_a_server_error_to_hostile_input(site, role):
    owner, _ids, endpoints = site
    assert len(endpoints) == 2 * len(ROUTES)
    user = {"owner": owner, "other user": UserFactory(), "anonymous": None}[role]

    client = Client()

    def client_for() -> Client:
        if user is not None and str(user.pk) != client.session.get("_auth_user_id"):
            client.force_login(user)
        return client

    _fuzz(client_for, endpoints)
    if role == "owner":
        # The fuzz ran as the owner on the owner's own objects (their pages rendered).
        assert Instrument.objects.filter(symbol="IREN").exists()


def test_the_reported_cases_are_refused_cleanly(site):
    owner, ids, _ = site
    client = Client()
    client.force_login(owner)
    portfolio = ids["portfolios"]["pk"]
    watchlist = ids["watchlists"]["pk"]
    cases = [
        ("get", "/miners/", {"q": "IR\x00EN"}, 400),
        ("get", f"/portfolios/{portfolio}/transactions/", {"symbol": "\x00"}, 400),
        ("get", f"/watchlists/{watchlist}/", {"q": "\x00"}, 400),
        ("post", "/watchlists/add-symbol/", {"symbol": "IREN\x00", "watchlist": "new"}, 400),
        ("get", "/miners/IREN/history.csv", {"end": "0001-01-01"}, 400),
    ]
    for method, url, values, status in cases:
        response = getattr(client, method)(url, values)
        assert response.status_code == status, (url, values, response.content[:200])
    response = client.get("/miners/IREN/history.csv", {"end": "0001-01-01"})
    assert b"end=0001-01-01 is out of range: use a date from 1900-01-01 to today." in (
        response.content
    )
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Target": "miners", "HX-Current-URL": "http://["}
    )
    assert response.status_code == 200


# -- the live stream (an async view: served by the ASGI handler, as uvicorn serves it) -----------


def _stream_status(user, values: dict) -> tuple[int, bytes]:
    """The stream's status for `values` as `user` (None: anonymous), and the start of its body
    (the retry line and the snapshot) when it opens."""
    import asyncio

    from django.test import AsyncClient

    from market.streaming.hub import hub

    async def ask():
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        response = await client.get("/stream/", values)
        body = b""
        if response.status_code == 200:
            chunks = aiter(response.streaming_content)
            try:
                body = await anext(chunks) + await anext(chunks)
            finally:
                await chunks.aclose()
        await hub.stop()
        return response.status_code, body

    return asyncio.run(ask())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["owner", "other user", "anonymous"])
def test_the_stream_answers_hostile_parameters_without_a_server_error(role, settings, tmp_path):
    settings.STREAM_SOCKET = str(tmp_path / "ticks.sock")  # no streamer: snapshots only
    settings.REDIS_URL = ""
    owner = UserFactory()
    ids = _data(owner)
    user = {"owner": owner, "other user": UserFactory(), "anonymous": None}[role]
    portfolio = str(ids["portfolios"]["pk"])
    parameter = st.one_of(hostile_text, st.sampled_from(["²", "٣", "1²", portfolio, "IREN"]))

    @hypothesis_settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        values=st.fixed_dictionaries({}, optional=dict.fromkeys(["s", "v", "portfolio"], parameter))
    )
    @example(values={"s": "IREN", "portfolio": "²"})
    @example(values={"s": "IREN", "v": "row", "portfolio": "9" * 40})
    @example(values={"s": "IREN", "v": "headline", "portfolio": portfolio})
    def stream_survives(values):
        status, body = _stream_status(user, values)
        assert status < 500, (role, values)
        if status == 200:
            assert body.startswith(b"retry: ") and b"event: quotes" in body, values

    stream_survives()
    # The reported case: a superscript two is a digit to str.isdigit() but no portfolio id.
    assert _stream_status(user, {"s": "IREN", "portfolio": "²"})[0] == 404
    if role == "owner":
        status, body = _stream_status(user, {"s": "IREN", "portfolio": portfolio})
        assert status == 200 and b'id="portfolio-live"' in body
