"""Pages that revalidate over HTTP (config/conditional.py): a page asked for again with its ETag
gets 304 without a template or a query while nothing it shows has changed, and only in the
browser session it was rendered for."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from config import versions
from market.models import Quote, RefreshRun
from market.services import refresh_quotes
from portfolios.models import Notification, WatchlistItem
from tests.factories import (
    DailyBarFactory,
    InstrumentFactory,
    QuoteFactory,
    UserFactory,
    WatchlistFactory,
)
from tests.redis_cache import real_redis_cache

D = Decimal
PASSWORD = "correct horse battery staple 42"
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)  # a Tuesday, New York's session open
HTMX_ROWS = {"HX-Request": "true", "HX-Target": "miner-rows"}


def url(name, *args):
    return reverse(f"portfolios:{name}", args=args)


def get(client, path, etag=None, **headers):
    """The response and the names of the templates its render ran (none for a 304)."""
    if etag is not None:
        headers["If-None-Match"] = etag
    response = client.get(path, headers=headers)
    return response, [t.name for t in response.templates if t.name]


def without_csrf_token(response) -> str:
    """The body without the CSRF token, which is masked afresh with every render."""
    return re.sub(
        r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+',
        r"\1",
        response.content.decode(),
    )


def first(client, path, **headers):
    """The page as a browser first gets it: a 200 with its ETag."""
    response, templates = get(client, path, **headers)
    assert response.status_code == 200, path
    assert templates, path
    assert response["ETag"].startswith('W/"') and response["ETag"].endswith('"')
    return response


def assert_not_modified(client, path, etag, **headers):
    response, templates = get(client, path, etag, **headers)
    assert response.status_code == 304, path
    assert templates == []
    assert response.content == b""
    assert response["ETag"] == etag
    return response


@pytest.fixture(autouse=True)
def _still_clock():
    """ETags change with the clock (PAGE_ETAG_SECONDS): a first render that takes long on a busy
    machine must not cross into the next interval before the page is asked for again."""
    with time_machine.travel(NOW, tick=False) as clock:
        yield clock


@pytest.fixture(autouse=True)
def _real_redis_when_there_is_one(settings):
    """On the PostgreSQL + Redis pass these tests run on the real Redis, through the cache
    backend production uses (keys under a prefix of their own, removed afterwards)."""
    if not os.environ.get("REDIS_URL"):
        yield
        return
    with real_redis_cache(settings, "pages"):
        yield


@pytest.fixture
def holding(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-10", 10, "30.00")
    return portfolio


@pytest.fixture
def watchlist(user, iren):
    watchlist = WatchlistFactory(owner=user, name="Pivots")
    WatchlistItem.objects.create(watchlist=watchlist, instrument=iren)
    return watchlist


PAGES = {
    "dashboard": lambda p, w: "/",
    "miner": lambda p, w: "/miners/IREN/",
    "portfolio": lambda p, w: url("portfolio", p.pk),
    "portfolio positions": lambda p, w: url("portfolio_positions", p.pk),
    "portfolio exposure": lambda p, w: url("portfolio_exposure", p.pk),
    "all exposure": lambda p, w: url("exposure"),
    "portfolios": lambda p, w: url("portfolios"),
    "watchlists": lambda p, w: url("watchlists"),
    "watchlist": lambda p, w: url("watchlist", w.pk),
    "watchlist rows": lambda p, w: url("watchlist_rows", w.pk),
    "alerts": lambda p, w: url("alerts"),
    "performance": lambda p, w: url("performance", p.pk) + "?range=1Y",
    "all performance": lambda p, w: url("performance_all"),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_asked_for_again_with_its_etag_gets_304_without_a_template_or_a_query(
    user_client, holding, watchlist, page, django_assert_num_queries
):
    path = PAGES[page](holding, watchlist)
    response = first(user_client, path)
    assert response["Cache-Control"] in {"private, no-cache", "no-cache, private"}
    etag = response["ETag"]
    with django_assert_num_queries(0):
        not_modified = assert_not_modified(user_client, path, etag)
    assert set(not_modified["Cache-Control"].split(", ")) == {"private", "no-cache"}
    assert {"Cookie", "HX-Request"} <= {v.strip() for v in not_modified["Vary"].split(",")}
    # The headers every response gets are there on a 304 too.
    assert not_modified["X-Frame-Options"] == "DENY"
    # Without If-None-Match (or with another ETag), the page is rendered again, same ETag.
    again, templates = get(user_client, path, '"something-else"')
    assert again.status_code == 200 and templates
    assert again["ETag"] == etag
    assert without_csrf_token(again) == without_csrf_token(response)


def test_a_quote_refresh_gives_the_new_prices(user_client, holding, iren):
    paths = ["/", "/miners/IREN/", url("portfolio", holding.pk)]
    etags = {path: first(user_client, path)["ETag"] for path in paths}
    # The refresh writes quotes in bulk (no per-row signal); the run it finishes says so.
    run = refresh_quotes(force=True, now=NOW)
    assert run.stored_count > 0
    price = Quote.objects.get(instrument=iren).price
    assert price != D("40.00")
    for path in paths:
        response, templates = get(user_client, path, etags[path])
        assert response.status_code == 200 and templates, path
        assert response["ETag"] != etags[path]
        assert f"{price:,.2f}" in response.content.decode(), path


def test_a_saved_quote_gives_the_new_price(user_client, holding, iren):
    etag = first(user_client, "/miners/IREN/")["ETag"]
    quote = Quote.objects.get(instrument=iren)
    quote.price = D("55.55")
    quote.save()
    response, templates = get(user_client, "/miners/IREN/", etag)
    assert response.status_code == 200 and templates
    assert "55.55" in response.content.decode()


def test_new_daily_bars_change_the_market_pages(user_client, holding, iren):
    etag = first(user_client, "/miners/IREN/")["ETag"]
    DailyBarFactory(instrument=iren, date=dt.date(2026, 3, 9))
    response, _ = get(user_client, "/miners/IREN/", etag)
    assert response.status_code == 200 and response["ETag"] != etag
    etag = response["ETag"]
    versions.bars_changed()  # a bars run or a split
    assert get(user_client, "/miners/IREN/", etag)[0].status_code == 200


def test_a_trade_posted_through_the_page_shows_at_once(user_client, holding):
    path = url("portfolio", holding.pk)
    etag = first(user_client, path)["ETag"]
    form = {
        "symbol": "IREN",
        "kind": "buy",
        "trade_date": "2025-02-10",
        "quantity": "7",
        "price": "31",
        "fee": "0",
        "note": "",
    }
    assert user_client.post(url("transaction_create", holding.pk), form).status_code == 302
    response, templates = get(user_client, path, etag)
    html = response.content.decode()
    assert response.status_code == 200 and templates
    assert "Recorded: buy 7 IREN on 2025-02-10." in html
    # The page with the flash message has no ETag: the next one must not come back as 304.
    assert not response.has_header("ETag")
    response, _ = get(user_client, path, etag)
    html = response.content.decode()
    assert response.status_code == 200 and "Recorded: buy 7 IREN" not in html
    assert '<td class="num">17</td>' in html  # 10 + 7 held
    assert_not_modified(user_client, path, response["ETag"])


def test_a_post_that_fails_still_changes_the_etag(user_client, holding):
    """Any write request by the user replaces their token, whatever the view did."""
    path = url("portfolio", holding.pk)
    etag = first(user_client, path)["ETag"]
    response = user_client.post(url("portfolio_edit", holding.pk), {"name": ""})
    assert response.status_code == 422
    response, templates = get(user_client, path, etag)
    assert response.status_code == 200 and templates


def test_signing_out_ends_the_revalidation(user_client, holding, user):
    path = url("portfolio", holding.pk)
    etags = {p: first(user_client, p)["ETag"] for p in (path, "/")}
    user_client.post(reverse("account_logout"))
    response, _ = get(user_client, path, etags[path])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response, templates = get(user_client, "/", etags["/"])
    assert response.status_code == 200 and templates
    html = response.content.decode()
    assert user.email not in html and "Sign in" in html


def test_a_password_change_elsewhere_signs_this_browser_out(client, holding, user):
    user.set_password(PASSWORD)
    user.save()
    assert client.login(username=user.username, password=PASSWORD)
    path = url("portfolio", holding.pk)
    etag = first(client, path)["ETag"]
    elsewhere = Client()
    assert elsewhere.login(username=user.username, password=PASSWORD)
    new_password = "another horse, another battery 43"
    response = elsewhere.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    response, _ = get(client, path, etag)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # The browser that changed it stays signed in, with a new session and new ETags.
    response, templates = get(elsewhere, path, etag)
    assert response.status_code == 200 and templates


def test_a_password_change_through_the_orm_ends_it_too(user_client, holding, user):
    path = url("portfolio", holding.pk)
    etag = first(user_client, path)["ETag"]
    user.set_password("a new and different passphrase")
    user.save()
    response, _ = get(user_client, path, etag)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_user_gets_no_304(user_client, holding, user):
    path = url("portfolio", holding.pk)
    etag = first(user_client, path)["ETag"]
    user.is_active = False
    user.save()
    response, _ = get(user_client, path, etag)
    assert response.status_code == 302


def test_another_user_never_gets_a_304_for_someone_elses_page(user_client, holding, user):
    etags = {p: first(user_client, p)["ETag"] for p in ("/", url("portfolio", holding.pk))}
    other = UserFactory(email="someone-else@example.com")
    theirs = Client()
    theirs.force_login(other)
    response, _ = get(theirs, url("portfolio", holding.pk), etags[url("portfolio", holding.pk)])
    assert response.status_code == 404
    response, templates = get(theirs, "/", etags["/"])
    html = response.content.decode()
    assert response.status_code == 200 and templates
    assert "someone-else@example.com" in html and user.email not in html
    assert response["ETag"] != etags["/"]
    # Even with the other browser's session cookie's ETag in hand, a session of one's own
    # never matches it; the owner still revalidates.
    assert_not_modified(user_client, "/", etags["/"])


def test_writes_outside_a_request_show_too(user_client, user, holding, watchlist, clsk, trade):
    """The admin, a task or a shell write through the ORM: the owner's pages follow."""
    portfolio_path = url("portfolio", holding.pk)
    watchlist_path = url("watchlist", watchlist.pk)
    etags = {p: first(user_client, p)["ETag"] for p in (portfolio_path, watchlist_path, "/")}

    trade(clsk, "buy", "2025-02-03", 5, "11.00")  # the service, outside any request
    response, _ = get(user_client, portfolio_path, etags[portfolio_path])
    assert response.status_code == 200 and "CLSK" in response.content.decode()

    other = InstrumentFactory(symbol="WULF", name="TeraWulf")
    QuoteFactory(instrument=other)
    WatchlistItem.objects.create(watchlist=watchlist, instrument=other)
    response, _ = get(user_client, watchlist_path, etags[watchlist_path])
    assert response.status_code == 200 and "WULF" in response.content.decode()

    etag = get(user_client, "/")[0]["ETag"]
    Notification.objects.create(owner=user, text="IREN crossed $50")
    response, _ = get(user_client, "/", etag)
    assert response.status_code == 200
    assert 'aria-label="1 unread"' in response.content.decode()


