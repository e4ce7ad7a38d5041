"""What the browser tests share: the chromium to drive, a watch for CSP violations and errors on
every page, axe-core runs and screenshots."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_SOURCE = Path(__file__).with_name("vendor") / "axe-4.11.1.min.js"
SCREENSHOTS = BASE_DIR / "docs" / "screenshots"
RESULTS = BASE_DIR / "test-results"
# Results of the axe runs of this session, printed at the end and kept in test-results/axe.json.
AXE_RESULTS: dict[str, dict] = {}
# Reports the page makes itself, in the page's own context: `securitypolicyviolation` fires for
# every blocked script, style, connection or image, whatever the console shows.
WATCH_SCRIPT = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


@dataclass
class PageProblems:
    """What went wrong on the pages of one browser context."""

    csp_violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def watch(self, context) -> None:
        context.add_init_script(WATCH_SCRIPT)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            self.csp_violations.append(text)
        elif not re.search(r"the server responded with a status of 4\d\d", text):
            # A 4xx a form answers with (422 for a refused htmx post) is behaviour, not an error.
            self.console_errors.append(text)

    def _on_response(self, response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 500 or (response.status >= 400 and path.startswith("/static/")):
            self.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    def assert_none(self) -> None:
        problems = {
            "CSP violations": self.csp_violations,
            "console errors": self.console_errors,
            "JavaScript errors": self.page_errors,
            "server errors or missing static files": self.bad_responses,
        }
        found = {name: items for name, items in problems.items() if items}
        assert not found, json.dumps(found, indent=2)


def run_axe(page, name: str) -> list[dict]:
    """Run axe-core on the page; record the result under `name`; return the serious and critical
    violations.

    The script is evaluated through the DevTools protocol, which the page's CSP does not govern:
    `page.add_script_tag` would add an inline <script> that the CSP rightly blocks (and report it
    as a violation), and a context with `bypass_csp` would stop checking the policy for the whole
    journey.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text())
    result = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ["violations"]});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
          }));
        }"""
    )
    AXE_RESULTS[name] = {"url": page.url, "violations": result}
    return [v for v in result if v["impact"] in {"serious", "critical"}]


def screenshot(page, name: str) -> list[Path]:
    """Full-page screenshots of the page in the light and the dark colour scheme, reloaded first
    so that one-time messages ("Recorded: …") are not in the picture."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.reload(wait_until="networkidle")
    paths = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        path = SCREENSHOTS / f"{name}-{scheme}.png"
        page.screenshot(path=path, full_page=True, animations="disabled")
        paths.append(path)
    page.emulate_media(color_scheme="light")
    return paths
