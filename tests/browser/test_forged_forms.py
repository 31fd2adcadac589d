"""A form posted to the console from another origin of the same site, in a real browser.

Another port of 127.0.0.1 is the same site as the app: the browser sends the SameSite=Strict
session cookie along, as it would from a sibling subdomain in production. With the CSRF token
leaked to that page, only the Origin check stands in the way.
"""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from takedown.auth.models import Role
from tests.browser.conftest import LiveApp, _free_port
from tests.browser.test_console import _sign_in, _staff


def test_a_form_from_a_sibling_origin_is_refused(live_app: LiveApp, page: Page) -> None:
    _staff(live_app, "ana", Role.ANALYST)
    _sign_in(page, live_app, "ana")
    leaked = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert leaked

    attack = f"http://127.0.0.1:{_free_port()}/prize"
    form = (
        f'<form method="post" action="{live_app.url("/console/logout")}">'
        f'<input type="hidden" name="csrf_token" value="{leaked}">'
        "<button>Claim the prize</button></form>"
    )

    def serve_attack(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=form)

    page.route(attack, serve_attack)
    page.goto(attack)
    with page.expect_response(live_app.url("/console/logout")) as answer:
        page.get_by_role("button", name="Claim the prize").click()
    refused = answer.value
    assert refused.status == 403
    # The cookie went along; the Origin named the attacking page.
    sent = refused.request.all_headers()
    assert "takedown_session=" in sent["cookie"]
    assert sent["origin"] == attack.removesuffix("/prize")
    assert "another site" in page.content()

    # Still signed in: the forged sign-out changed nothing.
    page.goto(live_app.url("/console/queue"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