def test_htmx_fragments_and_full_pages_have_their_own_etags(user_client, holding):
    full = first(user_client, "/")
    rows = first(user_client, "/", **HTMX_ROWS)
    assert "<html" in full.content.decode() and "<html" not in rows.content.decode()
    assert rows["ETag"] != full["ETag"]
    assert_not_modified(user_client, "/", rows["ETag"], **HTMX_ROWS)
    response, _ = get(user_client, "/", rows["ETag"])  # the fragment's ETag for the full page
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert_not_modified(user_client, "/", full["ETag"])


def test_the_etag_changes_with_the_clock_so_relative_times_move(
    user_client, holding, settings, _still_clock
):
    settings.PAGE_ETAG_SECONDS = 60
    etag = first(user_client, "/")["ETag"]
    assert_not_modified(user_client, "/", etag)
    _still_clock.shift(60)  # a whole interval later: whatever the session's offset, a new bucket
    response, templates = get(user_client, "/", etag)
    assert response.status_code == 200 and templates
    assert response["ETag"] != etag
    assert_not_modified(user_client, "/", response["ETag"])


def test_the_view_revalidates_on_its_own_without_the_early_middleware(
    user_client, holding, settings
):
    """RevalidateEarlyMiddleware only answers sooner: without it the view's decorator gives the
    same ETag and the same 304."""
    etag = first(user_client, "/")["ETag"]
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "config.conditional.RevalidateEarlyMiddleware"
    ]
    assert_not_modified(user_client, "/", etag)
    response, templates = get(user_client, "/", '"stale"')
    assert response.status_code == 200 and templates and response["ETag"] == etag


