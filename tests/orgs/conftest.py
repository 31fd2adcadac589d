"""Fixtures for the directory tests (helpers live in ``support.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .support import with_orgs_api


@pytest.fixture
def orgs_client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app with the directory API."""
    with TestClient(with_orgs_api(app), base_url="http://testserver") as client:
        yield client
