"""The whole-page cache (config/pagecache.py): a page is served again without a query or a render
only while nothing it shows has changed, and only to the session it was rendered for."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse

from config import versions
from market.models import Quote
from market.services import refresh_quotes
from portfolios.models import Notification, WatchlistItem
from tests.factories import InstrumentFactory, QuoteFactory, UserFactory, WatchlistFactory

D = Decimal
HTMX_ROWS = {"HX-Request": "true", "HX-Target": "miner-rows"}


def url(name, *args):
    return reverse(f"portfolios:{name}", args=args)


def get(client, path, **headers):
    """The response, and whether the page cache served it."""
    response = client.get(path, headers=headers)
    return response, getattr(response.wsgi_request, "page_cache_hit", False)


def warm(client, path):
    """The page, stored: a browser's first request only gets its CSRF cookie (that page is not
    reusable), so two requests, the second one rendered and stored or already served."""
    get(client, path)
    response, _ = get(client, path)
    assert response.status_code == 200
    return response


@pytest.fixture(autouse=True)
def _real_redis_when_there_is_one(settings):
    """On the PostgreSQL + Redis pass these tests run on the real Redis, through the cache
    backend production uses (keys under a prefix of their own, removed afterwards)."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        yield
        return
    prefix = f"test-page-cache-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    yield
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def holding(portfolio, iren, trade):
    trade(iren, "buy", "2025-01-10", 10, "30.00")
    return portfolio


PAGES = [
    lambda p: "/",
    lambda p: "/miners/IREN/",
    lambda p: url("portfolio", p.pk),
    lambda p: url("portfolios"),
    lambda p: url("watchlists"),
    lambda p: url("alerts"),
]


@pytest.mark.parametrize("page", PAGES)
def test_an_unchanged_page_is_served_again_without_a_query(
    user_client, holding, page, django_assert_num_queries
):
    path = page(holding)
    stored = warm(user_client, path)
    with django_assert_num_queries(0):
        response, hit = get(user_client, path)
    assert hit and response["X-Page-Cache"] == "hit"
    assert response.status_code == 200
    assert response.content == stored.content
    assert response["Content-Type"] == stored["Content-Type"]
    # The headers the middleware add to every response are there on a hit too.
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_a_quote_change_shows_on_the_next_request(user_client, holding, iren):
    warm(user_client, "/miners/IREN/")
    quote = Quote.objects.get(instrument=iren)
    quote.price = D("55.55")
    quote.save()
    response, hit = get(user_client, "/miners/IREN/")
    assert not hit and response["X-Page-Cache"] == "miss"
    assert "55.55" in response.content.decode()


def test_a_refresh_run_shows_on_every_page(user_client, holding, iren):
    paths = ["/", "/miners/IREN/", url("portfolio", holding.pk)]
    for path in paths:
        warm(user_client, path)
    # The refresh writes quotes in bulk (no per-row signal); the run it finishes says so.
    run = refresh_quotes(force=True, now=dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC))
    assert run.stored_count > 0
    price = Quote.objects.get(instrument=iren).price
    assert price != D("40.00")
    for path in paths:
        response, hit = get(user_client, path)
        assert not hit, path
        assert f"{price:,.2f}" in response.content.decode(), path


def test_another_user_never_gets_the_cached_page(user_client, holding, user):
    for path in ["/", url("portfolio", holding.pk)]:
        warm(user_client, path)
    other = UserFactory(email="someone-else@example.com")
    theirs = Client()
    theirs.force_login(other)
    for _ in range(3):
        response, hit = get(theirs, url("portfolio", holding.pk))
        assert response.status_code == 404 and not hit
    response = warm(theirs, "/")
    assert "someone-else@example.com" in response.content.decode()
    assert user.email not in response.content.decode()
    response, hit = get(theirs, "/")
    assert hit and "someone-else@example.com" in response.content.decode()
    response, hit = get(user_client, "/")
    assert hit and user.email in response.content.decode()


def test_signing_out_ends_the_cached_pages(user_client, holding):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    user_client.post(reverse("account_logout"))
    response, hit = get(user_client, path)
    assert not hit
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_password_change_elsewhere_signs_the_session_out(user_client, holding, user):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    user.set_password("a new and different passphrase")
    user.save()
    response, hit = get(user_client, path)
    assert not hit
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_user_gets_no_cached_page(user_client, holding, user):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    user.is_active = False
    user.save()
    response, hit = get(user_client, path)
    assert not hit and response.status_code == 302


