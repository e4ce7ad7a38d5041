"""The whole journey of a new user in a real browser, with JavaScript and without.

Sign up -> the dashboard -> open IREN -> add it to a new watchlist -> see its price change
without reloading after a refresh -> record two buys and a sell -> see P&L and exposure -> export
the transactions CSV and read the download -> import it into a second portfolio -> sign out.

Selectors are what a person sees: roles, labels and visible text. Every page is also checked by
the `new_context` fixture for CSP violations and errors, and axe-core runs on the dashboard, a
miner page, the watchlist, the portfolio and the import page.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import run_axe, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "miners to AI, 2026!"
# Two buys and a sell of IREN, with the position they leave (average cost, buy fees included):
# cost 100 x 10 + 1 + 50 x 16 + 1 = 1,802 for 150 shares, 12.0133… each; selling 60 at 20 less a
# fee of 1 realizes 1,200 - 1 - 60 x 12.0133… = 478.20, and leaves 90 shares costing 1,081.20.
TRADES = [
    ("Buy", "2025-03-03", "100", "10.00", "1.00"),
    ("Buy", "2025-06-02", "50", "16.00", "1.00"),
    ("Sell", "2025-09-02", "60", "20.00", "1.00"),
]
QUANTITY_LEFT = Decimal("90")
COST_LEFT = Decimal("1081.20")
REALIZED = Decimal("478.20")


TEXTS = "elements => elements.map(element => element.textContent.trim())"


def money(text: str) -> Decimal:
    """The first amount in '$1,234.56', '-$12.30 sim' or '+$9,163.00+508.49%', as a Decimal."""
    found = re.search(r"([+\-−]?)\$([\d,]+(?:\.\d+)?)", text)
    assert found, f"no amount in {text!r}"
    sign = "-" if found.group(1) in {"-", "−"} else ""
    return Decimal(sign + found.group(2).replace(",", ""))


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def sign_up(page) -> str:
    email = f"journey-{secrets.token_hex(4)}@example.com"
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(email)
    return email


def open_iren_from_the_dashboard(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sector").click()
    table = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Symbol"))
    expect(table.get_by_role("link", name="IREN", exact=True)).to_be_visible()
    table.get_by_role("link", name="IREN", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("IREN")


def add_to_new_watchlist(page, name: str) -> None:
    """From IREN's page, into a watchlist made for it; lands on that watchlist."""
    track = page.get_by_role("region", name="Track IREN")
    track.get_by_label("Add to watchlist").select_option(label="A new watchlist…")
    track.get_by_label("New watchlist name").fill(name)
    track.get_by_role("button", name="Add IREN").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(watchlist_row(page, "IREN")).to_be_visible()


def open_created(page, name: str) -> None:
    """After creating a watchlist or portfolio: a plain post lands on the new one's page, htmx
    adds it to the list on the page; either way, end up on its page."""
    heading = page.get_by_role("heading", level=1, name=name)
    link = page.get_by_role("link", name=name, exact=True)
    expect(heading.or_(link).first).to_be_visible()
    if not heading.is_visible():
        link.first.click()
    expect(heading).to_be_visible()


def watchlist_row(page, symbol: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=symbol, exact=True))


def create_portfolio(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Portfolios").click()
    create = page.locator("form").filter(has=page.get_by_role("heading", name="New portfolio"))
    create.get_by_label("Name").fill(name)
    create.get_by_role("button", name="Create portfolio").click()
    open_created(page, name)


def record_trades(page) -> None:
    form = page.locator("form").filter(has=page.get_by_role("heading", name="Record a trade"))
    for kind, trade_date, quantity, price, fee in TRADES:
        form.get_by_label("Type").select_option(label=kind)
        form.get_by_label("Symbol").fill("IREN")
        form.get_by_label("Trade date").fill(trade_date)
        form.get_by_label("Quantity").fill(quantity)
        form.get_by_label("Price per share").fill(price)
        form.get_by_label("Fee").fill(fee)
        form.get_by_role("button", name="Record trade").click()
        # "Recorded: buy 50 IREN on 2025-06-02." Wait for this trade's, not the previous one's.
        expect(page.get_by_text(f"{quantity} IREN on {trade_date}")).to_be_visible()


def check_position_and_pnl(page) -> None:
    """The IREN position: 90 shares, realized and unrealized P&L that agree with the price shown."""
    positions = page.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="Unrealized")
    )
    row = positions.get_by_role("row").filter(has=page.get_by_role("link", name="IREN", exact=True))
    expect(row).to_be_visible()
    # The text as written, not as CSS transforms it (the headers are shown in capitals).
    headers = positions.get_by_role("columnheader").evaluate_all(TEXTS)
    cells = row.get_by_role("rowheader").evaluate_all(TEXTS) + row.get_by_role("cell").evaluate_all(
        TEXTS
    )
    values = dict(zip(headers, cells, strict=False))
    assert Decimal(values["Quantity"].replace(",", "")) == QUANTITY_LEFT, values
    price = money(values["Price"])
    market_value = money(values["Market value"])
    assert market_value == cents(price * QUANTITY_LEFT), values
    unrealized = money(values["Unrealized"])
    assert unrealized == cents(market_value - COST_LEFT), values
    realized = money(values["Realized"])
    assert realized == REALIZED, values
    # The exposure beside it: everything is in IREN's segment.
    exposure = page.get_by_role("region", name="Exposure")
    expect(exposure).to_contain_text("Pivot to AI/HPC")
    expect(exposure).to_contain_text("100")


