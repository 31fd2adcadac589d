"""DNS on loopback for tests: the sandbox's authoritative server and a lookup that asks it.

The fixtures are registered under the names ``dns_server`` and ``dns_lookup`` but defined as
``dns_server_fixture`` and ``dns_lookup_fixture``, so a module can import them without the
import and the test argument clashing (ruff F811)::

    from tests.tracing.dns_support import dns_lookup_fixture, dns_server_fixture  # noqa: F401

    def test_something(dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup) -> None:
        dns_server.set("www.example.test", "A", "192.0.2.1")
        assert dns_lookup.addresses("www.example.test").a == ["192.0.2.1"]

A conftest can import them the same way to offer them to a whole folder.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.tracing.dns import DnspythonLookup

# The zones the test server is authoritative for; names elsewhere are REFUSED.
ZONES = ("example.test", "cdn.test", "origin.asn.cymru.com", "origin6.asn.cymru.com")


def lookup_for(server: AuthoritativeDnsServer, *, timeout: float = 2.0) -> DnspythonLookup:
    """A lookup that asks only ``server``; never the machine's resolver."""
    return DnspythonLookup([server.host], port=server.port, timeout=timeout)


@pytest.fixture(name="dns_server")
def dns_server_fixture() -> Iterator[AuthoritativeDnsServer]:
    """A started authoritative server for :data:`ZONES` on 127.0.0.1, empty; stopped after."""
    with AuthoritativeDnsServer(ZONES) as server:
        yield server


@pytest.fixture(name="dns_lookup")
def dns_lookup_fixture(dns_server: AuthoritativeDnsServer) -> DnspythonLookup:
    """A :class:`DnspythonLookup` against ``dns_server`` with a 2 s timeout."""
    return lookup_for(dns_server)
