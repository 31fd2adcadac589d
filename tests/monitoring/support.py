"""A local web host for the fetcher tests: benign generated images on 127.0.0.1 only.

Every route that waits does so on the server's stop event with a bound, so a test that fails
half-way never leaves a thread sleeping for long, and teardown is prompt.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from takedown.fetch import StaticResolver

MAX_WAIT = 10.0  # no handler ever waits longer than this, whatever the test does


@cache
def png_bytes() -> bytes:
    """A small benign PNG: a colour gradient, generated in memory."""
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x + y) * 2) for y in range(48) for x in range(64)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@cache
def gzip_bomb() -> bytes:
    """Twenty megabytes of zeros, gzipped to a few kilobytes."""
    return gzip.compress(bytes(20 * 1024 * 1024))


PAGE = """<!doctype html>
<html><head>
<meta property="og:image" content="/img/og.png">
<meta name="twitter:image" content="http://images.test:{port}/img/twitter.png">
<title>Benign test page</title>
</head><body>
<img src="/img/plain.png" alt="plain">
<img src="img/small.png" srcset="img/small.png 320w, img/large.png 1280w, img/mid.png 640w">
<picture>
  <source srcset="/img/pic-1x.webp 1x, /img/pic-2x.webp 2x" type="image/webp">
  <img src="/img/pic.jpg">
</picture>
<video poster="/img/poster.jpg"><source src="/video/clip.mp4" type="video/mp4"></video>
<a href="/img/linked.JPG?size=full">full size</a>
<a href="/about.html">not an image</a>
<img src="/img/plain.png#again">
<img src="data:image/png;base64,AAAA">
<a href="javascript:alert(1)">script</a>
</body></html>
"""

PAGE_MEDIA = [
    "/img/og.png",
    "/img/twitter.png",
    "/img/plain.png",
    "/img/small.png",
    "/img/large.png",
    "/img/pic-2x.webp",
    "/img/pic.jpg",
    "/img/poster.jpg",
    "/img/linked.JPG?size=full",
]


@dataclass
class Seen:
    """What the local host received: requests (path and headers) and TCP connections."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    connections: int = 0
    server_names: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        with self.server.seen.lock:
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.server.seen.requests.append((self.path, headers))
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        # The fetcher hangs up on purpose when a limit is reached or a timeout passes.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self._route(parts.path, query)

    def _route(self, path: str, query: dict[str, str]) -> None:
        stop = self.server.stop
        if path == "/image.png" or path.startswith("/img/"):
            self._send(200, png_bytes(), {"Content-Type": "image/png"})
        elif path == "/page.html":
            page = PAGE.format(port=self.server.server_port).encode()
            self._send(200, page, {"Content-Type": "text/html; charset=utf-8"})
        elif path == "/redirect":
            self._send(int(query.get("status", "302")), b"", {"Location": query["to"]})
        elif path.startswith("/chain/"):
            left = int(path.rpartition("/")[2])
            target = "/image.png" if left == 0 else f"/chain/{left - 1}"
            self._send(302, b"", {"Location": target})
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/cookie":
            self._send(302, b"", {"Location": "/image.png", "Set-Cookie": "session=abc; Path=/"})
        elif path == "/endless":
            self._headers(200, {"Content-Type": "image/png"})
            chunk, until = bytes(64 * 1024), time.monotonic() + MAX_WAIT
            while not stop.is_set() and time.monotonic() < until:
                self.wfile.write(chunk)
        elif path == "/declared-huge":
            self._headers(200, {"Content-Type": "image/png", "Content-Length": str(10**12)})
            self.wfile.write(bytes(1024))
        elif path == "/slow":
            stop.wait(MAX_WAIT)
            self._send(200, png_bytes(), {"Content-Type": "image/png"})
        elif path == "/trickle":
            self._headers(200, {"Content-Type": "image/png"})
            until = time.monotonic() + MAX_WAIT
            while not stop.wait(0.05) and time.monotonic() < until:
                self.wfile.write(b"x")
                self.wfile.flush()
        elif path == "/typed":
            headers = {"Content-Type": query["type"]} if "type" in query else {}
            self._send(200, b"%PDF-1.4 benign", headers)
        elif path == "/gzip":
            headers = {"Content-Type": "image/png", "Content-Encoding": "gzip"}
            self._send(200, gzip.compress(png_bytes()), headers)
        elif path == "/deflate-raw":
            raw = zlib.compressobj(wbits=-15)
            body = raw.compress(png_bytes()) + raw.flush()
            self._send(200, body, {"Content-Type": "image/png", "Content-Encoding": "deflate"})
        elif path == "/gzip-bomb":
            headers = {"Content-Type": "image/png", "Content-Encoding": "gzip"}
            self._send(200, gzip_bomb(), headers)
        elif path == "/brotli":
            headers = {"Content-Type": "image/png", "Content-Encoding": "br"}
            self._send(200, b"\x0b\x02\x80hello\x03", headers)
        else:
            self._send(404, b"<p>gone</p>", {"Content-Type": "text/html"})

    def _headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self._headers(status, {**headers, "Content-Length": str(len(body))})
        self.wfile.write(body)


class LocalServer(ThreadingHTTPServer):
    """The test host on 127.0.0.1, plain or TLS, with a record of what reached it."""

    daemon_threads = True
    # Handlers end within MAX_WAIT; not joining them keeps a failed test's teardown prompt.
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = Seen()
        self.stop = threading.Event()
        if tls is not None:
            tls.sni_callback = self._record_sni
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "images.test", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.seen.lock:
            self.seen.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-response is what several tests do on purpose."""

    def _record_sni(self, sock: Any, name: str | None, context: Any) -> None:
        with self.seen.lock:
            self.seen.server_names.append(name)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()
        self._thread.join(MAX_WAIT)


class RecordingResolver(StaticResolver):
    """A static resolver that remembers every lookup, to count them."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        super().__init__(table)
        self.lookups: list[str] = []

    def resolve(self, host: str, *, timeout: float) -> list[str]:
        self.lookups.append(host)
        return super().resolve(host, timeout=timeout)


class Site(ThreadingHTTPServer):
    """A scripted web host on 127.0.0.1: each path answers what the test set, else 404.

    For tests of what a fetcher is used for (capture, re-checks): ``serve`` a file, ``page`` an
    HTML page of ``<img>`` tags, ``status`` a bare status, ``redirect`` elsewhere; ``remove``
    a path, as a host acting on a notice would. ``requested`` lists the paths asked for.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SiteHandler)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requested: list[str] = []
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:port``, as ``fetch_allow_hosts`` takes it."""
        return f"127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        self.routes[path] = (200, {"Content-Type": content_type}, body)
        return self.url(path)

    def page(self, path: str, *images: str) -> str:
        tags = "".join(f'<img src="{src}" alt="">' for src in images)
        body = f"<!doctype html><html><body>{tags}</body></html>".encode()
        return self.serve(path, body, "text/html; charset=utf-8")

    def status(self, path: str, status: int) -> str:
        self.routes[path] = (status, {"Content-Type": "text/html"}, b"<p>status page</p>")
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        self.routes[path] = (status, {"Location": to}, b"")
        return self.url(path)

    def remove(self, path: str) -> None:
        del self.routes[path]

    def start(self) -> Site:
        self._thread.start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(MAX_WAIT)


class _SiteHandler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requested.append(self.path)
        status, headers, body = self.server.routes.get(
            self.path, (404, {"Content-Type": "text/html"}, b"<p>not found</p>")
        )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
