"""A new user's first hour, in a real browser: what they trip over and what they look for.

One test per point of the issue a browser can see: a start without network (its own stack, with
Yahoo reached through a proxy whose host cannot be resolved), charts ending at the live price,
search in the navigation, your position on a miner's page, alerts that fire on a crossing, the
sort kept by segment filters, a portfolio in another currency, the first-run guide, and the
phone-width and /status/ layout fixes.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.live_stack import LiveStack, drop_database, recreate_database
from tests.browser.support import PageProblems
from tests.browser.test_journey import money, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]


def shell(live_stack: LiveStack, code: str) -> str:
    return live_stack.manage("shell", "-c", code)


# -- 1: no network on the first start ------------------------------------------------------------


@pytest.fixture
def offline_stack(tmp_path, browser):
    """Minerwatch with the Yahoo provider behind a proxy that cannot be resolved: a fresh install
    (no prices, no bars), a web server and a worker; embedded defaults for broker and cache."""
    import os
    from urllib.parse import urlsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    stack = LiveStack(
        database_url=parts._replace(path=parts.path.rstrip("/") + "_offline").geturl(),
        redis_url="",
        work_dir=tmp_path / "offline",
        web_workers=1,
        run_beat=False,
        extra_env={
            "MARKET_DATA_PROVIDER": "yahoo",
            "MARKET_DATA_PROXY": "http://unreachable.invalid:3128",
            "REDIS_URL": "",
        },
    )
    recreate_database(stack.database_url)
    try:
        stack.manage("migrate", "--no-input")
        stack.manage("load_universe")
        stack.manage("collectstatic", "--no-input", "-v", "0")
        stack.start(prepare=False)
        yield stack
    finally:
        stack.stop(drop=False)
        drop_database(stack.database_url)


def test_no_network_on_the_first_start_says_what_to_do(offline_stack, browser):
    context = browser.new_context(base_url=offline_stack.base_url)
    problems = PageProblems()
    problems.watch(context)
    page = context.new_page()
    # The worker's first refresh fails at once: the host of the proxy is not found.
    deadline = time.monotonic() + 60
    while "quotes refresh failed" not in offline_stack.log("worker"):
        assert time.monotonic() < deadline, offline_stack.log_tails()
        time.sleep(0.5)

    page.goto("/")
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text(
        "Yahoo Finance could not be reached: the host unreachable.invalid was not found"
    )
    expect(notice).to_contain_text("Quotes refreshes have failed since")
    expect(notice).to_contain_text("the next try is at")
    expect(notice).to_contain_text("No prices have been loaded yet")
    expect(notice.locator("code")).to_have_text("MARKET_DATA_PROVIDER=simulated make run")
    summary = page.locator("#sector-summary")
    expect(summary.locator(".hero .figure")).to_have_text("—")
    body = page.locator("main").inner_text()
    assert "$0" not in body and "Showing the last good prices" not in body
    assert "first for more det" not in body and not re.search(r"\(\s*\)", body)

    page.goto("/status/")
    expect(page.get_by_role("alert")).to_contain_text("MARKET_DATA_PROVIDER=simulated make run")
    # Long error lines wrap: the page is no wider than a phone.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/status/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 376

    worker_log = offline_stack.log("worker")
    failed = [line for line in worker_log.splitlines() if "refresh failed" in line]
    assert failed and all("unreachable.invalid was not found" in line for line in failed)
    assert "MARKET_DATA_PROVIDER=simulated make run" in worker_log
    assert "Traceback" not in worker_log
    # The unresolvable host is left alone: a run inside the backoff is skipped, not tried.
    for _ in range(2):  # the second one at least comes inside the backoff of the first
        try:
            offline_stack.manage("refresh_quotes")
        except RuntimeError as exc:  # a failed run: exit status 1
            assert "could not be reached" in str(exc) or "Failed" in str(exc), exc
    latest = offline_stack.manage(
        "shell",
        "-c",
        "from market.models import RefreshRun; r = RefreshRun.objects.filter(kind='quotes')"
        ".latest('started_at'); print(r.status, r.error_text)",
    )
    assert "skipped skipped: yahoo is not called again before" in latest, latest
    context.close()
    problems.assert_none()


# -- 12: the first-run guide ----------------------------------------------------------------------


def test_a_new_user_is_guided_to_a_watchlist_in_one_click(new_context):
    context, problems = new_context()
    page = context.new_page()
    sign_up(page)
    guide = page.get_by_role("region", name="Get started")
    expect(guide).to_contain_text("You have no watchlist or portfolio yet.")
    guide.get_by_role("button", name="Create a watchlist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My watchlist")
    page.goto("/")
    expect(page.get_by_role("region", name="Get started")).to_have_count(0)
    problems.assert_none()


def test_import_a_file_from_the_guide_opens_the_import_page(new_context):
    context, problems = new_context(javascript=False)
    page = context.new_page()
    sign_up(page)
    page.get_by_role("region", name="Get started").get_by_role(
        "button", name="Import a file"
    ).click()
    expect(page).to_have_url(re.compile(r"/portfolios/\d+/import/$"))
    problems.assert_none()


# -- 4: search in the navigation ----------------------------------------------------------------


def test_search_suggests_with_price_and_enter_opens_the_best_match(new_context):
    context, problems = new_context()
    page = context.new_page()
    page.goto("/status/")
    box = page.get_by_role("searchbox", name="Search a symbol or name")
    box.press_sequentially("ciph", delay=50)
    suggestion = page.locator("#nav-suggestions li a").first
    expect(suggestion).to_contain_text("CIFR")
    expect(suggestion).to_contain_text(re.compile(r"\$[\d,]+\.\d\d [+\-−]?\d+\.\d\d%"))
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/miners/CIFR/$"))
    problems.assert_none()


def test_search_without_javascript_is_a_plain_get_form(new_context):
    context, problems = new_context(javascript=False)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("searchbox", name="Search a symbol or name").fill("terawulf")
    page.get_by_role("searchbox", name="Search a symbol or name").press("Enter")
    expect(page).to_have_url(re.compile(r"/miners/WULF/$"))
    problems.assert_none()


# -- 3: charts end at the live price -------------------------------------------------------------


def test_charts_end_at_the_live_price(new_context):
    context, problems = new_context()
    page = context.new_page()
    page.goto("/miners/IREN/")
    expect(page.locator(".chart canvas").first).to_be_visible()
    header = money(page.locator(".quote-head .price").inner_text())
    payload = page.request.get("/miners/IREN/bars.json?range=1M").json()
    assert Decimal(str(payload["points"][-1]["value"])) == header
    page.goto("/")
    page.get_by_role("navigation", name="Chart range").get_by_role("link", name="1D").click()
    expect(page).to_have_url(re.compile(r"range=1D"))
    day = page.request.get("/sector/history.json?range=1D").json()["points"]
    # From the last daily close to the refreshes there are: not a flat line at one moment.
    assert len({point["time"] for point in day}) >= 2
    week = page.request.get("/sector/history.json?range=1W").json()["points"]
    assert len({point["time"] for point in week}) >= 4
    problems.assert_none()


# -- 8: filtering keeps the sort -----------------------------------------------------------------


def test_a_segment_filter_after_an_in_place_sort_keeps_the_sort(new_context):
    context, problems = new_context()
    page = context.new_page()
    page.goto("/")
    table = page.locator("#miners-table")
    table.get_by_role("link", name="YTD").click()
    expect(page).to_have_url(re.compile(r"sort=-?ytd"))
    sort = re.search(r"sort=(-?ytd)", page.url).group(1)
    page.get_by_role("navigation", name="Segment").get_by_role(
        "link", name=re.compile("^Pivot")
    ).click()
    expect(page).to_have_url(re.compile(rf"sort={sort}&segment=pivot"))
    expect(page.locator("#miners-table th[aria-sort]")).to_contain_text("YTD")
    problems.assert_none()


# -- 5 and 6: your position on a miner's page; alerts on a crossing -------------------------------


def test_your_position_watchlists_and_alerts_on_the_miner_page(new_context, live_stack):
    context, problems = new_context()
    page = context.new_page()
    email = sign_up(page)
    shell(
        live_stack,
        "import datetime as dt; from decimal import Decimal as D;"
        "from django.contrib.auth import get_user_model;"
        "from market.models import Instrument;"
        "from portfolios.models import Portfolio, PriceAlert;"
        "from portfolios.services import add_watchlist_item, create_watchlist, record_transaction;"
        f"u = get_user_model().objects.get(email='{email}');"
        "iren = Instrument.objects.get(symbol='IREN');"
        "[record_transaction(portfolio=Portfolio.objects.create(owner=u, name=n),"
        " instrument=iren, kind='buy', trade_date=dt.date(2025, 3, 3), quantity=D(q),"
        " price=D(p)) for n, q, p in (('Core', '100', '10'), ('Trading', '50', '16'))];"
        "add_watchlist_item(watchlist=create_watchlist(owner=u, name='Pivots'), instrument=iren);"
        "PriceAlert.objects.create(owner=u, instrument=iren, condition='above', threshold=D('1'))",
    )
    page.goto("/miners/IREN/")
    mine = page.get_by_role("region", name="Your IREN")
    expect(mine).to_contain_text(re.compile(r"Shares\s*150"))
    expect(mine).to_contain_text(re.compile(r"Average cost\s*\$12\.00"))
    expect(mine.get_by_role("row").filter(has_text="Core")).to_contain_text("$10.00")
    expect(mine.get_by_role("link", name="Pivots")).to_be_visible()
    expect(mine).to_contain_text("Price ≥ $1.00 · last fired never")

    # The price is above $1 and the alert is armed: it fires once.
    # (Each refresh of the stack evaluates the alerts too: count the notifications, not firings.)
    fired = shell(
        live_stack,
        "from portfolios.services import evaluate_alerts; evaluate_alerts(); evaluate_alerts();"
        "from portfolios.models import Notification;"
        f"print(Notification.objects.filter(owner__email='{email}').count())",
    )
    assert fired.strip().splitlines()[-1] == "1", fired
    page.goto("/alerts/")
    today = page.evaluate(
        "() => new Date().toLocaleDateString('en-US', {timeZone: 'America/New_York',"
        " month: 'short', day: 'numeric', year: 'numeric'})"
    )
    expect(page.get_by_role("row").filter(has_text="IREN")).to_contain_text(today)
    page.goto("/notifications/")
    notification = page.get_by_role("listitem").filter(has_text="IREN traded at")
    notification.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(r"/miners/IREN/$"))
    problems.assert_none()


# -- 9: a portfolio in another currency ----------------------------------------------------------


def test_a_euro_portfolio_gets_its_rate_at_once(new_context, live_stack):
    context, problems = new_context()
    page = context.new_page()
    sign_up(page)
    page.goto("/portfolios/")
    create = page.locator("form").filter(has=page.get_by_role("heading", name="New portfolio"))
    create.get_by_label("Name").fill("Euro")
    create.get_by_label("Base currency").select_option("EUR")
    create.get_by_role("button", name="Create portfolio").click()
    heading = page.get_by_role("heading", level=1, name="Euro")
    link = page.get_by_role("link", name="Euro", exact=True)
    expect(heading.or_(link).first).to_be_visible()
    if not heading.is_visible():
        link.first.click()
    form = page.locator("form").filter(has=page.get_by_role("heading", name="Record a trade"))
    form.get_by_label("Symbol").fill("IREN")
    form.get_by_label("Trade date").fill("2025-03-03")
    form.get_by_label("Quantity").fill("10")
    form.get_by_label("Price per share").fill("10")
    form.get_by_role("button", name="Record trade").click()
    expect(page.get_by_text("10 IREN on 2025-03-03")).to_be_visible()
    # The rate was fetched when the portfolio was created: the value is in euros, no dash.
    deadline = time.monotonic() + 30
    while "Waiting for the USD → EUR" in page.locator("main").inner_text():
        assert time.monotonic() < deadline, "the USD → EUR rate never arrived"
        time.sleep(1)
        page.reload()
    expect(page.locator(".pf-stat-value").first).to_contain_text("€")
    problems.assert_none()


# -- 11: the watchlist's row buttons at phone width ------------------------------------------------


def test_watchlist_row_buttons_stay_on_screen_at_phone_width(new_context):
    context, problems = new_context()
    page = context.new_page()
    page.set_viewport_size({"width": 375, "height": 800})
    sign_up(page)
    page.get_by_role("region", name="Get started").get_by_role(
        "button", name="Create a watchlist"
    ).click()
    add = page.locator("#watchlist-add")
    add.get_by_label("Symbol").fill("IREN")
    add.get_by_role("button", name="Add to My watchlist").click()
    remove = page.get_by_role("button", name="Remove IREN")
    expect(remove).to_be_visible()
    box = remove.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    problems.assert_none()
