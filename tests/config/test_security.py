"""Security behind DEBUG=0: HTTPS only, secure cookies, HSTS, hashed static files, admin at
ADMIN_URL; a Content Security Policy on every page that inline code would break; sign-in rate
limiting."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.urls import reverse

PASSWORD = "a-long enough passphrase 42"

# Runs in a subprocess, because DEBUG, the static storage and the admin path are read once at
# start-up: a production-like process migrates a throw-away SQLite database, collects the static
# files as a deploy does, then signs up through the test client and reports what it saw.
PRODUCTION_PROBE = textwrap.dedent(
    """
    import json, os, re
    import django
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()
    report = {}

    plain = client.get("/accounts/login/")
    report["http_status"] = plain.status_code
    report["http_location"] = plain.headers.get("Location", "")

    page = client.get("/accounts/signup/", secure=True)
    report["page_status"] = page.status_code
    report["hsts"] = page.headers.get("Strict-Transport-Security", "")
    report["csp"] = page.headers.get("Content-Security-Policy", "")
    report["static_urls"] = re.findall(r'/static/[^"]+', page.content.decode())
    csrf = page.cookies["csrftoken"]
    report["csrf_cookie"] = {"secure": bool(csrf["secure"]), "samesite": csrf["samesite"]}

    signed_up = client.post(
        "/accounts/signup/",
        {"email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD},
        secure=True,
    )
    report["signup_status"] = signed_up.status_code
    session = signed_up.cookies["sessionid"]
    report["session_cookie"] = {
        "secure": bool(session["secure"]),
        "httponly": bool(session["httponly"]),
        "samesite": session["samesite"],
    }
    static_url = report["static_urls"][0]
    report["static_file_status"] = client.get(static_url, secure=True).status_code
    report["admin_default_status"] = client.get("/admin/", secure=True).status_code
    report["admin_configured"] = client.get("/ops-desk-7f3a/", secure=True).status_code
    report["admin_configured_location"] = client.get("/ops-desk-7f3a/", secure=True).headers.get(
        "Location", ""
    )
    print("REPORT " + json.dumps(report))
    """
).replace("PASSWORD", repr(PASSWORD))


@pytest.fixture(scope="module")
def production_report(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("production-var")
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "s" * 30 + "-production-like-secret-" + "k" * 30,
        "ALLOWED_HOSTS": "testserver,minerwatch.example.com",
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "VAR_DIR": str(var_dir),
        "ADMIN_URL": "ops-desk-7f3a/",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


def test_plain_http_is_redirected_to_https(production_report):
    assert production_report["http_status"] == 301
    assert production_report["http_location"] == "https://testserver/accounts/login/"


def test_hsts_for_a_year_with_subdomains_and_preload(production_report):
    assert production_report["page_status"] == 200
    assert production_report["hsts"] == "max-age=31536000; includeSubDomains; preload"


def test_session_and_csrf_cookies_are_secure(production_report):
    assert production_report["signup_status"] == 302
    assert production_report["session_cookie"] == {
        "secure": True,
        "httponly": True,
        "samesite": "Lax",
    }
    assert production_report["csrf_cookie"]["secure"] is True


def test_static_files_have_hashed_names_and_are_served(production_report):
    urls = production_report["static_urls"]
    assert urls, "the page links no static file"
    for url in urls:
        # whitenoise's manifest storage: name.<12 hex digits>.ext
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", url), url
    assert production_report["static_file_status"] == 200


def test_admin_lives_at_admin_url_only(production_report):
    assert production_report["admin_default_status"] == 404
    assert production_report["admin_configured"] == 302
    assert production_report["admin_configured_location"].startswith("/ops-desk-7f3a/login/")


def test_production_csp_forbids_inline_code(production_report):
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in production_report["csp"].split(";")
        if part.strip()
    )
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


# Every page a visitor or a signed-in user can open without ids (pages with ids are covered by
# the browser tests, which fail on any CSP violation).
PUBLIC_PAGES = [
    "/",
    "/status/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
]
PRIVATE_PAGES = ["/watchlists/", "/portfolios/", "/alerts/", "/notifications/"]

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"""<[^>]+\sstyle\s*=\s*["']""", re.IGNORECASE)


def assert_page_obeys_its_csp(response, path):
    policy = response.headers["Content-Security-Policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src")).split()
    assert script_src[1:] == ["'self'"], f"{path}: scripts allowed beyond our own files: {policy}"
    html = response.content.decode()
    for attributes in SCRIPT_TAG.findall(html):
        if 'type="application/json"' in attributes or "type='application/json'" in attributes:
            continue  # data, not code
        source = re.search(r'\bsrc="([^"]+)"', attributes)
        assert source, f"{path}: inline script (the policy would block it): {attributes}"
        assert source.group(1).startswith("/static/"), f"{path}: foreign script: {attributes}"
    assert not INLINE_HANDLER.search(html), f"{path}: inline event handler"
    assert not INLINE_STYLE.search(html), f"{path}: inline style attribute"
    assert "<style" not in html.lower(), f"{path}: inline <style> element"


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_carry_a_csp_their_markup_obeys(client, universe, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_page_obeys_its_csp(response, path)


@pytest.mark.django_db
@pytest.mark.parametrize("path", PRIVATE_PAGES)
def test_private_pages_carry_a_csp_their_markup_obeys(user_client, universe, path):
    response = user_client.get(path)
    assert response.status_code == 200
    assert_page_obeys_its_csp(response, path)


@pytest.mark.django_db
def test_pages_of_a_users_own_things_obey_the_csp(user_client, user, universe):
    from datetime import date
    from decimal import Decimal

    from market.models import Instrument
    from portfolios.services import (
        add_watchlist_item,
        create_portfolio,
        create_watchlist,
        record_transaction,
    )

    iren = Instrument.objects.get(symbol="IREN")
    watchlist = create_watchlist(owner=user, name="AI pivoters")
    add_watchlist_item(watchlist=watchlist, instrument=iren)
    portfolio = create_portfolio(owner=user, name="Main")
    record_transaction(
        portfolio=portfolio,
        instrument=iren,
        kind="buy",
        trade_date=date(2025, 3, 3),
        quantity=Decimal(100),
        price=Decimal("10.00"),
    )
    for path in [
        f"/watchlists/{watchlist.pk}/",
        f"/portfolios/{portfolio.pk}/",
        f"/portfolios/{portfolio.pk}/transactions/",
        f"/portfolios/{portfolio.pk}/exposure/",
        f"/portfolios/{portfolio.pk}/import/",
        "/portfolios/exposure/",
        "/miners/IREN/",
    ]:
        response = user_client.get(path)
        assert response.status_code == 200, path
        assert_page_obeys_its_csp(response, path)


@pytest.mark.django_db
def test_sign_in_is_rate_limited_after_repeated_failures(client, user):
    url = reverse("account_login")
    for _ in range(5):
        response = client.post(url, {"login": user.email, "password": "wrong password"})
        assert response.status_code == 200
        assert b"are not correct" in response.content
    # The right password no longer gets in from this address for a while.
    response = client.post(url, {"login": user.email, "password": "correct horse battery"})
    assert b"Too many failed login attempts" in response.content
    assert not response.wsgi_request.user.is_authenticated
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sign_up_is_rate_limited_per_address(client):
    url = reverse("account_signup")
    statuses = []
    for n in range(21):
        response = client.post(
            url, {"email": f"user{n}@example.com", "password1": PASSWORD, "password2": PASSWORD}
        )
        statuses.append(response.status_code)
        client.logout()
    assert statuses[:20] == [302] * 20
    assert statuses[20] == 429