def export_transactions(page) -> tuple[bytes, list[dict]]:
    page.get_by_role("link", name="Transactions", exact=True).click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    content = Path(download.path()).read_bytes()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    trades = [row for row in rows if row.get("symbol") == "IREN"]
    # docs/csv.md: date, symbol, type, quantity, price, fee, … with exact decimals.
    assert [(row["type"], Decimal(row["quantity"])) for row in trades] == [
        ("buy", Decimal(100)),
        ("buy", Decimal(50)),
        ("sell", Decimal(60)),
    ], rows
    assert [Decimal(row["price"]) for row in trades] == [Decimal(t[3]) for t in TRADES]
    assert [Decimal(row["fee"]) for row in trades] == [Decimal(t[4]) for t in TRADES]
    assert [row["date"] for row in trades] == [t[1] for t in TRADES]
    return content, trades


def import_into(page, name: str, content: bytes, *, axe: bool) -> None:
    create_portfolio(page, name)
    page.get_by_role("link", name=re.compile(r"^Import", re.I)).first.click()
    page.get_by_label(re.compile(r"CSV file|File", re.I)).set_input_files(
        {"name": "transactions.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name=re.compile(r"preview|upload|check", re.I)).click()
    preview = page.get_by_role("table").filter(has=page.get_by_role("cell", name="IREN"))
    expect(preview.get_by_role("row").filter(has_text="IREN")).to_have_count(3)
    if axe:
        assert run_axe(page, "import") == []
    page.get_by_role("button", name=re.compile(r"import|confirm", re.I)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    check_position_and_pnl(page)


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/portfolios/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def wait_for_the_price_to_change(page, live_stack, symbol: str) -> None:
    """Refresh quotes until the watchlist's polled row shows a new price, with no reload."""
    price = watchlist_row(page, symbol).locator("td.num").first
    before = price.inner_text()
    page.evaluate("() => { window.journeyMarker = 'not reloaded'; }")
    deadline = time.monotonic() + 180
    while True:
        # The simulated price moves once a minute; the row polls every 30 s. Beat refreshes
        # every minute as well; this makes sure one happens now.
        live_stack.manage("refresh_quotes", "--force", "--symbols", symbol)
        try:
            expect(price).not_to_have_text(before, timeout=40_000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    assert page.evaluate("() => window.journeyMarker") == "not reloaded"


def test_journey_with_javascript(new_context, live_stack):
    context, problems = new_context()
    page = context.new_page()

    sign_up(page)

    # The dashboard, under the CSP: its chart draws (the vendored charting library, fed by JSON).
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator(".chart canvas").first).to_be_visible()
    assert run_axe(page, "dashboard") == []
    screenshot(page, "dashboard")

    open_iren_from_the_dashboard(page)
    expect(page.locator(".chart canvas").first).to_be_visible()
    assert run_axe(page, "miner") == []
    screenshot(page, "miner")

    add_to_new_watchlist(page, "AI pivoters")
    assert run_axe(page, "watchlist") == []
    wait_for_the_price_to_change(page, live_stack, "IREN")

    create_portfolio(page, "Main")
    record_trades(page)
    check_position_and_pnl(page)
    assert run_axe(page, "portfolio") == []
    screenshot(page, "portfolio")

    # Its performance: the value chart draws from the page's own JSON, under the CSP.
    page.get_by_role("link", name="Performance", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Performance of Main")
    expect(page.locator(".chart canvas").first).to_be_visible()
    assert run_axe(page, "performance") == []
    page.go_back()

    content, _ = export_transactions(page)
    import_into(page, "Copy of Main", content, axe=True)

    sign_out(page)
    problems.assert_none()


def test_core_journey_without_javascript(new_context):
    context, problems = new_context(javascript=False)
    page = context.new_page()

    sign_up(page)
    open_iren_from_the_dashboard(page)
    add_to_new_watchlist(page, "Plain HTML")
    create_portfolio(page, "Main")
    record_trades(page)
    check_position_and_pnl(page)
    content, _ = export_transactions(page)
    import_into(page, "Copy of Main", content, axe=False)
    sign_out(page)
    problems.assert_none()


def test_status_page_shows_the_workers_refresh_runs(new_context):
    context, problems = new_context()
    page = context.new_page()
    page.goto("/status/")
    runs = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Kind"))
    expect(runs.get_by_role("row").filter(has_text="Quotes").first).to_be_visible()
    quotes = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Age"))
    expect(quotes.get_by_role("row").filter(has_text="IREN")).to_be_visible()
    problems.assert_none()


def test_logs_have_one_line_per_request_and_per_task(live_stack, new_context):
    context, _ = new_context()
    context.new_page().goto("/miners/IREN/")
    # A refresh through the broker and the worker, as beat sends one every minute.
    live_stack.manage(
        "shell",
        "-c",
        "from market.tasks import refresh_quotes; "
        "print(refresh_quotes.delay(force=True).get(timeout=120))",
    )
    request_line = re.compile(r"minerwatch\.requests GET /miners/IREN/ 200 \d+\.\dms")
    task_line = re.compile(r"task market\.refresh_quotes \[[0-9a-f-]{36}\] SUCCESS \d+\.\dms")
    # The worker writes its line just after the result is stored: read the log until it is there.
    deadline = time.monotonic() + 10
    while not task_line.search(live_stack.log("worker")):
        assert time.monotonic() < deadline, live_stack.log_tails()
    assert request_line.search(live_stack.log("web")), live_stack.log_tails()