def test_the_clock_runs_from_the_last_market_change_so_a_refresh_renders_once(
    user_client, holding, settings, _still_clock
):
    """While quotes are refreshed more often than PAGE_ETAG_SECONDS, a page is rendered again
    with each refresh only: the clock's part of the ETag starts again with every change."""
    settings.PAGE_ETAG_SECONDS = 90
    etag = first(user_client, "/")["ETag"]
    _still_clock.shift(80)
    assert_not_modified(user_client, "/", etag)
    versions.market_changed()  # a quotes refresh ends, 80 s after the page was rendered
    response, templates = get(user_client, "/", etag)
    assert response.status_code == 200 and templates
    etag = response["ETag"]
    _still_clock.shift(60)  # 140 s after the first render, 60 s after the refresh
    assert_not_modified(user_client, "/", etag)
    _still_clock.shift(30)  # 90 s after the refresh, and nothing changed since
    response, templates = get(user_client, "/", etag)
    assert response.status_code == 200 and templates
    assert response["ETag"] != etag


def test_a_lost_version_token_never_revalidates_an_old_page(user_client, holding):
    etag = first(user_client, "/")["ETag"]
    cache.delete(versions.MARKET)  # evicted, or Redis restarted without its data
    response, templates = get(user_client, "/", etag)
    assert response.status_code == 200 and templates


