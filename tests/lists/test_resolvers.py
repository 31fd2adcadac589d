"""The RPZ files loaded by real resolvers: BIND 9 (named) and Unbound answer as intended.

For each variant a zone is written from one list version, a resolver is started on loopback
with it as its policy zone and with the sandbox's authoritative server as its only upstream,
and asked: the listed host and its subdomains are rewritten (CNAME to the splash host, the
splash addresses, or NXDOMAIN), while a host listed only with a path, and a host not listed,
get their real answers. The version also holds entries the zone must skip (an IP address, a
public suffix, a hostile name): had one of them reached the file, the resolver would refuse
the whole zone and nothing would be rewritten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from takedown.config import Settings
from takedown.lists.exports import render
from takedown.lists.models import ListName
from takedown.lists.rows import Row
from takedown.sandbox.dns import AuthoritativeDnsServer
from tests.lists import tools
from tests.system import tool

pytestmark = pytest.mark.slow

ZONE = "rpz.hotline.test"
SPLASH = "splash.hotline.test"
LISTED = "blocked.example.test"
PATH_ONLY = "pages.example.test"
UNLISTED = "ok.example.test"
# Asked until the resolver answers it: the resolver is up and its upstream reachable.
PROBE = "probe.example.test"
LISTED_AT = "2026-11-22T08:00:00+00:00"
ROWS: list[Row] = [
    (f"{LISTED}/", "", LISTED_AT),
    (f"{PATH_ONLY}/gallery/", "", LISTED_AT),
    (f"{PATH_ONLY}/page.html", "", LISTED_AT),
    ("198.51.100.7/", "", LISTED_AT),
    ("test/", "", LISTED_AT),
    ("ok.example.test CNAME ./", "", LISTED_AT),
]
REAL = {
    LISTED: "198.51.100.10",
    f"www.{LISTED}": "198.51.100.11",
    f"a.b.{LISTED}": "198.51.100.12",
    PATH_ONLY: "198.51.100.20",
    UNLISTED: "198.51.100.30",
    PROBE: "198.51.100.40",
    SPLASH: "192.0.2.80",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[AuthoritativeDnsServer]:
    """The real answers: what the resolvers return for names the policy does not rewrite."""
    with AuthoritativeDnsServer(["example.test", "hotline.test"]) as server:
        for name, address in REAL.items():
            server.set(name, "A", address)
        server.set(SPLASH, "AAAA", "2001:db8::80")
        yield server


@pytest.fixture
def rpz_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rpz_zone": ZONE, "splash_host": SPLASH})


def write_zone(folder: Path, settings: Settings, variant: str) -> Path:
    published = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    path = folder / f"{ZONE}.zone"
    path.write_bytes(render(ListName.URLS, 3, published, ROWS, variant, settings))
    return path


@pytest.fixture(params=["named", "unbound"])
def resolver(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: AuthoritativeDnsServer
) -> Iterator[Callable[[Path], int]]:
    """Start the resolver with a zone file; gives its port. Stopped when the test ends."""
    kind: str = request.param
    binary = tool(kind, "bind9" if kind == "named" else "unbound")
    with contextlib.ExitStack() as stack:

        def start(zone_file: Path) -> int:
            port = tools.free_port()
            folder = tmp_path / kind
            folder.mkdir()
            if kind == "named":
                config = tools.named_config(folder, port, upstream.port, ZONE, zone_file)
                command = [binary, "-g", "-4", "-n", "1", "-c", str(config)]
            else:
                config = tools.unbound_config(folder, port, upstream.port, ZONE, zone_file)
                command = [binary, "-d", "-c", str(config)]
            stack.enter_context(tools.running(command, folder, port, probe=PROBE))
            return port

        yield start


def answers(response: dns.message.Message) -> list[tuple[str, str, str]]:
    return [
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rdata.to_text())
        for rrset in response.answer
        for rdata in rrset
    ]


def assert_real(port: int) -> None:
    """Names the policy must leave alone get the upstream's answer."""
    for name in (UNLISTED, PATH_ONLY):
        response = tools.ask(port, name)
        assert response.rcode() == dns.rcode.NOERROR
        assert answers(response) == [(f"{name}.", "A", REAL[name])]


def test_cname_variant_sends_listed_hosts_to_the_splash_host(
    resolver: Callable[[Path], int], tmp_path: Path, rpz_settings: Settings
) -> None:
    port = resolver(write_zone(tmp_path, rpz_settings, "rpz"))

    for name in (LISTED, f"www.{LISTED}", f"a.b.{LISTED}"):
        response = tools.ask(port, name)
        assert response.rcode() == dns.rcode.NOERROR, name
        records = answers(response)
        assert (f"{name}.", "CNAME", f"{SPLASH}.") in records
        assert (f"{SPLASH}.", "A", "192.0.2.80") in records
        assert all(value != REAL[name] for _, _, value in records)
    assert_real(port)


def test_a_variant_answers_the_splash_addresses(
    resolver: Callable[[Path], int], tmp_path: Path, rpz_settings: Settings
) -> None:
    port = resolver(write_zone(tmp_path, rpz_settings, "rpz-a"))

    for name in (LISTED, f"www.{LISTED}", f"a.b.{LISTED}"):
        assert answers(tools.ask(port, name)) == [(f"{name}.", "A", "192.0.2.80")]
        assert answers(tools.ask(port, name, "AAAA")) == [(f"{name}.", "AAAA", "2001:db8::80")]
    assert_real(port)


def test_nxdomain_variant_makes_listed_hosts_disappear(
    resolver: Callable[[Path], int], tmp_path: Path, rpz_settings: Settings
) -> None:
    port = resolver(write_zone(tmp_path, rpz_settings, "rpz-nxdomain"))

    for name in (LISTED, f"www.{LISTED}", f"a.b.{LISTED}"):
        response = tools.ask(port, name)
        assert response.rcode() == dns.rcode.NXDOMAIN, name
        assert response.answer == []
    assert_real(port)
