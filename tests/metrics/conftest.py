"""Fixtures of the metrics tests: an app with metrics on, recording in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from takedown import metrics
from takedown.app import create_app
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database

TOKEN = "metrics-token-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    yield settings.model_copy(update={"metrics_token": TOKEN, "metrics_dir": tmp_path / "metrics"})
    # Metrics are per process: the next test starts with them off.
    metrics.reset()


@pytest.fixture
def metrics_app(metrics_settings: Settings, database: Database, clock: FrozenClock) -> FastAPI:
    return create_app(metrics_settings, database=database, clock=clock)


@pytest.fixture
def metrics_client(metrics_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(metrics_app, base_url="http://testserver") as client:
        yield client


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a text exposition, None when it is absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None