def test_only_a_refresh_run_that_ends_renews_the_pages(user_client, holding):
    from django.utils import timezone

    etag = first(user_client, "/")["ETag"]
    run = RefreshRun.objects.create(kind="quotes", provider="simulated", started_at=timezone.now())
    RefreshRun.objects.create(
        kind="quotes", provider="simulated", started_at=timezone.now(), status="skipped"
    )
    assert_not_modified(user_client, "/", etag)  # started or skipped: the pages show the same
    run.status = RefreshRun.Status.OK
    run.finished_at = timezone.now()
    run.save()
    response, _ = get(user_client, "/", etag)
    assert response.status_code == 200
    # A history or profiles run that found nothing to store changed nothing either.
    etag = response["ETag"]
    bars = RefreshRun.objects.create(
        kind="bars", provider="simulated", started_at=timezone.now(), status="ok"
    )
    assert_not_modified(user_client, "/", etag)
    bars.stored_count = 250
    bars.save()
    assert get(user_client, "/", etag)[0].status_code == 200


def test_a_change_inside_a_transaction_is_marked_again_after_the_commit(
    db, django_capture_on_commit_callbacks
):
    before = cache.get(versions.MARKET)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        versions.market_changed()
        during = cache.get(versions.MARKET)
        assert during != before
    assert len(callbacks) == 1
    after = cache.get(versions.MARKET)
    assert after not in {before, during}


