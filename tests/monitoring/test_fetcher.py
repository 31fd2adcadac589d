"""The guarded fetcher against a local host: pinning, the address guard, redirects, limits."""

from __future__ import annotations

import socket
import ssl
import time

import pytest

from takedown.errors import ConfigurationError, InvalidURL, TakedownError
from takedown.fetch import (
    BadResponse,
    ConnectionFailed,
    DNSFailure,
    FetchError,
    FetchRefused,
    FetchResult,
    FetchTimeout,
    GuardedFetcher,
    NonPublicAddress,
    ResponseTooLarge,
    StaticFetcher,
    StaticResolver,
    TooManyRedirects,
    UnsupportedContentType,
    UnsupportedScheme,
)

from .conftest import FetcherFactory
from .support import LocalServer, RecordingResolver, png_bytes


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Pinning and the happy path ------------------------------------------------------------------


def test_fetches_through_the_pinned_address_with_the_name_as_host(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    # images.test exists only in the static resolver: reaching the server proves the
    # connection went to the address it answered, with the name kept for the Host header.
    result = make_fetcher().fetch(server.url("/image.png"))

    assert result.body == png_bytes()
    assert (result.status, result.media_type, result.address) == (200, "image/png", "127.0.0.1")
    assert result.final_url == server.url("/image.png")
    assert result.redirects == []
    path, headers = server.seen.requests[0]
    assert path == "/image.png"
    assert headers["host"] == f"images.test:{server.port}"
    assert headers["user-agent"] == "TakedownTest/1.0"
    assert headers["accept-encoding"] == "identity"


def test_resolves_once_per_hop(server: LocalServer, make_fetcher: FetcherFactory) -> None:
    resolver = RecordingResolver({"images.test": ["127.0.0.1"]})

    result = make_fetcher(resolver=resolver).fetch(server.url("/chain/2"))

    assert result.body == png_bytes()
    assert server.seen.paths == ["/chain/2", "/chain/1", "/chain/0", "/image.png"]
    assert resolver.lookups == ["images.test"] * 4


def test_the_host_must_be_allow_listed_to_reach_loopback(
    server: LocalServer, make_fetcher: FetcherFactory, connections: list[str]
) -> None:
    with pytest.raises(NonPublicAddress, match=r"127\.0\.0\.1.*loopback"):
        make_fetcher(allow_hosts=set()).fetch(server.url("/image.png"))
    assert connections == []
    assert server.seen.connections == 0


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:{port}", " 127.0.0.1:{port} "])
def test_a_literal_address_can_be_allow_listed(
    server: LocalServer, make_fetcher: FetcherFactory, entry: str
) -> None:
    fetcher = make_fetcher(allow_hosts={entry.format(port=server.port)})

    result = fetcher.fetch(server.url("/image.png", host="127.0.0.1"))

    assert result.body == png_bytes()


def test_an_allow_listed_port_does_not_allow_other_ports(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    fetcher = make_fetcher(allow_hosts={f"images.test:{server.port + 1}"})
    with pytest.raises(NonPublicAddress):
        fetcher.fetch(server.url("/image.png"))
    assert server.seen.connections == 0


@pytest.mark.parametrize("entry", ["", "a:b", "[::1", "bad host!:x", "host:70000"])
def test_bad_allow_list_entries_are_refused_at_start(entry: str) -> None:
    with pytest.raises(ConfigurationError):
        GuardedFetcher(StaticResolver(), allow_hosts={entry})


# The address guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.1"], "private"),
        (["169.254.169.254"], "link-local"),
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["0.0.0.0"], "unspecified"),  # noqa: S104 - an answer to refuse, not a bind
        (["100.64.0.1"], "carrier-grade NAT"),
        (["192.168.1.1"], "private"),
        (["224.0.0.1"], "multicast"),
        (["fe80::1"], "link-local"),
        (["fd00::1"], "unique local"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["192.0.2.10"], "documentation"),
        # One bad answer among good ones refuses the host: no "pick the public one".
        (["8.8.8.8", "10.1.2.3"], "private"),
        (["2606:4700::1111", "::1"], "loopback"),
    ],
)
def test_hosts_resolving_to_non_public_addresses_are_refused_without_connecting(
    server: LocalServer,
    make_fetcher: FetcherFactory,
    connections: list[str],
    addresses: list[str],
    reason: str,
) -> None:
    resolver = StaticResolver({"evil.test": addresses})

    with pytest.raises(NonPublicAddress, match=reason) as caught:
        make_fetcher(resolver=resolver).fetch(f"http://evil.test:{server.port}/image.png")

    assert caught.value.status_code == 403
    assert caught.value.extra["host"] == "evil.test"
    assert caught.value.extra["address"] in addresses
    assert connections == []
    assert server.seen.connections == 0


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0x7f000001",
        "2130706433",
        "0x7f.1",
        "[::1]",
        "[::ffff:7f00:1]",
        "169.254.169.254",
        "LOCALHOST.",
    ],
)
def test_literal_and_disguised_loopback_urls_are_refused(
    server: LocalServer, make_fetcher: FetcherFactory, connections: list[str], host: str
) -> None:
    # localhost resolves through the (static) resolver; every other spelling is an address and
    # must be recognised as one without asking DNS.
    resolver = RecordingResolver({"localhost": ["127.0.0.1", "::1"]})

    with pytest.raises(NonPublicAddress):
        make_fetcher(resolver=resolver).fetch(f"http://{host}:{server.port}/image.png")

    assert resolver.lookups == (["localhost"] if host == "LOCALHOST." else [])
    assert connections == []


