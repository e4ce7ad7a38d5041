"""Public pages in a real browser: they render under the Content Security Policy with no error;
and the two tools the other browser tests rely on do what they say."""

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