def test_a_session_missing_from_the_cache_is_read_from_the_database(user_client, holding):
    """Sessions are cached_db: with the cache's copy gone (evicted, Redis restarted) the session
    is read as Django reads it, and the page still revalidates for its user only."""
    from django.contrib.sessions.models import Session

    path = url("portfolio", holding.pk)
    etag = first(user_client, path)["ETag"]
    session_key = user_client.cookies["sessionid"].value
    cache.delete(f"django.contrib.sessions.cached_db{session_key}")
    assert_not_modified(user_client, path, etag)
    Session.objects.filter(session_key=session_key).delete()
    cache.delete(f"django.contrib.sessions.cached_db{session_key}")
    response, _ = get(user_client, path, etag)
    assert response.status_code == 302


# --- anonymous visitors ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/miners/IREN/"])
def test_public_pages_revalidate_and_are_shared_without_a_csrf_token(
    client, iren, path, django_assert_num_queries
):
    response = first(client, path)
    html = response.content.decode()
    assert "X-CSRFToken" not in html and "csrfmiddlewaretoken" not in html
    assert "csrftoken" not in response.cookies
    assert_not_modified(client, path, response["ETag"])
    # Another visitor: the same body from the shared cache, no template, no query.
    visitor = Client()
    with django_assert_num_queries(0):
        shared, templates = get(visitor, path)
    assert shared.status_code == 200 and templates == []
    assert shared.content == response.content and shared["ETag"] == response["ETag"]
    assert shared["Content-Type"] == response["Content-Type"]
    assert set(shared["Cache-Control"].split(", ")) == {"private", "no-cache"}
    # A change of the market: rendered again.
    versions.market_changed()
    renewed, templates = get(visitor, path, response["ETag"])
    assert renewed.status_code == 200 and templates


def test_a_signed_in_page_is_never_shared_with_anonymous_visitors(user_client, user, holding):
    signed_in = first(user_client, "/")
    assert "X-CSRFToken" in signed_in.content.decode()  # htmx posts need it when signed in
    response, templates = get(Client(), "/", signed_in["ETag"])
    assert response.status_code == 200 and templates
    assert user.email not in response.content.decode()
    assert "X-CSRFToken" not in response.content.decode()


def test_a_public_page_with_a_flash_message_is_neither_shared_nor_validated(client, user, iren):
    """Signing out leaves "You have signed out." for the next page."""
    client.force_login(user)
    client.post(reverse("account_logout"))
    response, templates = get(client, "/")
    assert "You have signed out." in response.content.decode()
    assert not response.has_header("ETag")
    response, _ = get(Client(), "/")
    assert "You have signed out." not in response.content.decode()


# --- without Redis -------------------------------------------------------------------------------


def test_with_redis_away_pages_render_without_an_etag_and_posts_work(user, holding, settings):
    """A Redis that does not answer (nothing listens on port 1): every page still renders,
    sessions come from the database, no ETag is sent (a token that cannot be read proves
    nothing), and writes work."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0},
        }
    }
    client = Client()
    client.force_login(user)
    for path in ["/", "/miners/IREN/", url("portfolio", holding.pk), url("watchlists")]:
        response, templates = get(client, path, '"anything"')
        assert response.status_code == 200 and templates, path
        assert not response.has_header("ETag")
    response = client.post(
        url("portfolio_edit", holding.pk), {"name": "Renamed", "base_currency": "USD"}
    )
    assert response.status_code == 302
    assert "Renamed" in get(client, url("portfolio", holding.pk))[0].content.decode()
    anonymous, templates = get(Client(), "/")
    assert anonymous.status_code == 200 and templates and not anonymous.has_header("ETag")
