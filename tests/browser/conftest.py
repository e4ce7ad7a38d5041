"""Browser tests: Playwright drives Debian's chromium against a real stack started for them
(gunicorn, a Celery worker and beat, PostgreSQL, Redis, the simulated provider).

Every page a test opens is watched: a Content Security Policy violation, a JavaScript error, a
server error or a missing static file fails the test that caused it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.live_stack import LiveStack
from tests.browser.support import AXE_RESULTS, CHROMIUM, CHROMIUM_ARGS, RESULTS, PageProblems


@pytest.fixture(scope="package")
def live_stack(tmp_path_factory) -> Iterator[LiveStack]:
    database_url = os.environ["DATABASE_URL"]
    parts = urlsplit(database_url)
    server_db = parts._replace(path=parts.path.rstrip("/") + "_browser").geturl()
    stack = LiveStack(
        database_url=server_db,
        redis_url=os.environ["REDIS_URL"],
        work_dir=tmp_path_factory.mktemp("live-stack"),
        web_workers=2,
        celery_concurrency=1,
        # Beat refreshes quotes every minute at any hour, not only while New York is open, and
        # the simulated market trades round the clock, so that prices move at any hour.
        extra_env={"CLOSED_MARKET_REFRESH_MINUTES": "1", "SIMULATED_ALWAYS_OPEN": "1"},
    )
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture(scope="package")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, live_stack, request):
    """new_context(javascript=True, color_scheme="light") -> (context, problems); every context
    is closed at the end of the test, and the test fails if any of its pages had a problem."""
    opened = []

    def make(*, javascript: bool = True, color_scheme: str = "light", **options):
        context = browser.new_context(
            base_url=live_stack.base_url,
            java_script_enabled=javascript,
            color_scheme=color_scheme,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(15_000)
        problems = PageProblems()
        problems.watch(context)
        opened.append((context, problems))
        return context, problems

    yield make
    for context, _ in opened:
        context.close()
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:
        # The failure is reported already; add what the pages and the servers said.
        for _, problems in opened:
            print(problems)
        print(live_stack.log_tails())
        return
    for _, problems in opened:
        problems.assert_none()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    if not AXE_RESULTS:
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "axe.json").write_text(json.dumps(AXE_RESULTS, indent=2))
    terminalreporter.section("axe-core 4.11.1")
    for name, result in AXE_RESULTS.items():
        by_impact: dict[str, int] = {}
        for violation in result["violations"]:
            by_impact[violation["impact"]] = by_impact.get(violation["impact"], 0) + 1
        counts = ", ".join(f"{n} {impact}" for impact, n in sorted(by_impact.items())) or "none"
        terminalreporter.write_line(f"{name:<12} {result['url']}: violations: {counts}")
