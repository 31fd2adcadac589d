"""Bad input gets a 4xx problem document, never a 500: control characters, huge integers,
JSON nested too deeply. Each case here was a 500 on SQLite or PostgreSQL (or both)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from takedown.auth.models import Role
from takedown.db.session import Database
from tests import factories

PROBLEM = "application/problem+json"
TOO_BIG = str(2**63)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    # A server exception would be re-raised by the test client; here it must be a response.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def staff(app: FastAPI, database: Database) -> Iterator[TestClient]:
    """An administrator's session, CSRF header included."""
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers.update(factories.login(client, database, Role.ADMIN))
        yield client


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem document of ``response``, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (f"/api/v1/cases?offset={TOO_BIG}", "query.offset"),
        (f"/api/v1/jobs?offset={TOO_BIG}", "query.offset"),
        (f"/api/v1/lists/urls/entries?offset={TOO_BIG}", "query.offset"),
        (f"/api/v1/orgs?offset={TOO_BIG}", "query.offset"),
        (f"/api/v1/appeals?offset={TOO_BIG}", "query.offset"),
        (f"/api/v1/banks/b/entries?after={TOO_BIG}", "query.after"),
        (f"/api/v1/banks/b/entries/{TOO_BIG}", "path.entry_id"),
        (f"/api/v1/lists/urls/versions/{TOO_BIG}", "path.number"),
        (f"/api/v1/lists/urls/diff?since={TOO_BIG}", "query.since"),
    ],
)
def test_integers_beyond_64_bits_are_a_field_error(staff: TestClient, url: str, name: str) -> None:
    body = problem(staff.get(url), 422)
    assert str(body["detail"]).startswith(f"{name}: ")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "a\u0000b"),
        ("description", "bell \u0007"),
        ("external_id", "a\u0000b"),
        ("external_id", "two\nlines"),
        ("url", "http://x.example/1\u0000"),
        ("url", "http://a.example/x\ny"),
    ],
)
def test_control_characters_in_a_report_are_refused(
    anonymous: TestClient, database: Database, field: str, value: str
) -> None:
    report = {"url": "http://x.example/1", field: value}
    body = problem(anonymous.post("/api/v1/reports", json=report), 422)
    assert str(body["detail"]).startswith(f"body.{field}: contains the control character U+00")


def test_free_text_keeps_its_lines_and_tabs(anonymous: TestClient) -> None:
    report = {"url": "http://x.example/1", "description": "first\r\nsecond\tcolumn"}
    assert anonymous.post("/api/v1/reports", json=report).status_code == 201


def test_a_bulk_item_with_a_control_character_fails_alone(staff: TestClient) -> None:
    items = [
        {"url": "http://x.example/1", "description": "a\u0000b"},
        {"url": "http://y.example/2"},
    ]
    response = staff.post("/api/v1/reports/bulk", json={"reports": items})
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["status"] == "rejected"
    assert "description" in first["reason"]
    assert "U+0000" in first["reason"]
    assert second["status"] == "accepted"


def test_a_control_character_in_the_login_name_is_refused(anonymous: TestClient) -> None:
    login = {"username": "a\u0000b", "password": "x", "totp": "123456"}
    body = problem(anonymous.post("/api/v1/auth/login", json=login), 422)
    assert str(body["detail"]).startswith("body.username: ")


def test_a_control_character_in_the_public_form_is_refused(anonymous: TestClient) -> None:
    form = {"url": "http://x.example/1", "description": "a\u0000b"}
    body = problem(anonymous.post("/report", data=form), 422)
    assert str(body["detail"]).startswith("form.description: ")


def test_a_control_character_in_the_query_string_is_refused(staff: TestClient) -> None:
    signals = {"signals": {"md5": "0123456789abcdef0123456789abcdef"}}
    body = problem(staff.post("/api/v1/match?bank=a%00", json=signals), 422)
    assert str(body["detail"]).startswith("query.bank: ")


def test_a_control_character_in_the_path_is_refused(staff: TestClient) -> None:
    body = problem(staff.get("/api/v1/banks/a%00b"), 422)
    assert str(body["detail"]).startswith("path: ")


@pytest.mark.parametrize("url", ["/api/v1/match", "/api/v1/reports"])
def test_json_nested_too_deeply_is_a_bad_request(staff: TestClient, url: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = staff.post(url, content=deep, headers={"content-type": "application/json"})
    problem(response, 400)


def test_a_control_character_beside_an_uploaded_file_is_refused(staff: TestClient) -> None:
    # Multipart bodies are streamed by matching/uploads.py, not read by the guard.
    assert staff.post("/api/v1/banks", json={"name": "known"}).status_code == 201
    image = Image.new("RGB", (64, 64), (200, 120, 40))
    data = io.BytesIO()
    image.save(data, "PNG")
    response = staff.post(
        "/api/v1/banks/known/entries/upload",
        data={"note": "a\u0000b"},
        files={"file": ("pattern.png", data.getvalue(), "image/png")},
    )
    body = problem(response, 422)
    assert str(body["detail"]).startswith("form.note: ")
