"""Cookies in production: Secure and ``__Host-`` prefixed (all of them); bare over http in
development, where the browser would drop Secure cookies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from takedown.app import create_app
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from tests.console.support import csrf_of
from tests.factories import NOW, PASSWORD, enrol_totp, user

PREFIX = "__Host-"


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def _assert_host_only(cookies: list[str]) -> None:
    """What browsers require of a ``__Host-`` cookie, deletions included."""
    assert cookies
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert cookie.startswith(PREFIX), cookie
        assert "secure" in attributes, cookie
        assert "path=/" in attributes, cookie
        assert not any(a.startswith("domain=") for a in attributes), cookie
        assert "httponly" in attributes, cookie
        assert "samesite=strict" in attributes, cookie


@pytest.fixture
def production(settings: Settings) -> Settings:
    # model_copy skips the validators (database URL, secret key): they are for deployments.
    made = settings.model_copy(update={"env": "production"})
    assert made.secure_cookies
    return made


@pytest.fixture
def https_client(
    production: Settings, database: Database, clock: FrozenClock
) -> Iterator[TestClient]:
    app = create_app(production, database=database, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_console_sign_in_and_out_use_host_only_secure_cookies(
    https_client: TestClient, database: Database, production: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", production)
    seen: list[str] = []

    form = https_client.get("/console/login")
    seen += _set_cookies(form)
    password = https_client.post(
        "/console/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert password.status_code == 303, password.text
    seen += _set_cookies(password)
    code_form = https_client.get("/console/login/totp")
    assert code_form.status_code == 200  # the pending cookie was read under its prefixed name
    seen += _set_cookies(code_form)
    signed_in = https_client.post(
        "/console/login/totp",
        data={"code": pyotp.TOTP(secret).at(NOW), "csrf_token": csrf_of(code_form.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    seen += _set_cookies(signed_in)
    _assert_host_only(seen)
    names = {cookie.split("=", 1)[0] for cookie in seen}
    assert names == {
        f"{PREFIX}takedown_login_form",
        f"{PREFIX}takedown_login_pending",
        f"{PREFIX}takedown_session",
    }
    assert https_client.cookies.get(f"{PREFIX}takedown_session")

    queue = https_client.get("/console/queue", follow_redirects=False)
    assert queue.status_code == 200  # the session is read under its prefixed name
    out = https_client.post(
        "/console/logout", data={"csrf_token": csrf_of(queue.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    _assert_host_only(_set_cookies(out))
    assert https_client.cookies.get(f"{PREFIX}takedown_session") is None


def test_api_sign_in_and_out_use_a_host_only_secure_cookie(
    https_client: TestClient, database: Database, production: Settings
) -> None:
    user(database, "ana")
    secret = enrol_totp(database, "ana", production)
    response = https_client.post(
        "/api/v1/auth/login",
        json={"username": "ana", "password": PASSWORD, "totp": pyotp.TOTP(secret).at(NOW)},
    )
    assert response.status_code == 200, response.text
    _assert_host_only(_set_cookies(response))
    assert https_client.get("/api/v1/auth/me").json()["kind"] == "user"

    out = https_client.post(
        "/api/v1/auth/logout", headers={"X-CSRF-Token": response.json()["csrf_token"]}
    )
    assert out.status_code == 204
    _assert_host_only(_set_cookies(out))
    assert https_client.get("/api/v1/auth/me").json()["kind"] == "public"


def test_a_bare_session_cookie_counts_for_nothing_in_production(
    https_client: TestClient, database: Database, production: Settings
) -> None:
    # A cookie without the prefix may have been planted by a sibling domain or over http.
    user(database, "ana")
    secret = enrol_totp(database, "ana", production)
    response = https_client.post(
        "/api/v1/auth/login",
        json={"username": "ana", "password": PASSWORD, "totp": pyotp.TOTP(secret).at(NOW)},
    )
    assert response.status_code == 200, response.text
    token = https_client.cookies.get(f"{PREFIX}takedown_session")
    assert token
    https_client.cookies.clear()
    https_client.cookies.set("takedown_session", token)
    assert https_client.get("/api/v1/auth/me").json()["kind"] == "public"


def test_development_cookies_work_over_plain_http(
    client: TestClient, database: Database, settings: Settings
) -> None:
    assert not settings.secure_cookies
    user(database, "ana")
    secret = enrol_totp(database, "ana", settings)
    response = client.post(
        "/api/v1/auth/login",
        json={"username": "ana", "password": PASSWORD, "totp": pyotp.TOTP(secret).at(NOW)},
    )
    assert response.status_code == 200, response.text
    (cookie,) = _set_cookies(response)
    assert cookie.startswith("takedown_session=")
    assert "secure" not in [part.strip().lower() for part in cookie.split(";")]
    assert client.get("/api/v1/auth/me").json()["kind"] == "user"
