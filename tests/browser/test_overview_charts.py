"""The console overview in Chromium: a supervisor's two charts of recent weeks and months are
drawn (their inline SVG has a size on the page) under the Content-Security-Policy, with no CSP
report or script error, and a chart's table opens with one click. An analyst gets no chart.

The live app runs on the real clock, so the cases are placed relative to now: made-up hosts,
no content.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from takedown.auth.models import Role
from takedown.cases.models import CaseEvent, CaseState
from tests.browser.conftest import LiveApp, screenshot
from tests.browser.test_console import _sign_in, _staff
from tests.console.test_overview import case

H = timedelta(hours=1)


def _seed(live_app: LiveApp) -> None:
    now = datetime.now(UTC)
    with live_app.database.transaction() as session:
        for name, reported, removed in (
            ("quick", now - 20 * 24 * H, 6 * H),
            ("slow", now - 40 * 24 * H, 60 * H),
            ("still-up", now - 10 * 24 * H, None),
        ):
            row = case(
                session,
                name,
                CaseState.CLOSED if removed else CaseState.CONFIRMED,
                reported=reported,
                removed=reported + removed if removed else None,
            )
            session.add(
                CaseEvent(
                    case_id=row.id,
                    at=reported + H,
                    kind="state_changed",
                    actor="user ana",
                    message="decided",
                    data={"from": "awaiting_assessment", "to": "confirmed"},
                )
            )


@pytest.mark.slow
def test_the_overview_draws_its_charts(live_app: LiveApp, page: Page) -> None:
    _seed(live_app)
    _staff(live_app, "b-overview", Role.SUPERVISOR)
    _sign_in(page, live_app, "b-overview")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"error: {error}"))

    response = page.goto(live_app.url("/console/overview"))
    assert response is not None
    assert response.status == 200
    charts = page.locator("#recent-charts svg.chart")
    expect(charts).to_have_count(2)
    for n in range(2):
        box = charts.nth(n).bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 50

    table = page.locator("#overview-removal-shares details table")
    expect(table).to_be_hidden()
    page.locator("#overview-removal-shares summary").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(6)
    expect(page.get_by_role("link", name="Statistics").first).to_be_visible()
    screenshot(page, "supervisor-overview")
    assert [m for m in messages if m.startswith("error") and "favicon" not in m] == []


@pytest.mark.slow
def test_an_analyst_overview_has_no_charts(live_app: LiveApp, page: Page) -> None:
    _staff(live_app, "b-overview-analyst", Role.ANALYST)
    _sign_in(page, live_app, "b-overview-analyst")
    response = page.goto(live_app.url("/console/overview"))
    assert response is not None
    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("svg")).to_have_count(0)
