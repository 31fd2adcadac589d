"""The statistics page: supervisors only, a period picker, each chart with its table, and
hostile organization names that stay text in the SVG and the tables."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.db.session import Database
from takedown.orgs.models import OrgKind
from takedown.stats import charts
from tests import factories
from tests.console.support import sign_in
from tests.stats.seed import seed

HOSTILE = '<script>window.__x=1</script>"><img src=x onerror=alert(1)> $\\frac{a}{b}$ & Co'
KEYS = (
    "removal-distribution",
    "removal-trend",
    "removal-shares",
    "cases-by-outcome",
    "cases-by-country",
    "top-providers",
)


def _seeded(database: Database) -> None:
    with database.transaction() as session:
        host = factories.org(session, HOSTILE, OrgKind.HOSTING_PROVIDER, "DE")
        seed(session, {"Host A": host})


def _section(html: str, key: str) -> str:
    found = re.search(rf'<section aria-labelledby="{key}-h" id="{key}">(.*?)</section>', html, re.S)
    assert found is not None, f"no {key} chart"
    return found.group(1)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.POLICE])
def test_only_supervisors_open_the_page(client: TestClient, database: Database, role: Role) -> None:
    sign_in(client, database, role)
    answer = client.get("/console/stats")
    assert answer.status_code == 403
    assert "<svg" not in answer.text


def test_signed_out_goes_to_sign_in(client: TestClient) -> None:
    answer = client.get("/console/stats", follow_redirects=False)
    assert answer.status_code in (302, 303)
    assert "/console/login" in answer.headers["location"]


def test_each_chart_is_there_with_its_table(client: TestClient, database: Database) -> None:
    _seeded(database)
    sign_in(client, database, Role.SUPERVISOR)
    answer = client.get("/console/stats", params={"period": "month", "date": "2026-11"})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "Month 2026-11" in html
    for key in KEYS:
        part = _section(html, key)
        assert re.search(r'<svg [^>]*role="img"', part)
        assert "<title id=" in part
        assert "<desc id=" in part
        assert "<details>" in part
        assert "<table>" in part
        # No CSS anywhere in the drawing: the console's CSP refuses style in inline SVG.
        assert "style" not in part.split("<figcaption>")[0]
    # The seeded month: a removed in 10 h, b in 50 h, c still up on the 30th.
    rows = _section(html, "removal-distribution")
    assert re.search(r'<th scope="row">≤ 24 h</th><td>1</td>', rows)
    assert re.search(r'<th scope="row">1-3 days</th><td>1</td>', rows)
    assert re.search(r'<th scope="row">not yet removed</th><td>1</td>', rows)
    countries = _section(html, "cases-by-country")
    assert '<th scope="row">NL</th><td>3</td>' in countries
    assert '<th scope="row">DE</th><td>2</td>' in countries
    shares = _section(html, "removal-shares")
    assert re.search(r'<th scope="row">2026-W45</th>', shares)


def test_hostile_names_are_text(client: TestClient, database: Database) -> None:
    _seeded(database)
    sign_in(client, database, Role.SUPERVISOR)
    html = client.get("/console/stats", params={"period": "month", "date": "2026-11"}).text
    providers = _section(html, "top-providers")
    assert "<script>" not in html.split("</head>")[1].replace("<script src=", "")
    assert "onerror=alert" not in providers.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;window.__x=1&lt;/script&gt;" in providers  # in the desc and table
    assert '<th scope="row">&lt;script&gt;' in providers


def test_the_period_picker(client: TestClient, database: Database) -> None:
    _seeded(database)
    sign_in(client, database, Role.SUPERVISOR)
    year = client.get("/console/stats", params={"period": "year", "date": "2026"})
    assert year.status_code == 200
    assert "Year 2026" in year.text
    assert '<th scope="row">2026-11</th>' in _section(year.text, "removal-trend")
    custom = client.get(
        "/console/stats", params={"period": "custom", "from": "2026-11-01", "to": "2026-11-05"}
    )
    assert custom.status_code == 200
    assert "Custom 2026-11-01..2026-11-05" in custom.text
    assert '<th scope="row">2026-11-02</th>' in _section(custom.text, "removal-trend")
    wrong = client.get("/console/stats", params={"period": "month", "date": "2026-13"})
    assert wrong.status_code == 422
    assert 'id="period-error"' in wrong.text
    assert "Month 2026-11" in wrong.text  # the current month (the test clock) instead
    day = client.get("/console/stats", params={"period": "day"})
    assert day.status_code == 422


def test_an_empty_period_says_so(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.SUPERVISOR)
    html = client.get("/console/stats", params={"period": "month", "date": "2020-01"}).text
    assert "Histogram of 0 confirmed cases" in _section(html, "removal-distribution")
    for key in ("cases-by-country", "top-providers"):
        assert "No cases in this period." in _section(html, key)


def test_charts_are_pure_and_prefix_their_ids() -> None:
    first = charts.cases_by_country([("DE", 2)])
    second = charts.cases_by_country([("DE", 2)])
    ids = set(re.findall(r' id="([^"]+)"', first.svg))
    assert ids
    assert not ids & set(re.findall(r' id="([^"]+)"', second.svg))
    assert first.rows == second.rows == [["DE", "2"]]
