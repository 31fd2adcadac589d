"""Public pages in a real browser: the splash page renders under the strict CSP."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page

from tests.browser.conftest import LiveApp, screenshot


def test_splash_page_renders_without_csp_violations(live_app: LiveApp, page: Page) -> None:
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))
    response = page.goto(live_app.url("/blocked?url=%3Cscript%3Ealert(1)%3C/script%3E"))
    assert response is not None
    assert response.status == 200
    assert "Stop It Now" in page.content()
    assert page.locator("a[href='/appeal']").count() >= 1
    # A CSP violation or a script error would show up as a console error.
    # (The browser's own request for /favicon.ico is not the page's doing.)
    errors = [m for m in messages if m.type == "error"]
    assert [m.text for m in errors if "favicon" not in m.location.get("url", "")] == []
    screenshot(page, "blocked")
