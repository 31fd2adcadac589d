"""The API docs at /docs in a real browser: Swagger UI from our own origin, under the strict CSP.

Every request the page makes is routed through the test: one to anywhere but the app is
aborted and recorded, so the page must render with nothing from outside (as on a machine
without internet, and without telling a third party who reads the docs).
"""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.browser.conftest import LiveApp, screenshot


def test_the_docs_render_with_no_outside_request(live_app: LiveApp, page: Page) -> None:
    outside: list[str] = []
    local: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith(live_app.base_url + "/"):
            local.append(url)
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.context.route("**/*", only_local)
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))

    response = page.goto(live_app.url("/docs"))
    assert response is not None
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy

    # Swagger UI rendered the document: an operation per path, the reports one among them.
    reports = page.locator(".opblock-summary-path[data-path='/api/v1/reports']")
    expect(reports.first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    # It works, not only shows: an operation opens with its parameters and responses.
    reports.first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper").first).to_be_visible()
    screenshot(page, "api-docs")

    assert outside == []
    assert live_app.url("/static/swagger-ui/swagger-ui-bundle.js") in local
    assert live_app.url("/openapi.json") in local
    assert script_errors == []
    # A CSP violation shows as a console error. (The browser's own /favicon.ico is not
    # the page's doing.)
    errors = [m.text for m in messages if m.type == "error"]
    assert [e for e in errors if "favicon" not in e] == []


def test_redoc_is_not_offered(live_app: LiveApp, page: Page) -> None:
    # FastAPI's /redoc would load its bundle from a CDN; it is gone rather than half working.
    response = page.goto(live_app.url("/redoc"))
    assert response is not None
    assert response.status == 404
