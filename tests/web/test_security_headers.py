"""Security headers on every response: refusals, errors and the API docs included; HSTS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from takedown.app import create_app
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.web.middleware import SECURITY_HEADERS

HSTS = "max-age=31536000; includeSubDomains"
LIMIT = 1024


def _assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers.get(name.decode()) == value.decode(), name


@pytest.fixture
def small_client(
    settings: Settings, database: Database, clock: FrozenClock
) -> Iterator[TestClient]:
    app = create_app(
        settings.model_copy(update={"max_body_bytes": LIMIT}), database=database, clock=clock
    )
    with TestClient(app) as client:
        yield client


def test_the_body_limit_refusal_carries_the_headers(small_client: TestClient) -> None:
    response = small_client.post(
        "/api/v1/reports",
        content=b"x" * (LIMIT + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    _assert_secured(response)


def test_a_streamed_body_over_the_limit_carries_the_headers(small_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b"x" * (LIMIT // 2)

    response = small_client.post(
        "/api/v1/reports", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    _assert_secured(response)


def test_an_unexpected_error_carries_the_headers(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-boom")
    assert response.status_code == 500
    _assert_secured(response)


@pytest.mark.parametrize("path", ["/docs", "/report", "/healthz", "/openapi.json", "/nothing"])
def test_pages_carry_the_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    _assert_secured(response)


def test_the_docs_page_keeps_the_policy_and_runs_no_inline_script(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # Every script is a file from this origin; none is written into the page.
    assert response.text.count("<script") == response.text.count('<script src="/static/') == 2
    assert "cdn." not in response.text
    for asset in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "api-docs.js"):
        assert client.get(f"/static/{asset}").status_code == 200
    assert client.get("/redoc").status_code == 404


def test_no_hsts_in_development(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"env": "production"}, HSTS),
        ({"cookie_secure": True}, HSTS),
        ({"cookie_secure": True, "hsts_max_age": 600}, "max-age=600; includeSubDomains"),
        ({"cookie_secure": True, "hsts_max_age": 0}, None),
        ({"env": "production", "cookie_secure": False}, None),
    ],
)
def test_hsts_while_the_site_is_https_only(
    settings: Settings,
    database: Database,
    clock: FrozenClock,
    update: dict[str, object],
    expected: str | None,
) -> None:
    # model_copy skips the validators: production's checks are for real deployments.
    app = create_app(settings.model_copy(update=update), database=database, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        for response in (client.get("/healthz"), client.post("/api/v1/reports", json=[])):
            assert response.headers.get("strict-transport-security") == expected
            _assert_secured(response)
