"""The test app with the police API, whether or not the app factory registers it yet."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.police.api import router
from takedown.web.app import create_app


@pytest.fixture
def app(settings: Settings, database: Database, clock: FrozenClock) -> FastAPI:
    app = create_app(settings, database=database, clock=clock)
    registered = {r.path for r in app.routes if isinstance(r, APIRoute)}
    if "/api/v1/police/queue" not in registered:
        app.include_router(router)
    return app
