"""Canonicalization beyond the published vectors: IDN, IPv4/IPv6, ports, paths, rejections."""

from __future__ import annotations

import hashlib

import pytest

from takedown.errors import InvalidURL
from takedown.urls import CanonicalURL, canonicalize, parse_url
from takedown.urls.canonical import MAX_URL_LENGTH


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
        ("http://b%C3%BCcher.example/", "http://xn--bcher-kva.example/"),
        ("http://例え.テスト/パス", "http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9"),
        ("http://faß.de/", "http://xn--fa-hia.de/"),
        (
            "http://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/",
            "http://example.com/",
        ),  # fullwidth
        ("http://a\u3002b.example/", "http://a.b.example/"),
        # idna (IDNA 2008) refuses these; browsers resolve them, and so do we.
        ("http://i❤.ws/", "http://xn--i-7iq.ws/"),
        ("http://a_b.bücher.de/x", "http://a_b.xn--bcher-kva.de/x"),
        # Not a usable name: the raw bytes are kept and escaped, as Safe Browsing does.
        ("http://a\u200db.example/", "http://a%E2%80%8Db.example/"),
    ],
)
def test_idn_hosts(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://3279880203/", "http://195.127.0.11/"),
        ("http://0xC37F000B/", "http://195.127.0.11/"),
        ("http://0303.0177.0.013/", "http://195.127.0.11/"),
        ("http://0xc3.0x7f.0.0xb/", "http://195.127.0.11/"),
        ("http://195.8323083/", "http://195.127.0.11/"),
        ("http://195.127.11/", "http://195.127.0.11/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://017700000001/", "http://127.0.0.1/"),
        ("http://0x/", "http://0.0.0.0/"),
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "http://127.0.0.1/"),  # fullwidth
        ("http://1.2.3.4./", "http://1.2.3.4/"),
        # A last label that is not a number keeps the host a name (WHATWG "ends in a number").
        ("http://example.0x1g/", "http://example.0x1g/"),
    ],
)
def test_ipv4_encodings(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    ("url", "expected", "expected_with_port"),
    [
        ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]/a", "http://[2001:db8::1]:8080/a"),
        ("http://[2001:0db8:0000:0000::0001]/", "http://[2001:db8::1]/", "http://[2001:db8::1]/"),
        ("https://[::1]:443/", "https://[::1]/", "https://[::1]/"),
        ("http://[::ffff:1.2.3.4]:81/", "http://1.2.3.4/", "http://1.2.3.4:81/"),
        ("http://[::ffff:0102:0304]/", "http://1.2.3.4/", "http://1.2.3.4/"),
        ("http://[64:ff9b::1.2.3.4]/", "http://1.2.3.4/", "http://1.2.3.4/"),
    ],
)
def test_ipv6_hosts(url: str, expected: str, expected_with_port: str) -> None:
    assert canonicalize(url) == expected
    assert canonicalize(url, keep_port=True) == expected_with_port


