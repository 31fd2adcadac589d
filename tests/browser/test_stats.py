"""The statistics page in Chromium: every chart is drawn (its inline SVG has a size on the
page) under the console's Content-Security-Policy, with no CSP report or script error, its
table opens with one click, and a hostile organization name stays text. A screenshot is saved.

The figures are the seeded month of tests/stats/seed.py: made-up hosts, no content.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from takedown.auth.models import Role
from takedown.orgs.models import OrgKind
from tests import factories
from tests.browser.conftest import LiveApp, screenshot
from tests.browser.test_console import _sign_in, _staff
from tests.stats.seed import seed

HOSTILE = '<img src=x onerror="window.__xss = 1">Host A'
CHARTS = 6


@pytest.mark.slow
def test_the_statistics_page_draws_its_charts(live_app: LiveApp, page: Page) -> None:
    with live_app.database.transaction() as session:
        host = factories.org(session, HOSTILE, OrgKind.HOSTING_PROVIDER, "DE")
        seed(session, {"Host A": host})
    _staff(live_app, "b-stats", Role.SUPERVISOR)
    _sign_in(page, live_app, "b-stats")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"error: {error}"))

    response = page.goto(live_app.url("/console/stats?period=month&date=2026-11"))
    assert response is not None
    assert response.status == 200
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(CHARTS)
    for n in range(CHARTS):
        box = charts.nth(n).bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 50
    # The bars are filled as drawn: presentation attributes apply where style would not.
    fill = page.evaluate(
        'getComputedStyle(document.querySelector(\'#top-providers svg path[fill="#d55e00"],'
        ' #top-providers svg path[fill="#D55E00"]\')).fill'
    )
    assert fill == "rgb(213, 94, 0)"

    table = page.locator("#top-providers details table")
    expect(table).to_be_hidden()
    page.locator("#top-providers summary").click()
    expect(table).to_be_visible()
    expect(table.get_by_role("rowheader").first).to_have_text(HOSTILE)
    assert page.evaluate("window.__xss") is None
    screenshot(page, "supervisor-stats")
    assert [m for m in messages if m.startswith("error") and "favicon" not in m] == []
