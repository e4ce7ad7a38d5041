"""Public pages in a real browser: they render under the Content Security Policy with no error;
and the two tools the other browser tests rely on do what they say."""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.support import AXE_SOURCE, run_axe

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]


def test_public_pages_render_under_the_csp(new_context):
    context, problems = new_context()
    page = context.new_page()
    for path, heading in [
        ("/", None),
        ("/status/", "Status"),
        ("/accounts/login/", "Sign In"),
        ("/accounts/signup/", "Sign Up"),
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        if heading:
            expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    problems.assert_none()


def test_a_csp_violation_is_caught_and_axe_runs_without_one(new_context):
    """An injected inline <script> (what page.add_script_tag does, even with a file) is blocked
    and reported; axe evaluated through the DevTools protocol runs without tripping the policy."""
    context, problems = new_context()
    page = context.new_page()
    page.goto("/status/")
    # The page's own report (the securitypolicyviolation event) arrives after the exception.
    reported = page.expect_console_message(lambda msg: msg.text.startswith("CSP violation"))
    with reported, pytest.raises(PlaywrightError, match="Content Security Policy"):
        page.add_script_tag(path=AXE_SOURCE)
    assert page.evaluate("() => typeof window.axe") == "undefined"
    assert any(text.startswith("CSP violation: script-src") for text in problems.csp_violations)
    problems.csp_violations.clear()

    serious = run_axe(page, "status")

    assert page.evaluate("() => typeof window.axe") == "object"
    assert serious == [], serious
    problems.assert_none()


def test_a_signed_in_tour_of_every_page_and_htmx_swap_under_the_csp(new_context):
    """Pages the journey does not open, and the htmx swaps and chart redraws of the market pages,
    all without a CSP violation, a script error or a server error."""
    from tests.browser.test_journey import sign_up

    context, problems = new_context()
    page = context.new_page()
    sign_up(page)

    # Dashboard: sort and filter the miners table, change the chart's range (htmx swaps).
    table = page.locator("#miners-table")
    table.get_by_role("link", name="Symbol").click()
    expect(page).to_have_url(re.compile(r"sort=symbol"))
    table.get_by_role("link", name=re.compile(r"^Pure miner")).click()
    expect(page).to_have_url(re.compile(r"segment=miner"))
    expect(table.get_by_role("row").filter(has_text="IREN")).to_have_count(0)
    page.get_by_role("navigation", name="Chart range").get_by_role("link", name="5Y").click()
    expect(page).to_have_url(re.compile(r"range=5y", re.I))
    expect(page.locator(".chart canvas").first).to_be_visible()

    # A miner's chart over another range, then a symbol that does not exist.
    page.goto("/miners/WULF/")
    page.get_by_role("navigation", name="Chart range").get_by_role("link", name="5Y").click()
    expect(page).to_have_url(re.compile(r"range=5y", re.I))
    expect(page.locator(".chart canvas").first).to_be_visible()
    response = page.goto("/miners/NOPE/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("NOPE")

    for path, heading in [
        ("/miners/", "Miners"),
        ("/watchlists/", "Watchlists"),
        ("/portfolios/", "Portfolios"),
        ("/portfolios/exposure/", "Exposure"),
        ("/portfolios/performance/", "Performance"),
        ("/alerts/", "Alerts"),
        ("/notifications/", "Notifications"),
        ("/status/", "Status"),
    ]:
        assert page.goto(path).status == 200, path
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    problems.assert_none()
