"""Fixtures for the fetcher tests: local hosts, a fetcher factory, and a connection tripwire."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from takedown.fetch import GuardedFetcher, StaticResolver
from tests.network import loopback_only

from .support import LocalServer

FetcherFactory = Callable[..., GuardedFetcher]


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connection the code under test opens; non-loopback ones are stopped."""
    return loopback_only(monkeypatch)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer().start()
    yield local
    local.close()


@pytest.fixture
def make_fetcher() -> FetcherFactory:
    """Build a fetcher where ``images.test`` means 127.0.0.1 and is allowed; small limits."""

    def make(**options: Any) -> GuardedFetcher:
        resolver = options.pop("resolver", None) or StaticResolver({"images.test": ["127.0.0.1"]})
        settings: dict[str, Any] = {
            "allow_hosts": {"images.test"},
            "max_bytes": 1_000_000,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "total_timeout": 5.0,
            "user_agent": "TakedownTest/1.0",
        }
        settings.update(options)
        return GuardedFetcher(resolver, **settings)

    return make


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``images.test`` (and nothing else), made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=images.test", "-addext", "subjectAltName=DNS:images.test"],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[LocalServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    local = LocalServer(tls=context).start()
    yield local
    local.close()


@pytest.fixture
def trust(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts only the test certificate."""
    return ssl.create_default_context(cafile=str(certificate[0]))