def test_the_users_own_post_shows_at_once_with_its_message_then_the_page_is_cached_again(
    user_client, holding
):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    response = user_client.post(
        url("portfolio_edit", holding.pk), {"name": "Renamed", "base_currency": "USD"}
    )
    assert response.status_code == 302
    response, hit = get(user_client, path)
    html = response.content.decode()
    assert not hit
    assert "Renamed" in html and "Saved the portfolio." in html
    # The message was shown once; the next page is stored without it.
    response, hit = get(user_client, path)
    assert not hit and "Saved the portfolio." not in response.content.decode()
    response, hit = get(user_client, path)
    assert hit and "Renamed" in response.content.decode()
    assert "Saved the portfolio." not in response.content.decode()


def test_a_post_that_fails_still_leaves_no_stale_page(user_client, holding, iren, trade):
    """Any write request by the user replaces their version, whatever the view did."""
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    user_client.post(url("portfolio_edit", holding.pk), {"name": "", "base_currency": "USD"})
    response, hit = get(user_client, path)
    assert not hit


def test_writes_outside_a_request_show_too(user_client, user, holding, clsk, trade):
    """The admin, a task or a shell write through the ORM: the owner's pages follow."""
    portfolio_path = url("portfolio", holding.pk)
    watchlist = WatchlistFactory(owner=user, name="Pivots")
    watchlist_path = url("watchlist", watchlist.pk)
    for path in [portfolio_path, watchlist_path, "/"]:
        warm(user_client, path)

    trade(clsk, "buy", "2025-02-03", 5, "11.00")  # the service, outside any request
    response, hit = get(user_client, portfolio_path)
    assert not hit and "CLSK" in response.content.decode()

    other = InstrumentFactory(symbol="WULF", name="TeraWulf")
    QuoteFactory(instrument=other)
    WatchlistItem.objects.create(watchlist=watchlist, instrument=other)
    response, hit = get(user_client, watchlist_path)
    assert not hit and "WULF" in response.content.decode()

    Notification.objects.create(owner=user, text="IREN crossed $50")
    response, hit = get(user_client, "/")
    assert not hit
    assert 'aria-label="1 unread"' in response.content.decode()


def test_htmx_requests_are_cached_apart_from_the_full_page(user_client, holding):
    full = warm(user_client, "/")
    response, hit = get(user_client, "/", **HTMX_ROWS)
    assert not hit
    assert "<html" not in response.content.decode() and "<html" in full.content.decode()
    response, hit = get(user_client, "/", **HTMX_ROWS)
    assert not hit or "<html" not in response.content.decode()
    response, hit = get(user_client, "/")
    assert hit and "<html" in response.content.decode()


def test_pages_expire_after_page_cache_seconds(user_client, holding, settings):
    settings.PAGE_CACHE_SECONDS = 1  # real seconds: Redis keeps the time itself
    warm(user_client, "/")
    assert get(user_client, "/")[1]
    time.sleep(1.2)
    assert not get(user_client, "/")[1]


def test_a_lost_version_token_never_revives_an_old_page(user_client, holding):
    warm(user_client, "/")
    cache.delete(versions.MARKET)  # evicted, or Redis restarted without its data
    response, hit = get(user_client, "/")
    assert not hit


def test_without_a_csrf_cookie_nothing_is_reused(user_client, holding):
    """The page carries a CSRF token for the browser's secret: a browser without one gets a new
    secret with every render, so its pages are never stored."""
    for _ in range(3):
        user_client.cookies.pop("csrftoken", None)
        response, hit = get(user_client, "/")
        assert response.status_code == 200 and not hit


def test_the_page_cache_can_be_turned_off(user_client, holding, settings):
    settings.PAGE_CACHE_SECONDS = 0
    for _ in range(3):
        assert not get(user_client, "/")[1]


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


def test_a_hit_varies_on_the_cookie_like_any_page_that_read_the_session(user_client, holding):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    response, hit = get(user_client, path)
    assert hit and "Cookie" in response["Vary"]


def test_a_session_missing_from_the_cache_is_read_from_the_database(user_client, holding):
    """Sessions are cached_db: with the cache's copy gone (evicted, Redis restarted) the page
    cache reads the session as Django does, and still serves the page to its user only."""
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    session_key = user_client.cookies["sessionid"].value
    cache.delete(f"django.contrib.sessions.cached_db{session_key}")
    response, hit = get(user_client, path)
    assert hit and response.status_code == 200
    from django.contrib.sessions.models import Session

    Session.objects.filter(session_key=session_key).delete()
    cache.delete(f"django.contrib.sessions.cached_db{session_key}")
    response, hit = get(user_client, path)
    assert not hit and response.status_code == 302


