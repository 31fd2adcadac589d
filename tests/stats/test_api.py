"""The statistics API: who may read which figures, and what a bad period gets."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.auth.models import Role
from takedown.db.session import Database
from takedown.orgs.models import Organization, OrgKind
from tests import factories
from tests.stats.seed import seed


def _seeded(database: Database) -> str:
    """The seed, with Host A's API key (cases:read); returns the clear key."""
    key = factories.api_key(database, "Host A", OrgKind.HOSTING_PROVIDER)
    with database.transaction() as session:
        host_a = session.scalars(select(Organization).where(Organization.name == "Host A")).one()
        seed(session, {"Host A": host_a})
    return key


def test_supervisors_read_the_figures(client: TestClient, database: Database) -> None:
    _seeded(database)
    factories.login(client, database, Role.SUPERVISOR)
    answer = client.get("/api/v1/stats", params={"period": "month", "date": "2026-11"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"]["label"] == "2026-11"
    assert body["counts"]["cases_opened"] == 5
    assert body["to_removal"]["median_seconds"] == 50 * 3600
    assert body["to_removal"]["p90_seconds"] is None
    police = client.get(
        "/api/v1/stats", params={"period": "month", "date": "2026-11", "source": "police"}
    )
    assert police.json()["counts"]["cases_opened"] == 1


def test_bad_periods_are_422(client: TestClient, database: Database) -> None:
    factories.login(client, database, Role.SUPERVISOR)
    for params in (
        {"period": "month", "date": "2026-13"},
        {"period": "fortnight"},
        {"period": "week", "date": "2026-W60"},
        {"period": "custom", "from": "2026-11-05"},
        {"period": "custom", "from": "2026-11-05", "to": "2026-11-01"},
        {"period": "month", "outcome": "maybe"},
    ):
        answer = client.get("/api/v1/stats", params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_analysts_may_not(client: TestClient, database: Database) -> None:
    factories.login(client, database, Role.ANALYST)
    assert client.get("/api/v1/stats").status_code == 403
    assert client.get("/api/v1/stats/providers").status_code == 403


def test_scorecards_for_staff_and_a_provider_its_own(
    client: TestClient, database: Database
) -> None:
    key = _seeded(database)
    params = {"period": "custom", "from": "2026-11-01", "to": "2026-11-30"}
    mine = client.get("/api/v1/stats/providers/me", params=params, headers=factories.bearer(key))
    assert mine.status_code == 200, mine.text
    assert [p["organization"] for p in mine.json()["providers"]] == ["Host A"]
    assert mine.json()["providers"][0]["renoticed"] == 1
    # A key may not read every provider's scorecard.
    assert client.get("/api/v1/stats/providers", headers=factories.bearer(key)).status_code == 403
    factories.login(client, database, Role.SUPERVISOR)
    every = client.get("/api/v1/stats/providers", params=params)
    assert {p["organization"] for p in every.json()["providers"]} == {"Host A", "Host B"}
    # Staff have no organization of their own.
    assert client.get("/api/v1/stats/providers/me").status_code == 403


def test_documented_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/stats" in paths
    assert "/api/v1/stats/providers/me" in paths
