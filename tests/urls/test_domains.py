"""Registered domains and public suffixes from the bundled Public Suffix List."""

from __future__ import annotations

import pytest

from takedown.urls import parse_url, public_suffix, registered_domain


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("WWW.Example.COM.", "example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a.b.xn--p1ai", "b.xn--p1ai"),
        # Private section: each github.io user is a separate registrant.
        ("someone.github.io", "someone.github.io"),
        ("www.someone.github.io", "someone.github.io"),
        ("github.io", None),
        ("co.uk", None),
        ("com", None),
        ("", None),
        ("1.2.3.4", None),
        ("195.127.0.11", None),
        ("2001:db8::1", None),
        ("[2001:db8::1]", None),
    ],
)
def test_registered_domain(host: str, expected: str | None) -> None:
    assert registered_domain(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("www.someone.github.io", "github.io"),
        ("github.io", "github.io"),
        ("a.b.example.co.uk", "example.co.uk"),
    ],
)
def test_registered_domain_icann_only(host: str, expected: str) -> None:
    assert registered_domain(host, icann_only=True) == expected


@pytest.mark.parametrize(
    ("host", "expected", "expected_icann"),
    [
        ("a.b.example.co.uk", "co.uk", "co.uk"),
        ("someone.github.io", "github.io", "io"),
        ("example.com", "com", "com"),
        ("1.2.3.4", None, None),
    ],
)
def test_public_suffix(host: str, expected: str | None, expected_icann: str | None) -> None:
    assert public_suffix(host) == expected
    assert public_suffix(host, icann_only=True) == expected_icann


def test_parse_url_fills_registered_domain() -> None:
    assert parse_url("http://user.github.io/x").registered_domain == "user.github.io"
    assert parse_url("http://bücher.example.co.uk/").registered_domain == "example.co.uk"
    assert parse_url("http://10.0.0.1/").registered_domain is None