def test_with_redis_away_pages_are_rendered_not_failed(user, holding, settings):
    """A Redis that does not answer (nothing listens on port 1): every page still renders,
    sessions come from the database, and nothing is served from a cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
    client = Client()
    client.force_login(user)
    for path in ["/", "/miners/IREN/", url("portfolio", holding.pk), url("watchlists")]:
        for _ in range(2):
            response, hit = get(client, path)
            assert response.status_code == 200, path
            assert not hit
    # Writes work too, and say they could not be cached (no exception).
    response = client.post(
        url("portfolio_edit", holding.pk), {"name": "Renamed", "base_currency": "USD"}
    )
    assert response.status_code == 302
    assert "Renamed" in get(client, url("portfolio", holding.pk))[0].content.decode()


def test_only_a_refresh_run_that_ends_renews_the_pages(user_client, holding):
    from django.utils import timezone

    from market.models import RefreshRun

    warm(user_client, "/")
    run = RefreshRun.objects.create(kind="quotes", provider="simulated", started_at=timezone.now())
    RefreshRun.objects.create(
        kind="quotes", provider="simulated", started_at=timezone.now(), status="skipped"
    )
    assert get(user_client, "/")[1]  # started or skipped: the pages show the same
    run.status = RefreshRun.Status.OK
    run.finished_at = timezone.now()
    run.save()
    assert not get(user_client, "/")[1]
    # A history or profiles run that found nothing to store changed nothing either.
    warm(user_client, "/")
    bars = RefreshRun.objects.create(
        kind="bars", provider="simulated", started_at=timezone.now(), status="ok"
    )
    assert get(user_client, "/")[1]
    bars.stored_count = 250
    bars.save()
    assert not get(user_client, "/")[1]


def test_stored_pages_go_gzipped_to_browsers_that_accept_it(user_client, holding):
    import gzip

    path = url("portfolio", holding.pk)
    get(user_client, path)  # the CSRF cookie
    rendered, hit = get(user_client, path, **{"Accept-Encoding": "gzip, deflate, br"})
    assert not hit and rendered["Content-Encoding"] == "gzip"
    served, hit = get(user_client, path, **{"Accept-Encoding": "gzip, deflate, br"})
    assert hit and served["Content-Encoding"] == "gzip"
    html = gzip.decompress(served.content).decode()
    assert "Main" in html and "IREN" in html
    assert gzip.decompress(rendered.content) == gzip.decompress(served.content)
    assert int(served["Content-Length"]) == len(served.content) < len(html) / 3
    assert "Accept-Encoding" in served["Vary"] and "Cookie" in served["Vary"]
    plain, hit = get(user_client, path)  # no Accept-Encoding: the same page, not compressed
    assert hit and not plain.has_header("Content-Encoding")
    assert plain.content.decode() == html
    assert "Accept-Encoding" in plain["Vary"]


def test_a_known_page_is_served_before_the_url_is_even_resolved(user_client, holding):
    """PageCacheMiddleware answers above the session, CSRF, auth and URL machinery once this
    process has stored the page; the response still carries every header a page gets."""
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    response, hit = get(user_client, path)
    assert hit
    assert response.wsgi_request.resolver_match is None  # no view was reached
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "Cookie" in response["Vary"]
    assert int(response["Content-Length"]) == len(response.content)
    # A CSRF cookie that is not a secret Django would accept goes down the stack to Django.
    user_client.cookies["csrftoken"] = "not-a-secret"
    response, hit = get(user_client, path)
    assert response.status_code == 200 and not hit
    assert response.wsgi_request.resolver_match is not None


def test_the_middleware_serves_nothing_to_another_session(user_client, holding, user):
    path = url("portfolio", holding.pk)
    warm(user_client, path)
    assert get(user_client, path)[0].wsgi_request.resolver_match is None
    thief = Client()
    thief.cookies["csrftoken"] = user_client.cookies["csrftoken"].value  # even with the secret
    response, hit = get(thief, path)
    assert not hit and response.status_code == 302  # no session: sign in first
    thief.force_login(UserFactory())
    response, hit = get(thief, path)
    assert not hit and response.status_code == 404