@pytest.mark.parametrize(
    ("url", "sb_form", "with_port"),
    [
        (
            "http://www.gotaport.com:1234/",
            "http://www.gotaport.com/",
            "http://www.gotaport.com:1234/",
        ),
        ("http://example.com:80/", "http://example.com/", "http://example.com/"),
        ("http://example.com:080/", "http://example.com/", "http://example.com/"),
        ("https://example.com:443/", "https://example.com/", "https://example.com/"),
        ("https://example.com:80/", "https://example.com/", "https://example.com:80/"),
        ("http://example.com:443/", "http://example.com/", "http://example.com:443/"),
        ("http://example.com:/", "http://example.com/", "http://example.com/"),
        ("example.com:8080/x?y", "http://example.com/x?y", "http://example.com:8080/x?y"),
        ("http://user:pw@example.com:8080/", "http://example.com/", "http://example.com:8080/"),
    ],
)
def test_keep_port(url: str, sb_form: str, with_port: str) -> None:
    assert canonicalize(url) == sb_form
    assert canonicalize(url, keep_port=True) == with_port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM", "https://example.com/"),
        ("//example.com/a", "http://example.com/a"),
        ("http:example.com/a", "http://example.com/a"),
        ("http:///example.com/a", "http://example.com/a"),
        ("http://example.com?q", "http://example.com/?q"),
        ("http://a@b@example.com/", "http://example.com/"),
        ("http://evil.example\\@good.example/", "http://evil.example/@good.example/"),
        ("http://example.com/a\\b?c\\d", "http://example.com/a/b?c\\d"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/a/./b/.", "http://example.com/a/b/"),
        ("http://example.com/../../a", "http://example.com/a"),
        ("http://example.com/a/%2E%2E/b", "http://example.com/b"),
        ("http://example.com/.hidden/..x/", "http://example.com/.hidden/..x/"),
        ("http://example.com/a//b?c//../d", "http://example.com/a/b?c//../d"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        ("http://example.com/%7euser", "http://example.com/~user"),
        ("http://example.com/a%0ab\t", "http://example.com/a%0Ab"),
        ("http://example.com/%00%7F%FF", "http://example.com/%00%7F%FF"),
        ("\x00\x1f http://example.com/ \x01", "http://example.com/"),
    ],
)
def test_canonical_forms(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_bytes_input_is_not_decoded() -> None:
    assert canonicalize(b"http://example.com/\xe9") == "http://example.com/%E9"
    assert canonicalize("http://example.com/\u00e9") == "http://example.com/%C3%A9"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        (" \t\r\n", "empty"),
        ("#fragment", "empty"),
        ("ftp://example.com/file", "scheme 'ftp'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("JavaScript%3Aalert(1)", "scheme 'javascript'"),
        ("data:text/html,hello", "scheme 'data'"),
        ("mailto:abuse@example.com", "scheme 'mailto'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("ws://example.com/", "scheme 'ws'"),
        ("http://", "no host"),
        ("http:///", "no host"),
        ("http://user@/", "no host"),
        ("http://.../", "no host"),
        ("http://:8080/", "no host"),
        ("/relative/path", "no host"),
        ("?q=1", "no host"),
        ("http://example.com:99999/", "invalid port"),
        ("http://example.com:8o/", "invalid port"),
        ("http://example.com:" + "9" * 5000 + "/", "invalid port"),
        ("http://2001:db8::1/", "brackets"),
        ("http://[2001:db8::1/", "closing ']'"),
        ("http://[2001:db8::1]x/", "after the IPv6 address"),
        ("http://[2001:db8::g]/", "invalid IPv6 address"),
        ("http://[1.2.3.4]/", "invalid IPv6 address"),
        ("http://[fe80::1%25eth0]/", "zone identifiers"),
        ("http://1.2.3.256/", "out of range"),
        ("http://256.1.1.1/", "out of range"),
        ("http://4294967296/", "out of range"),
        ("http://1.2.3.4.5/", "not a valid IPv4"),
        ("http://1.2.3.09/", "not a valid IPv4"),
        ("http://example.0x1f/", "not a valid IPv4"),
        ("http://www.example.123/", "not a valid IPv4"),
        ("http://a<b.example/", "invalid character '<'"),
        ("http://a%5Cb.example/", "invalid character '\\\\'"),
        ("http://a^b.example/", "invalid character '^'"),
        ("http://a%00b.example/", "invalid character"),
        ("http://" + "a" * 64 + ".example/", "longer than 63"),
        ("http://" + "abcdefgh." * 30 + "example/", "longer than 253"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than 8192"),
        ("http://\ud800.example/", "not valid Unicode"),
    ],
)
def test_rejections(url: str, reason: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        canonicalize(url)
    assert reason in caught.value.message
    assert caught.value.status_code == 400


def test_longest_accepted_url() -> None:
    url = "http://example.com/" + "a" * (MAX_URL_LENGTH - len("http://example.com/"))
    assert canonicalize(url) == url
    with pytest.raises(InvalidURL):
        canonicalize(url.encode("ascii") + b"a")


def test_parse_url_with_port_and_credentials() -> None:
    parsed = parse_url("HTTPS://user:pw@A.B.Example.CO.UK:8443/x/../y?q=1#top")
    assert parsed == CanonicalURL(
        url="https://a.b.example.co.uk:8443/y?q=1",
        sb_url="https://a.b.example.co.uk/y?q=1",
        scheme="https",
        host="a.b.example.co.uk",
        port=8443,
        path="/y",
        query="q=1",
        registered_domain="example.co.uk",
        is_ip=False,
    )
    assert parsed.sha256 == hashlib.sha256(b"https://a.b.example.co.uk:8443/y?q=1").hexdigest()


def test_parse_url_ipv6() -> None:
    parsed = parse_url("http://[2001:DB8::1]:8080/a")
    assert parsed.url == "http://[2001:db8::1]:8080/a"
    assert parsed.sb_url == "http://[2001:db8::1]/a"
    assert parsed.host == "2001:db8::1"
    assert parsed.port == 8080
    assert parsed.is_ip
    assert parsed.registered_domain is None


def test_parse_url_defaults() -> None:
    parsed = parse_url("example.com")
    assert (parsed.url, parsed.sb_url) == ("http://example.com/", "http://example.com/")
    assert (parsed.scheme, parsed.port, parsed.path, parsed.query) == ("http", None, "/", None)
    assert parse_url("http://example.com/?").query == ""
    assert parse_url("http://3279880203/").host == "195.127.0.11"
    assert parse_url("http://3279880203/").is_ip


def test_same_site_gives_same_key_and_ports_differ() -> None:
    keys = {
        parse_url(url).sha256
        for url in (
            "http://Example.com/a/b",
            "example.com/a/./b#frag",
            "http://example.com:80//a/b",
            "http://%65xample.com/a/%62",
        )
    }
    assert len(keys) == 1
    assert parse_url("http://example.com:8080/a/b").sha256 not in keys


def test_canonical_url_is_frozen() -> None:
    parsed = parse_url("http://example.com/")
    with pytest.raises(AttributeError):
        parsed.url = "http://other.example/"  # type: ignore[misc]
