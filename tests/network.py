"""A tripwire that keeps a test's TCP connections on loopback.

A safety net, not the mechanism under test: if an address guard had a hole, a refused address
from a test table (10.0.0.1, 8.8.8.8 ...) would otherwise be contacted for real. Patching the
socket module is the one place where a fake cannot stand in, because httpcore and smtplib call
it directly. Test modules opt in with an autouse fixture that returns ``loopback_only(...)``.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every TCP connection opened; a non-loopback one fails before it leaves.

    Returns the list the addresses connected to are appended to, so a test can check that a
    refused address was never even tried.
    """
    attempts: list[str] = []
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"the test tried to connect to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempts
