"""Host-suffix/path-prefix expressions and their hashes, beyond the published examples."""

from __future__ import annotations

import hashlib

import pytest

from takedown.errors import InvalidURL
from takedown.urls import expression_hashes, expressions, hash_prefix


def test_documentation_order() -> None:
    assert expressions("http://a.b.c/1/2.html?param=1") == [
        "a.b.c/1/2.html?param=1",
        "a.b.c/1/2.html",
        "a.b.c/",
        "a.b.c/1/",
        "b.c/1/2.html?param=1",
        "b.c/1/2.html",
        "b.c/",
        "b.c/1/",
    ]


def test_directory_prefixes_stop_three_levels_below_root() -> None:
    assert expressions("http://example.com/a/b/c/d/e/f.html") == [
        "example.com/a/b/c/d/e/f.html",
        "example.com/",
        "example.com/a/",
        "example.com/a/b/",
        "example.com/a/b/c/",
    ]


def test_at_most_thirty_expressions() -> None:
    result = expressions("http://a.b.c.d.e.f.g.h/1/2/3/4/5.html?x=y")
    assert len(result) == 30
    assert len(set(result)) == 30
    assert "b.c.d.e.f.g.h/" not in result
    assert "h/" not in result, "the bare TLD is never a host suffix"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", ["example.com/"]),
        ("http://example.com", ["example.com/"]),
        ("http://localhost/a", ["localhost/a", "localhost/"]),
        ("http://example.com/dir/", ["example.com/dir/", "example.com/"]),
        ("http://example.com/a/b/", ["example.com/a/b/", "example.com/", "example.com/a/"]),
        # An empty query adds no expression of its own.
        ("http://example.com/q?", ["example.com/q", "example.com/"]),
        ("http://example.com/?x=1", ["example.com/?x=1", "example.com/"]),
        (
            "http://[2001:DB8::1]:8080/a/b",
            ["[2001:db8::1]/a/b", "[2001:db8::1]/", "[2001:db8::1]/a/"],
        ),
        ("http://[::ffff:1.2.3.4]/", ["1.2.3.4/"]),
        (
            "http://WWW.Example.com:8080/%7Ex#f",
            ["www.example.com/~x", "www.example.com/", "example.com/~x", "example.com/"],
        ),
    ],
)
def test_expressions(url: str, expected: list[str]) -> None:
    assert expressions(url) == expected


def test_expressions_reject_invalid_urls() -> None:
    with pytest.raises(InvalidURL):
        expressions("ftp://example.com/")


def test_expression_hashes_are_sha256_of_each_expression() -> None:
    url = "http://a.b.c/1/2.html?param=1"
    hashes = expression_hashes(url)
    assert hashes == [hashlib.sha256(e.encode()).digest() for e in expressions(url)]
    assert hashes[2] == hashlib.sha256(b"a.b.c/").digest()
    assert all(len(h) == 32 for h in hashes)


def test_hash_prefix_default_is_four_bytes() -> None:
    assert hash_prefix("abc") == bytes.fromhex("ba7816bf")
    assert hash_prefix("abc", 32) == hashlib.sha256(b"abc").digest()


@pytest.mark.parametrize("length", [0, 3, 33])
def test_hash_prefix_length_is_bounded(length: int) -> None:
    with pytest.raises(ValueError, match="4 to 32"):
        hash_prefix("abc", length)
