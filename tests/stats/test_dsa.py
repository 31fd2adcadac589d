"""DSA statements of reasons: a provider's removals on our notices, in the database's format."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.db.session import Database
from takedown.orgs.models import Organization, OrgKind
from takedown.stats import dsa
from tests import factories
from tests.stats.seed import SPECS, seed


def _seeded(database: Database) -> tuple[str, str]:
    """The seed with API keys for Host A and Host B; returns both clear keys."""
    keys = (
        factories.api_key(database, "Host A", OrgKind.HOSTING_PROVIDER),
        factories.api_key(database, "Host B", OrgKind.HOSTING_PROVIDER),
    )
    with database.transaction() as session:
        hosts = {
            o.name: o
            for o in session.scalars(
                select(Organization).where(Organization.name.in_(("Host A", "Host B")))
            )
        }
        seed(session, hosts)
    return keys


def _statements(client: TestClient, key: str, start: str, end: str) -> list[dict[str, object]]:
    answer = client.get(
        "/api/v1/stats/providers/me/statements",
        params={"from": start, "to": end},
        headers=factories.bearer(key),
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["statements"]
    return found


def test_a_provider_gets_one_valid_statement_per_removal_of_its_own(
    client: TestClient, database: Database
) -> None:
    host_a, host_b = _seeded(database)
    mine = _statements(client, host_a, "2026-01-01", "2026-12-31")
    # Host A's removals: a (by an analyst), b (by hash match) and f (removed on 1 November).
    removed = [s for s in SPECS if s.host == "Host A" and s.removed]
    assert len(mine) == len(removed) == 3
    for statement in mine:
        for name in dsa.REQUIRED:
            assert statement.get(name) not in (None, "", []), name
        assert set(statement["decision_visibility"]) <= dsa.DECISION_VISIBILITIES  # type: ignore[arg-type]
        assert statement["decision_ground"] in dsa.DECISION_GROUNDS
        assert statement["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
        assert set(statement["content_type"]) <= dsa.CONTENT_TYPES  # type: ignore[arg-type]
        assert statement["source_type"] in dsa.SOURCE_TYPES
        assert statement["automated_detection"] in dsa.AUTOMATED_DETECTIONS
        assert statement["automated_decision"] in dsa.AUTOMATED_DECISIONS
        assert set(statement["territorial_scope"]) <= set(dsa.EEA)  # type: ignore[arg-type]
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,500}", str(statement["puid"]))
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(statement["application_date"]))
        assert str(statement["application_date"]) >= str(statement["content_date"])
        # No URL or host in anything filed publicly.
        assert "example.test" not in str(statement)
    assert len({s["puid"] for s in mine}) == 3
    assert sorted(s["automated_detection"] for s in mine) == ["No", "No", "Yes"]

    # Host B's one removal (c, on 4 December) is its own, never Host A's.
    theirs = _statements(client, host_b, "2026-12-01", "2026-12-31")
    assert len(theirs) == 1
    assert not {s["puid"] for s in theirs} & {s["puid"] for s in mine}
    # The period bounds the removal date: nothing of Host A's came down in December.
    assert _statements(client, host_a, "2026-12-01", "2026-12-31") == []


def test_staff_and_bad_periods_are_refused(client: TestClient, database: Database) -> None:
    host_a, _ = _seeded(database)
    answer = client.get(
        "/api/v1/stats/providers/me/statements",
        params={"from": "2026-12-01", "to": "2026-11-01"},
        headers=factories.bearer(host_a),
    )
    assert answer.status_code == 422
    assert client.get(
        "/api/v1/stats/providers/me/statements", params={"from": "2026-11-01", "to": "2026-11-30"}
    ).status_code in (401, 403)
