"""State changes by cookie must come from our own pages: ``Origin`` and ``Sec-Fetch-Site``.

Every request here carries the right CSRF token, so a refusal is the origin check's doing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence

import pytest
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from takedown.auth.models import Role
from takedown.console.routes import ROUTERS
from takedown.db.session import Database
from tests.console.support import csrf_of, sign_in
from tests.factories import PASSWORD, credentials, user

# The test client's own origin is http://testserver; the default public base URL's origin is
# http://127.0.0.1:8000.
FOREIGN = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://evil.testserver"},
    {"Origin": "http://testserver:8080"},
    {"Origin": "https://testserver"},
    {"Origin": "not an origin"},
    {"Sec-Fetch-Site": "cross-site"},
    # A sibling subdomain shares the site (and SameSite cookies) but may be somebody else's.
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
]
OWN = [
    {},
    {"Origin": "http://testserver"},
    {"Origin": "http://testserver:80", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://127.0.0.1:8000"},  # TAKEDOWN_PUBLIC_BASE_URL, as behind a TLS proxy
    # Browsers send "null" for our own forms: every page has Referrer-Policy: no-referrer.
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},
]


@pytest.mark.parametrize("headers", FOREIGN)
def test_the_api_refuses_cookie_state_changes_from_another_site(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf} | headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "another site" in response.json()["detail"]
    assert client.get("/api/v1/auth/me").json()["kind"] == "user"  # still signed in


@pytest.mark.parametrize("headers", OWN)
def test_the_api_accepts_cookie_state_changes_from_our_pages(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf} | headers)
    assert response.status_code == 204, response.text


def test_api_keys_are_not_browsers(client: TestClient, database: Database) -> None:
    # Reads are never refused, whatever the headers say.
    sign_in(client, database, Role.ANALYST)
    response = client.get("/api/v1/auth/me", headers=FOREIGN[0] | FOREIGN[5])
    assert response.json()["kind"] == "user"


def test_the_api_sign_in_refuses_another_site(client: TestClient, database: Database) -> None:
    user(database, "ana")
    body = credentials(client, database, "ana")
    response = client.post(
        "/api/v1/auth/login", json=body, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert "another site" in response.json()["detail"]
    assert client.post("/api/v1/auth/login", json=body).status_code == 200


def _routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router as one route holding the router (no prefixes here).
        elif isinstance(getattr(route, "original_router", None), APIRouter):
            yield from _routes(route.original_router.routes)  # type: ignore[attr-defined]


def _console_posts() -> list[str]:
    """Every console POST but the sign-in steps (tested below): the console's routers."""
    return sorted(
        route.path
        for route in _routes([r for router in ROUTERS for r in router.routes])
        if "POST" in (route.methods or ()) and not route.path.startswith("/console/login")
    )


@pytest.mark.parametrize("headers", [FOREIGN[0], FOREIGN[5], FOREIGN[6]])
def test_every_console_post_refuses_another_site(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    posts = _console_posts()
    assert len(posts) > 20
    accepted = {}
    for path in posts:
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        response = client.post(
            url, data={"csrf_token": csrf}, headers=headers, follow_redirects=False
        )
        if response.status_code != 403 or "another site" not in response.text:
            accepted[path] = response.status_code
    assert accepted == {}
    assert client.get("/api/v1/auth/me").json()["kind"] == "user"  # logout was refused too


def test_a_console_post_from_our_page_passes(client: TestClient, database: Database) -> None:
    _, csrf = sign_in(client, database, Role.ADMIN)
    response = client.post(
        "/console/logout",
        data={"csrf_token": csrf},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303


@pytest.mark.parametrize("headers", FOREIGN)
def test_the_console_sign_in_refuses_another_site(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    user(database, "ana")
    form = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "another site" in response.text
    assert "takedown_login_pending" not in response.headers.get("set-cookie", "")


def test_the_console_code_step_refuses_another_site(client: TestClient, database: Database) -> None:
    user(database, "ana")
    form = client.get("/console/login")
    client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    code_form = client.get("/console/login/totp")
    response = client.post(
        "/console/login/totp",
        data={"code": "000000", "csrf_token": csrf_of(code_form.text)},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "another site" in response.text