def test_a_redirect_to_a_private_address_is_refused(
    server: LocalServer, make_fetcher: FetcherFactory, connections: list[str]
) -> None:
    resolver = StaticResolver({"images.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})
    fetcher = make_fetcher(resolver=resolver)

    with pytest.raises(NonPublicAddress, match=r"internal\.test resolves to 10\.0\.0\.5"):
        fetcher.fetch(server.url("/redirect?to=http://internal.test/admin"))
    with pytest.raises(NonPublicAddress, match=r"169\.254\.169\.254"):
        fetcher.fetch(server.url("/redirect?to=http://169.254.169.254/latest/meta-data/"))
    # An allowed name may not redirect to its own address spelled as a literal.
    with pytest.raises(NonPublicAddress):
        fetcher.fetch(server.url(f"/redirect?to=http://127.0.0.1:{server.port}/image.png"))

    assert len(server.seen.paths) == 3
    assert all(path.startswith("/redirect") for path in server.seen.paths)
    assert connections == ["127.0.0.1"] * 3


def test_dns_failure_names_the_host(make_fetcher: FetcherFactory) -> None:
    with pytest.raises(DNSFailure, match=r"nowhere\.test") as caught:
        make_fetcher().fetch("http://nowhere.test/image.png")
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    "url",
    ["ftp://images.test/a.png", "file:///etc/passwd", "gopher://images.test/", "data:,hello"],
)
def test_only_http_and_https_are_fetched(make_fetcher: FetcherFactory, url: str) -> None:
    with pytest.raises(UnsupportedScheme, match="only http and https"):
        make_fetcher().fetch(url)


@pytest.mark.parametrize(
    "url", ["http://", "http:///path", "not a url", "http://[::1/", "http://0177.0.0.1/"]
)
def test_urls_without_a_usable_host_are_invalid(make_fetcher: FetcherFactory, url: str) -> None:
    with pytest.raises((InvalidURL, UnsupportedScheme)):
        make_fetcher().fetch(url)


# Redirects -----------------------------------------------------------------------------------


def test_redirects_are_followed_and_recorded(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    url = server.url("/redirect?to=/chain/1&status=301")

    result = make_fetcher().fetch(url)

    assert result.url == url
    assert result.redirects == [server.url("/chain/1"), server.url("/chain/0"), result.final_url]
    assert result.final_url == server.url("/image.png")
    assert result.body == png_bytes()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_followed(
    server: LocalServer, make_fetcher: FetcherFactory, status: int
) -> None:
    result = make_fetcher().fetch(server.url(f"/redirect?to=/image.png&status={status}"))
    assert result.status == 200


def test_redirects_are_bounded(server: LocalServer, make_fetcher: FetcherFactory) -> None:
    with pytest.raises(TooManyRedirects, match="more than 3 times"):
        make_fetcher(max_redirects=3).fetch(server.url("/loop"))
    assert server.seen.paths == ["/loop"] * 4

    # /chain/2 -> /chain/1 -> /chain/0 -> /image.png: exactly three redirects.
    assert make_fetcher(max_redirects=3).fetch(server.url("/chain/2")).status == 200
    with pytest.raises(TooManyRedirects):
        make_fetcher(max_redirects=0).fetch(server.url("/chain/1"))


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://images.test/x.png", "javascript:alert(1)"]
)
def test_redirects_to_other_schemes_are_refused(
    server: LocalServer, make_fetcher: FetcherFactory, location: str
) -> None:
    with pytest.raises(UnsupportedScheme, match="redirected from"):
        make_fetcher().fetch(server.url(f"/redirect?to={location}"))


def test_no_cookies_are_kept(server: LocalServer, make_fetcher: FetcherFactory) -> None:
    fetcher = make_fetcher()

    fetcher.fetch(server.url("/cookie"))
    fetcher.fetch(server.url("/image.png"))

    assert all("cookie" not in headers for _, headers in server.seen.requests)


def test_credentials_in_the_url_are_not_sent(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    result = make_fetcher().fetch(f"http://user:secret@images.test:{server.port}/image.png#frag")

    assert "authorization" not in server.seen.requests[0][1]
    assert result.final_url == server.url("/image.png")


def test_proxies_from_the_environment_are_ignored(
    server: LocalServer, make_fetcher: FetcherFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy on a closed loopback port: using it would fail the fetch.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")

    assert make_fetcher().fetch(server.url("/image.png")).body == png_bytes()


# Limits --------------------------------------------------------------------------------------


def test_an_endless_body_is_cut_at_the_byte_limit(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    with pytest.raises(ResponseTooLarge, match="more than the limit of 200000 bytes") as caught:
        make_fetcher(max_bytes=200_000).fetch(server.url("/endless"))
    assert caught.value.status_code == 413


def test_a_declared_oversize_body_is_refused_before_reading(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    with pytest.raises(ResponseTooLarge, match="announced 1000000000000 bytes"):
        make_fetcher().fetch(server.url("/declared-huge"))


def test_the_byte_limit_is_inclusive(server: LocalServer, make_fetcher: FetcherFactory) -> None:
    size = len(png_bytes())
    assert make_fetcher(max_bytes=size).fetch(server.url("/image.png")).body == png_bytes()
    with pytest.raises(ResponseTooLarge):
        make_fetcher(max_bytes=size - 1).fetch(server.url("/image.png"))


@pytest.mark.parametrize("path", ["/gzip", "/deflate-raw"])
def test_compressed_bodies_are_decoded(
    server: LocalServer, make_fetcher: FetcherFactory, path: str
) -> None:
    assert make_fetcher().fetch(server.url(path)).body == png_bytes()


def test_a_compression_bomb_stops_at_the_byte_limit(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    with pytest.raises(ResponseTooLarge):
        make_fetcher(max_bytes=1_000_000).fetch(server.url("/gzip-bomb"))


def test_unknown_content_encodings_are_refused(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    with pytest.raises(BadResponse, match="content encoding 'br'"):
        make_fetcher().fetch(server.url("/brotli"))


def test_a_slow_server_hits_the_read_timeout(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="read limit") as caught:
        make_fetcher(read_timeout=0.3).fetch(server.url("/slow"))
    assert time.monotonic() - started < 3
    assert caught.value.status_code == 504


def test_a_trickling_server_hits_the_total_timeout(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    # Each byte comes well within the read timeout; only the total limit can stop this.
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"total limit of 0\.5 s"):
        make_fetcher(read_timeout=1.0, total_timeout=0.5).fetch(server.url("/trickle"))
    assert time.monotonic() - started < 3


def test_a_closed_port_fails_to_connect(make_fetcher: FetcherFactory) -> None:
    with pytest.raises(ConnectionFailed, match=r"could not connect to images\.test"):
        make_fetcher().fetch(f"http://images.test:{free_port()}/image.png")


def test_the_next_checked_address_is_tried_when_one_refuses(
    server: LocalServer, make_fetcher: FetcherFactory, connections: list[str]
) -> None:
    # 127.0.0.2 is loopback too on Linux, but nothing listens on the server's port there.
    resolver = RecordingResolver({"images.test": ["127.0.0.2", "127.0.0.1"]})
    try:
        result = make_fetcher(resolver=resolver).fetch(server.url("/image.png"))
    except ConnectionFailed:  # pragma: no cover - platforms without 127/8 on loopback
        pytest.skip("127.0.0.2 is not routed to loopback here")

    assert result.address == "127.0.0.1"
    assert resolver.lookups == ["images.test"]
    assert connections == ["127.0.0.2", "127.0.0.1"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?type=application/pdf", "content type 'application/pdf'"),
        ("?type=application/octet-stream", "content type 'application/octet-stream'"),
        ("", "no content type"),
    ],
)
def test_content_types_outside_the_allow_list_are_refused(
    server: LocalServer, make_fetcher: FetcherFactory, query: str, message: str
) -> None:
    with pytest.raises(UnsupportedContentType, match=message) as caught:
        make_fetcher().fetch(server.url(f"/typed{query}"))
    assert caught.value.status_code == 415
    assert "image/*" in str(caught.value)


def test_the_content_type_allow_list_is_configurable(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    fetcher = make_fetcher(allowed_content_types={"application/pdf"})

    result = fetcher.fetch(server.url("/typed?type=Application/PDF;%20charset=binary"))

    assert result.media_type == "application/pdf"
    assert result.charset == "binary"
    with pytest.raises(UnsupportedContentType):
        fetcher.fetch(server.url("/image.png"))


@pytest.mark.parametrize("pattern", ["image", "*/png", "/"])
def test_bad_content_type_patterns_are_refused_at_start(pattern: str) -> None:
    with pytest.raises(ConfigurationError):
        GuardedFetcher(StaticResolver(), allowed_content_types={pattern})


def test_error_statuses_are_returned_without_reading_the_body(
    server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    result = make_fetcher().fetch(server.url("/removed.png"))

    assert (result.status, result.ok, result.body) == (404, False, b"")
    assert result.media_type == "text/html"


# HTTPS: pinned address, certificate checked for the name -------------------------------------


def test_https_sends_the_name_as_sni_and_checks_the_certificate_for_it(
    tls_server: LocalServer, make_fetcher: FetcherFactory, trust: ssl.SSLContext
) -> None:
    result = make_fetcher(verify=trust).fetch(tls_server.url("/image.png", scheme="https"))

    assert result.body == png_bytes()
    assert result.address == "127.0.0.1"
    assert tls_server.seen.server_names == ["images.test"]
    assert tls_server.seen.requests[0][1]["host"] == f"images.test:{tls_server.port}"


def test_https_refuses_a_certificate_for_another_name(
    tls_server: LocalServer, make_fetcher: FetcherFactory, trust: ssl.SSLContext
) -> None:
    # other.test is pinned to the same address, but the certificate names images.test only.
    resolver = StaticResolver({"other.test": ["127.0.0.1"]})
    fetcher = make_fetcher(resolver=resolver, allow_hosts={"other.test"}, verify=trust)

    with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
        fetcher.fetch(tls_server.url("/image.png", host="other.test", scheme="https"))
    assert tls_server.seen.requests == []


def test_https_trusts_only_the_public_ca_bundle_by_default(
    tls_server: LocalServer, make_fetcher: FetcherFactory
) -> None:
    with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
        make_fetcher().fetch(tls_server.url("/image.png", scheme="https"))


# The error tree and the local fetcher --------------------------------------------------------


def test_every_fetch_error_is_a_takedown_error() -> None:
    for error in (
        BadResponse,
        ConnectionFailed,
        DNSFailure,
        FetchRefused,
        FetchTimeout,
        NonPublicAddress,
        ResponseTooLarge,
        TooManyRedirects,
        UnsupportedContentType,
        UnsupportedScheme,
    ):
        assert issubclass(error, FetchError)
        assert issubclass(error, TakedownError)
        assert 400 <= error.status_code < 600


def test_static_fetcher_answers_from_its_table() -> None:
    page = FetchResult(
        url="http://a.test/", final_url="http://a.test/", status=200,
        content_type="text/html", body=b"<img src=x.png>",
    )  # fmt: skip
    fetcher = StaticFetcher({"http://a.test/": page, "http://b.test/": DNSFailure("no b.test")})

    assert fetcher.fetch("http://a.test/") is page
    with pytest.raises(DNSFailure):
        fetcher.fetch("http://b.test/")
    with pytest.raises(ConnectionFailed):
        fetcher.fetch("http://c.test/")
    assert fetcher.requested == ["http://a.test/", "http://b.test/", "http://c.test/"]
