"""Small factories for test data, one function per thing."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth import service as auth
from takedown.auth import totp
from takedown.auth.models import Role, User
from takedown.auth.principal import cli_principal
from takedown.config import Settings
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


def enrol_totp(database: Database, username: str, settings: Settings) -> str:
    """Enrol a TOTP seed for ``username`` as the console's enrolment would; returns it in clear."""
    secret = totp.new_secret()
    with database.transaction() as session:
        found = session.scalars(select(User).where(User.username == username)).one()
        found.totp_secret = totp.encrypt_secret(secret, settings)
        found.totp_enrolled_at = NOW
        found.totp_last_step = None
    return secret


def credentials(client: TestClient, database: Database, username: str) -> dict[str, str]:
    """The API sign-in body of ``username``: password and a valid TOTP code (enrolled if need be).

    The code is the one for the app's clock (frozen in tests). The last used step is
    forgotten first: with a frozen clock every sign-in falls in the same step, which the
    reuse rule would otherwise refuse after the first.
    """
    state = client.app.state.takedown
    with database.transaction() as session:
        found = session.scalars(select(User).where(User.username == username)).one()
        enrolled = found.totp_secret is not None and found.totp_enrolled_at is not None
        secret = totp.decrypt_secret(found.totp_secret, state.settings) if enrolled else None
        found.totp_last_step = None
    if secret is None:
        secret = enrol_totp(database, username, state.settings)
    code = pyotp.TOTP(secret).at(state.clock.now())
    return {"username": username, "password": PASSWORD, "totp": code}


def login(client: TestClient, database: Database, role: Role) -> dict[str, str]:
    """Sign in a new user of ``role``; returns the headers carrying its CSRF token."""
    signed_in = user(database, f"u-{role.value}", role)
    response = client.post(
        "/api/v1/auth/login", json=credentials(client, database, signed_in.username)
    )
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}
