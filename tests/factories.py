"""Small factories for test data, one function per thing."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.auth.principal import cli_principal
from takedown.db.session import Database
from takedown.orgs import service as orgs
from takedown.orgs.models import Organization, OrgKind

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ACTOR = cli_principal("tests")
PASSWORD = "correct horse battery staple"


def org(
    session: Session,
    name: str = "Flagger",
    kind: OrgKind = OrgKind.TRUSTED_FLAGGER,
    country: str = "NL",
) -> Organization:
    return orgs.add_org(session, ACTOR, name=name, kind=kind, country=country, now=NOW)


def api_key(
    database: Database,
    name: str = "Flagger",
    kind: OrgKind = OrgKind.TRUSTED_FLAGGER,
    scopes: tuple[str, ...] = ("reports:write", "cases:read"),
) -> str:
    """A committed organization with a key; returns the clear key."""
    with database.transaction() as session:
        owner = org(session, name, kind)
        key, _ = orgs.create_key(session, ACTOR, owner, scopes=scopes, now=NOW)
    return key


def user(database: Database, username: str = "ana", role: Role = Role.ANALYST) -> User:
    with database.transaction() as session:
        return auth.create_user(
            session, ACTOR, username=username, password=PASSWORD, role=role, now=NOW
        )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def login(client: TestClient, database: Database, role: Role) -> dict[str, str]:
    """Sign in a new user of ``role``; returns the headers carrying its CSRF token."""
    signed_in = user(database, f"u-{role.value}", role)
    response = client.post(
        "/api/v1/auth/login", json={"username": signed_in.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}
