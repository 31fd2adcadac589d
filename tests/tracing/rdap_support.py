"""A local RDAP server on 127.0.0.1 for tests, serving recorded answer shapes.

The answers in ``data/rdap/`` are modelled on real registry responses (RIPE, ARIN and APNIC
networks, a RIPE autnum, a Verisign .com domain, an RDAP 404 error) but use only documentation
addresses, documentation AS numbers and example domains. What the server knows out of the box:

============================  ==============================================================
query                          answer
============================  ==============================================================
``/ip/`` in 192.0.2.0/24       RIPE network, abuse entity nested in the registrant org
``/ip/`` in 198.51.100.0/24    ARIN network (``arin_originas0_originautnums``), nested abuse
``/ip/`` in 2001:db8::/32      APNIC network, abuse (IRT) entity at the top level
``/autnum/64500``              RIPE autnum with a top-level abuse entity
``/domain/example.com``        Verisign domain: registrar entity, IANA id, nested abuse
``/bootstrap/<query>``         302 to ``<base_url>/<query>``, as rdap.org redirects
``/ip/`` + a behaviour below   slow, 429, 500, 2 MiB, HTML, ... (see the constants)
anything else                  404 with an RDAP error body
============================  ==============================================================

Tests add or override answers with :meth:`RdapServer.answer`, and count what reached the server
with :meth:`RdapServer.count`. Use the fixtures by importing them into a test module or
conftest: ``from tests.tracing.rdap_support import rdap_client, rdap_server``.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from takedown.tracing.rdap import RdapClient

DATA = Path(__file__).resolve().parent / "data" / "rdap"
MAX_WAIT = 10.0  # no handler ever waits longer than this, whatever a test does
RDAP_JSON = "application/rdap+json"

RIPE_IP = "192.0.2.10"
ARIN_IP = "198.51.100.7"
APNIC_IP = "2001:db8::1"
ASN = 64500
DOMAIN = "example.com"
UNKNOWN_IP = "203.0.113.99"  # a 404
# Behaviours, all in 203.0.113.0/24:
SLOW_IP = "203.0.113.10"  # answers after ``RdapServer.slow_seconds`` (2 s by default)
HUGE_IP = "203.0.113.20"  # 2 MiB of valid JSON, with Content-Length
HUGE_UNDECLARED_IP = "203.0.113.21"  # 2 MiB of valid JSON, no Content-Length
RATE_LIMITED_IP = "203.0.113.29"  # 429 with Retry-After
HTML_IP = "203.0.113.40"  # 200 with an HTML page
ERROR_IP = "203.0.113.50"  # 500
REDIRECT_LOOP_IP = "203.0.113.60"  # redirects to itself for ever
FTP_REDIRECT_IP = "203.0.113.61"  # redirects to an ftp:// URL
GZIP_IP = "203.0.113.70"  # the RIPE answer, gzip-compressed
JSON_LIST_IP = "203.0.113.71"  # valid JSON that is not an object

NETWORKS = {
    ipaddress.ip_network("192.0.2.0/24"): "ip_ripe.json",
    ipaddress.ip_network("198.51.100.0/24"): "ip_arin.json",
    ipaddress.ip_network("2001:db8::/32"): "ip_apnic_v6.json",
}
FIXED = {f"/autnum/{ASN}": "autnum.json", f"/domain/{DOMAIN}": "domain_com.json"}
HTML_PAGE = b"<!doctype html><html><head><title>Please wait</title></head><body></body></html>"


def fixture_bytes(name: str) -> bytes:
    """A recorded answer from ``data/rdap/``."""
    return (DATA / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture_bytes(name))
    return loaded


@cache
def huge_json() -> bytes:
    """Valid JSON of 2 MiB: only a size limit refuses it."""
    filler = b"x" * (2 * 1024 * 1024)
    return b'{"objectClassName": "ip network", "name": "HUGE", "remarks": "' + filler + b'"}'


@dataclass
class Answer:
    """One canned HTTP answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    declare_length: bool = True


def json_answer(document: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(document).encode(), {"Content-Type": RDAP_JSON, **headers})


