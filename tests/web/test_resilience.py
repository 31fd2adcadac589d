"""While the database is away the API answers 503 at once; beyond capacity it sheds load."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from takedown.app import create_app
from takedown.config import Settings
from takedown.web.admission import Gate

T = TypeVar("T")


def _closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_database_that_refuses_connections_gives_503_not_500(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://takedown@127.0.0.1:{_closed_port()}/takedown"
    settings = Settings(data_dir=tmp_path, database_url=url, db_connect_timeout_seconds=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        report = client.post(
            "/api/v1/reports",
            json={"url": "http://a.example/1", "content_kind": "image"},
        )
        assert report.status_code == 503
        assert report.headers["content-type"] == "application/problem+json"
        assert report.headers["retry-after"] == "2"
        assert "database" in report.json()["detail"]
        # The security headers are there too, and liveness does not depend on the database.
        assert report.headers["x-content-type-options"] == "nosniff"
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"


def _in_own_loop(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario`` in a new event loop on its own thread: another test in this process
    (the browser tests) may leave a loop running on the main thread."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(scenario())))
    thread.start()
    thread.join(30)
    return results[0]


def test_the_gate_admits_its_slots_and_refuses_the_rest_after_the_wait() -> None:
    async def scenario() -> list[bool]:
        gate = Gate(2)
        assert await gate.acquire(0)
        assert await gate.acquire(0)
        refused_at_once = await gate.acquire(0)
        refused_after_wait = await gate.acquire(0.05)
        waiter = asyncio.ensure_future(gate.acquire(5))
        await asyncio.sleep(0.01)
        gate.release()  # handed straight to the waiter, in arrival order
        admitted = await waiter
        in_use = gate.in_use
        gate.release()
        gate.release()
        return [refused_at_once, refused_after_wait, admitted, in_use == 2, gate.in_use == 0]

    assert _in_own_loop(scenario) == [False, False, True, True, True]


def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def scenario() -> int:
        gate = Gate(1)
        assert await gate.acquire(0)
        waiter = asyncio.ensure_future(gate.acquire(5))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.release()
        return gate.in_use

    assert _in_own_loop(scenario) == 0


def test_requests_beyond_capacity_are_shed_with_503_and_retry_after(
    settings: Settings, tmp_path: Path
) -> None:
    """One slot, held by a request that waits: the next one is refused after the wait."""
    tight = settings.model_copy(
        update={"max_concurrent_requests": 1, "admission_wait_seconds": 0.2}
    )
    app = create_app(tight)
    entered = threading.Event()
    release = threading.Event()

    @app.get("/hold")
    def hold() -> dict[str, str]:
        entered.set()
        release.wait(10)
        return {"held": "yes"}

    with TestClient(app) as client:
        holder = threading.Thread(target=lambda: client.get("/hold"))
        holder.start()
        try:
            assert entered.wait(10)
            # Refused while the holder still holds its slot (it holds it for 10 s).
            shed = client.get("/api/v1/cases")
            assert not release.is_set()
            assert shed.status_code == 503
            assert shed.headers["retry-after"] == "1"
            assert shed.headers["content-type"] == "application/problem+json"
            assert client.get("/healthz").status_code == 200, "liveness needs no slot"
        finally:
            release.set()
            holder.join(10)
        assert client.get("/api/v1/cases").status_code == 401, "the slot came back"
