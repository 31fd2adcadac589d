"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from takedown.app import create_app
from takedown.config import Settings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "current"


def test_readyz_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "code needs" in ready.json()["migrations"]


def test_unknown_routes_are_problems(client: TestClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/openapi.json").json()["info"]["title"] == "Takedown"
