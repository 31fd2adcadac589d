"""A real browser (Debian's Chromium, driven by Playwright) against the app served for real.

The app runs under uvicorn on a free port of 127.0.0.1 in a thread, on the test database with
committed transactions (the browser's requests are other connections). Screenshots of the
pages go to ``artifacts/screenshots`` (or ``TAKEDOWN_ARTIFACTS``), kept as CI artifacts.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from takedown.app import create_app
from takedown.config import Settings
from takedown.db.session import Database
from tests.system import tool

ARTIFACTS = Path(os.environ.get("TAKEDOWN_ARTIFACTS", "artifacts")) / "screenshots"
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    settings: Settings
    database: Database

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def live_app(settings: Settings, committed: Database) -> Iterator[LiveApp]:
    """The app served over real HTTP until the test ends."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, database=committed), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", settings, committed)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    """Debian's Chromium: Playwright's own browser download is never used."""
    executable = tool("chromium", "chromium")
    # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
    launched = playwright_session.chromium.launch(
        executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