class _Handler(BaseHTTPRequestHandler):
    server: RdapServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.record(path, {name.lower(): value for name, value in self.headers.items()})
        answer = self.server.route(path)
        if answer.delay:
            self.server.stop.wait(min(answer.delay, MAX_WAIT))
        # Clients hang up on purpose when a limit is reached or a timeout passes.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.declare_length:
                self.send_header("Content-Length", str(len(answer.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer.body)


class RdapServer(ThreadingHTTPServer):
    """The local RDAP server, with a record of the requests that reached it."""

    daemon_threads = True
    # Handlers end within MAX_WAIT; not joining them keeps a failed test's teardown prompt.
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop = threading.Event()
        self.slow_seconds = 2.0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._counts: Counter[str] = Counter()
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give an RdapClient as ``base_url``: answers without redirects."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def bootstrap_url(self) -> str:
        """A base URL that redirects every query to :attr:`base_url`, as rdap.org does."""
        return f"{self.base_url}/bootstrap"

    def answer(
        self,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        fixture: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer ``path`` (``/ip/192.0.2.1``) with a JSON document, bytes or a fixture file.

        Registered answers win over the built-in ones.
        """
        if fixture is not None:
            data = fixture_bytes(fixture)
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode() if body is not None else b""
        with self._lock:
            self._answers[path] = Answer(
                status, data, {"Content-Type": RDAP_JSON, **(headers or {})}, delay
            )

    def count(self, path: str) -> int:
        """How many requests for ``path`` reached the server."""
        with self._lock:
            return self._counts[path]

    @property
    def total(self) -> int:
        """How many requests reached the server, all paths together."""
        with self._lock:
            return sum(self._counts.values())

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._counts[path] += 1
            self.requests.append((path, headers))

    def route(self, path: str) -> Answer:
        with self._lock:
            registered = self._answers.get(path)
        if registered is not None:
            return registered
        if path.startswith("/bootstrap/"):
            target = self.base_url + path.removeprefix("/bootstrap")
            return Answer(302, b"", {"Location": target})
        if path.startswith("/ip/"):
            found = self._ip_answer(path.removeprefix("/ip/"))
            if found is not None:
                return found
        if path in FIXED:
            return Answer(200, fixture_bytes(FIXED[path]), {"Content-Type": RDAP_JSON})
        return Answer(404, fixture_bytes("error_404.json"), {"Content-Type": RDAP_JSON})

    def _ip_answer(self, query: str) -> Answer | None:
        rdap = {"Content-Type": RDAP_JSON}
        behaviours = {
            SLOW_IP: Answer(200, fixture_bytes("ip_ripe.json"), rdap, delay=self.slow_seconds),
            HUGE_IP: Answer(200, huge_json(), rdap),
            HUGE_UNDECLARED_IP: Answer(200, huge_json(), rdap, declare_length=False),
            RATE_LIMITED_IP: json_answer({"errorCode": 429}, 429, **{"Retry-After": "5"}),
            HTML_IP: Answer(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"}),
            ERROR_IP: json_answer({"errorCode": 500, "title": "Internal Server Error"}, 500),
            REDIRECT_LOOP_IP: Answer(302, b"", {"Location": f"/ip/{REDIRECT_LOOP_IP}"}),
            FTP_REDIRECT_IP: Answer(302, b"", {"Location": "ftp://127.0.0.1/ip/192.0.2.1"}),
            GZIP_IP: Answer(
                200,
                gzip.compress(fixture_bytes("ip_ripe.json")),
                {**rdap, "Content-Encoding": "gzip"},
            ),
            JSON_LIST_IP: json_answer([1, 2, 3]),
        }
        if query in behaviours:
            return behaviours[query]
        try:
            address = ipaddress.ip_address(query)
        except ValueError:
            return None
        for network, name in NETWORKS.items():
            if address in network:
                return Answer(200, fixture_bytes(name), rdap)
        return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is what several tests do on purpose."""

    def start(self) -> RdapServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()
        self._thread.join(MAX_WAIT)


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
    server = RdapServer().start()
    yield server
    server.close()


@pytest.fixture
def rdap_client(rdap_server: RdapServer) -> Iterator[RdapClient]:
    """An RdapClient asking ``rdap_server`` directly (see :func:`make_client`)."""
    with make_client(rdap_server.base_url) as client:
        yield client
