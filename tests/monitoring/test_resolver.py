"""Resolvers: the static table for tests and the sandbox, the system one with its time limit."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from takedown.fetch import DNSFailure, StaticResolver, SystemResolver


def test_static_resolver_answers_from_its_table() -> None:
    resolver = StaticResolver({"Images.Test.": ["127.0.0.1", "::1", "127.0.0.1"]})

    assert resolver.resolve("images.test", timeout=1) == ["127.0.0.1", "::1"]
    resolver.add("images.test", "10.0.0.1")
    assert resolver.resolve("IMAGES.TEST.", timeout=1) == ["10.0.0.1"]
    with pytest.raises(DNSFailure, match=r"'other\.test': no such name"):
        resolver.resolve("other.test", timeout=1)


def test_static_resolver_refuses_answers_that_are_not_addresses() -> None:
    with pytest.raises(DNSFailure, match=r"returned 'example\.com'"):
        StaticResolver({"a.test": ["example.com"]}).resolve("a.test", timeout=1)


def test_system_resolver_reads_numeric_hosts_and_localhost() -> None:
    # Neither needs DNS: numeric hosts are parsed and localhost comes from /etc/hosts.
    resolver = SystemResolver()

    assert resolver.resolve("127.0.0.1", timeout=5) == ["127.0.0.1"]
    assert set(resolver.resolve("localhost", timeout=5)) <= {"127.0.0.1", "::1"}


def test_system_resolver_gives_up_at_its_time_limit() -> None:
    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        release.wait(5)
        return []

    try:
        with pytest.raises(DNSFailure, match=r"longer than 0\.1 s"):
            SystemResolver(getaddrinfo=hanging).resolve("slow.test", timeout=0.1)
    finally:
        release.set()


def test_system_resolver_reports_lookup_errors() -> None:
    def failing(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(DNSFailure, match=r"could not resolve 'gone\.test'.*not known"):
        SystemResolver(getaddrinfo=failing).resolve("gone.test", timeout=1)


def test_system_resolver_keeps_scoped_and_mapped_answers_for_the_guard_to_judge() -> None:
    def answers(*args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        stream = socket.SOCK_STREAM
        return [
            (socket.AF_INET6, stream, 6, "", ("fe80::1%lo", 0, 0, 1)),
            (socket.AF_INET, stream, 6, "", ("93.184.215.14", 0)),
        ]

    assert SystemResolver(getaddrinfo=answers).resolve("a.test", timeout=1) == [
        "fe80::1%lo",
        "93.184.215.14",
    ]
