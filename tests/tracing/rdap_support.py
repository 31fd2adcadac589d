"""The local RDAP server (:mod:`takedown.sandbox.rdap`) as pytest fixtures, and a test client.

See the sandbox module for what the server answers out of the box (and the addresses to ask
for each answer). Use the fixtures by importing them into a test module or conftest:
``from tests.tracing.rdap_support import rdap_client, rdap_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from takedown.sandbox.rdap import RdapServer
from takedown.tracing.rdap import RdapClient

__all__ = ["make_client", "rdap_client", "rdap_server"]


def make_client(base_url: str, **options: Any) -> RdapClient:
    """An RdapClient for tests: short timeout, a rate that never limits, a one-day cache."""
    settings: dict[str, Any] = {
        "timeout": 2.0,
        "rate_per_second": 1000.0,
        "cache_ttl": timedelta(days=1),
        "user_agent": "TakedownTest/1.0 (+https://hotline.example/contact)",
    }
    settings.update(options)
    return RdapClient(base_url=base_url, **settings)


@pytest.fixture
def rdap_server() -> Iterator[RdapServer]:
    """A running local RDAP server; ``rdap_server.base_url`` is what a client is given."""
    with RdapServer() as server:
        yield server


@pytest.fixture
def rdap_client(rdap_server: RdapServer) -> Iterator[RdapClient]:
    """An RdapClient asking ``rdap_server`` directly (see :func:`make_client`)."""
    with make_client(rdap_server.base_url) as client:
        yield client
