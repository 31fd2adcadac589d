"""A local RDAP server on loopback, serving recorded answer shapes, for the sandbox and tests.

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

Callers add or override answers with :meth:`RdapServer.answer` (from any thread, while it
serves) and count what reached the server with :meth:`RdapServer.count`. It listens on
loopback only. Give a client :attr:`RdapServer.base_url` (or ``bootstrap_url``)::

    with RdapServer() as rdap:
        rdap.answer("/ip/192.0.2.1", {"objectClassName": "ip network", "name": "X"})
        settings = Settings(rdap_base_url=rdap.base_url, ...)
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import json
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any, Final, Self
from urllib.parse import unquote, urlsplit

from takedown.sandbox.serving import BackgroundServer, serve_in_thread, shut_down

MAX_WAIT: Final = 10.0  # no handler ever waits longer than this, whatever a caller asks
RDAP_JSON: Final = "application/rdap+json"
# The sandbox may run for days: keep the latest requests, count them all.
REMEMBERED_REQUESTS: Final = 10_000

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


@cache
def fixture_bytes(name: str) -> bytes:
    """A recorded answer from ``data/rdap/`` (shipped as package data)."""
    return (files("takedown.sandbox") / "data" / "rdap" / name).read_bytes()


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


def _check_loopback(host: str) -> None:
    """The sandbox must not be reachable from outside the machine."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the RDAP server serves on loopback addresses only, not {host!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep output quiet; the server keeps its own record (``requests``)."""

    def do_GET(self) -> None:
        rdap = self.server.rdap
        path = unquote(urlsplit(self.path).path)
        rdap.record(path, {name.lower(): value for name, value in self.headers.items()})
        answer = rdap.route(path)
        if answer.delay:
            rdap.pause(answer.delay)
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Handlers end within MAX_WAIT; not joining them keeps a stop (or a failed test) prompt.
    block_on_close = False

    def __init__(self, address: tuple[str, int], rdap: RdapServer) -> None:
        self.rdap = rdap
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is what several callers do on purpose."""


class RdapServer(BackgroundServer):
    """The local RDAP server, with a record of the requests that reached it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        _check_loopback(host)
        self._host = host
        self._wanted_port = port
        self.slow_seconds = 2.0
        self._stopping = threading.Event()
        self._requests: deque[tuple[str, dict[str, str]]] = deque(maxlen=REMEMBERED_REQUESTS)
        self._counts: Counter[str] = Counter()
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread (``OSError`` if the port is taken)."""
        if self._server is not None:
            raise RuntimeError("the RDAP server is already started")
        self._server = _Server((self._host, self._wanted_port), self)
        self._thread = serve_in_thread(
            self._server, name=f"rdap server {self.base_url}", poll_interval=0.05
        )
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; slow answers are cut short. Safe to call twice."""
        if self._server is None or self._stopping.is_set():
            return
        self._stopping.set()
        shut_down(self._server, self._thread, MAX_WAIT)

    def _is_started(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the RDAP server is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL to give an RDAP client as its base URL: answers without redirects."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def bootstrap_url(self) -> str:
        """A base URL that redirects every query to :attr:`base_url`, as rdap.org does."""
        return f"{self.base_url}/bootstrap"

    # -- answers -------------------------------------------------------------------------------

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

    def count(self, path: str | None = None) -> int:
        """How many requests for ``path`` reached the server; all paths without one."""
        with self._lock:
            return self._counts[path] if path is not None else self._counts.total()

    @property
    def total(self) -> int:
        """How many requests reached the server, all paths together."""
        return self.count()

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """The latest requests as (path, headers with lower-case names), oldest first."""
        with self._lock:
            return list(self._requests)

    def pause(self, seconds: float) -> None:
        """Wait as a slow registry does: at most MAX_WAIT, and no longer than until stop()."""
        self._stopping.wait(min(seconds, MAX_WAIT))

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._counts[path] += 1
            self._requests.append((path, headers))

    def route(self, path: str) -> Answer:
        """What the server answers for ``path``."""
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
        behaviour = self._behaviour(query)
        if behaviour is not None:
            return behaviour
        try:
            address = ipaddress.ip_address(query)
        except ValueError:
            return None
        for network, name in NETWORKS.items():
            if address in network:
                return Answer(200, fixture_bytes(name), {"Content-Type": RDAP_JSON})
        return None

    def _behaviour(self, query: str) -> Answer | None:
        rdap = {"Content-Type": RDAP_JSON}
        if query == SLOW_IP:
            return Answer(200, fixture_bytes("ip_ripe.json"), rdap, delay=self.slow_seconds)
        if query == GZIP_IP:
            compressed = gzip.compress(fixture_bytes("ip_ripe.json"))
            return Answer(200, compressed, {**rdap, "Content-Encoding": "gzip"})
        behaviours = {
            HUGE_IP: Answer(200, huge_json(), rdap),
            HUGE_UNDECLARED_IP: Answer(200, huge_json(), rdap, declare_length=False),
            RATE_LIMITED_IP: json_answer({"errorCode": 429}, 429, **{"Retry-After": "5"}),
            HTML_IP: Answer(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"}),
            ERROR_IP: json_answer({"errorCode": 500, "title": "Internal Server Error"}, 500),
            REDIRECT_LOOP_IP: Answer(302, b"", {"Location": f"/ip/{REDIRECT_LOOP_IP}"}),
            FTP_REDIRECT_IP: Answer(302, b"", {"Location": "ftp://127.0.0.1/ip/192.0.2.1"}),
            JSON_LIST_IP: json_answer([1, 2, 3]),
        }
        return behaviours.get(query)
