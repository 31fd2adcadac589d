"""A simulated web hosting provider: one loopback address, many sites chosen by Host header.

Each ``SandboxWebHost`` is one provider's server. Its sites are virtual hosts, as on any
shared host: the same address answers for every name pointed at it, and the ``Host`` header
picks the site. What it serves changes while it runs, from any thread: ``put`` and ``page``
publish, ``remove`` answers 404 from then on (the provider deleted the file), ``gone`` answers
410, and ``suspend`` makes a whole name answer 404 (its registrar suspended the domain; see
``world.py`` for why that is not only a DNS change).

It listens on loopback only: an address outside 127.0.0.0/8 (or ::1) is refused.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Self
from urllib.parse import urlsplit

from takedown.sandbox.serving import BackgroundServer, serve_in_thread, shut_down

# The sandbox may run for days: keep the latest requests, not all of them.
REMEMBERED_REQUESTS: Final = 10_000
HTML: Final = "text/html; charset=utf-8"
TEXT: Final = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Resource:
    """What one URL of a site answers: a status, a content type and a body."""

    status: int
    content_type: str
    body: bytes
    # The image paths a page shows, so removing the page can remove them too.
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggedRequest:
    """One request the host answered."""

    method: str
    host: str
    path: str
    status: int
    at: datetime


def _host_name(host: str) -> str:
    """``host`` as a site key: lower case, no port, no trailing dot."""
    text = host.strip().lower()
    if text.startswith("["):
        return text.partition("]")[0] + "]"
    return text.partition(":")[0].rstrip(".")


def _path(path: str) -> str:
    """The path part of a request target, without query or fragment."""
    parsed = urlsplit(path)
    return parsed.path or "/"


def check_loopback(address: str) -> None:
    """Refuse to serve anywhere but loopback: the sandbox must not be reachable from outside."""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox serves on loopback addresses only, not {address!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "SandboxHost/1.0"
    # Keep-alive connections that go quiet are closed, so no thread waits on them forever.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the host keeps its own log (``requests``)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        host = _host_name(self.headers.get("Host", ""))
        path = _path(self.path)
        found = self.server.site_host.lookup(host, path)
        self.server.site_host.log(self.command, host, path, found.status)
        self.send_response(found.status)
        self.send_header("Content-Type", found.content_type)
        self.send_header("Content-Length", str(len(found.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(found.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site_host: SandboxWebHost) -> None:
        self.site_host = site_host
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up on a kept-alive connection is normal: the fetcher does it."""


class SandboxWebHost(BackgroundServer):
    """One simulated hosting provider's HTTP server on one loopback address."""

    def __init__(self, address: str, port: int = 0) -> None:
        check_loopback(address)
        self._address = address
        self._wanted_port = port
        self._resources: dict[tuple[str, str], Resource] = {}
        self._suspended: set[str] = set()
        self._requests: deque[LoggedRequest] = deque(maxlen=REMEMBERED_REQUESTS)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread (``OSError`` if the port is taken)."""
        if self._server is not None:
            raise RuntimeError("the web host is already started")
        self._server = _Server((self._address, self._wanted_port), self)
        self._thread = serve_in_thread(
            self._server, name=f"sandbox web {self._address}", poll_interval=0.1
        )
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        shut_down(server, self._thread, 5)

    def _is_started(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        return self._address

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the web host is not started")
        return int(self._server.server_address[1])

    def url(self, host: str, path: str) -> str:
        """The URL of ``path`` on site ``host`` (the name must resolve to this address)."""
        return f"http://{_host_name(host)}:{self.port}{path}"

    # -- content -------------------------------------------------------------------------------

    def put(self, host: str, path: str, content_type: str, body: bytes) -> None:
        """Serve ``body`` at ``path`` of site ``host`` (replacing what was there)."""
        self._set(host, path, Resource(HTTPStatus.OK, content_type, body))

    def page(self, host: str, path: str, image_paths: Iterable[str], *, title: str = "") -> None:
        """Serve an HTML page at ``path`` showing the images at ``image_paths``."""
        images = tuple(image_paths)
        heading = html.escape(title or "Sandbox site")
        tags = "\n".join(f'<p><img src="{html.escape(src)}" alt=""></p>' for src in images)
        body = (
            '<!doctype html>\n<html><head><meta charset="utf-8">'
            f"<title>{heading}</title></head>\n<body><h1>{heading}</h1>\n{tags}\n</body></html>\n"
        )
        self._set(host, path, Resource(HTTPStatus.OK, HTML, body.encode(), images))

    def remove(self, host: str, path: str, *, with_images: bool = False) -> None:
        """Answer 404 at ``path`` from now on; ``with_images`` also removes a page's images."""
        key = (_host_name(host), _path(path))
        with self._lock:
            removed = self._resources.get(key)
            self._resources[key] = _status(HTTPStatus.NOT_FOUND)
            if with_images and removed is not None:
                for image in removed.images:
                    self._resources[(key[0], _path(image))] = _status(HTTPStatus.NOT_FOUND)

    def gone(self, host: str, path: str) -> None:
        """Answer 410 Gone at ``path`` from now on."""
        self._set(host, path, _status(HTTPStatus.GONE))

    def suspend(self, host: str) -> None:
        """Answer 404 for every path of site ``host``: its domain was suspended."""
        with self._lock:
            self._suspended.add(_host_name(host))

    def is_live(self, host: str, path: str) -> bool:
        """Whether ``path`` of ``host`` answers 200 right now."""
        return self.lookup(_host_name(host), _path(path)).status == HTTPStatus.OK

    def lookup(self, host: str, path: str) -> Resource:
        """What a request for ``path`` with ``Host: host`` gets (both already normalized)."""
        with self._lock:
            if host in self._suspended:
                return _status(HTTPStatus.NOT_FOUND)
            return self._resources.get((host, path)) or _status(HTTPStatus.NOT_FOUND)

    def _set(self, host: str, path: str, resource: Resource) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a path starts with '/', not {path!r}")
        with self._lock:
            self._resources[(_host_name(host), _path(path))] = resource

    # -- log -----------------------------------------------------------------------------------

    def log(self, method: str, host: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(LoggedRequest(method, host, path, status, datetime.now(UTC)))

    @property
    def requests(self) -> list[LoggedRequest]:
        """The requests answered so far (the latest 10,000), oldest first; a copy."""
        with self._lock:
            return list(self._requests)


def _status(status: HTTPStatus) -> Resource:
    """A plain-text answer with just the status, as a host shows for a deleted file."""
    return Resource(status, TEXT, f"{status.value} {status.phrase}\n".encode())


def bind_all(
    addresses: Iterable[str], port: int = 0, *, attempts: int = 20
) -> list[SandboxWebHost]:
    """Start one host per address, all on the same port (any free one when ``port`` is 0).

    The first host picks the port; if another address has it taken already, everything is
    closed and another port is tried, so URLs of all providers share one port.
    """
    wanted = list(addresses)
    if not wanted:
        return []
    for attempt in range(1 if port else attempts):
        hosts: list[SandboxWebHost] = []
        try:
            first = SandboxWebHost(wanted[0], port).start()
            hosts.append(first)
            for address in wanted[1:]:
                hosts.append(SandboxWebHost(address, first.port).start())
        except OSError:
            for host in hosts:
                with contextlib.suppress(OSError):
                    host.stop()
            if port or attempt == attempts - 1:
                raise
            continue
        return hosts
    raise AssertionError("unreachable")  # pragma: no cover
