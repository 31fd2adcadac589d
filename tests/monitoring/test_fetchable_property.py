"""Every URL intake accepts reaches the fetcher's request without InvalidURL (property test).

Hostile URLs are generated from the characters that broke capture before (controls, zero-width
and non-ASCII characters, escapes, backslashes, several '@', odd ports, missing slashes). Each
one intake accepts is then fetched for real from a local server, its name resolved to
127.0.0.1: the fetch must send the request (or fail with a FetchError, never InvalidURL or
anything else), so no accepted case can have a capture that dies.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from takedown.errors import InvalidURL
from takedown.fetch import FetchError, GuardedFetcher
from takedown.fetch.errors import BadResponse
from takedown.urls.fetchable import accept_url, fetch_target, parse_fetch_url

from .support import LocalServer

_HOSTILE = "\x00\t\n\r\x7f\x85\u200b\u00ad\ufeff\u2028 %@:/\\?#[]ä☃_-."
_HOST_CHARS = st.sampled_from("abcxyz019-_.%") | st.sampled_from(_HOSTILE)
_PATH_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(_HOSTILE)


class _Everywhere:
    """A resolver for which every name is 127.0.0.1 (the server's address)."""

    def resolve(self, host: str, *, timeout: float) -> list[str]:
        return ["127.0.0.1"]


@pytest.fixture(scope="module")
def local() -> Iterator[LocalServer]:
    server = LocalServer().start()
    yield server
    server.close()


def _urls(port: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda scheme, sep, userinfo, host, port_part, path: (
            f"{scheme}{sep}{userinfo}{host}{port_part}{path}"
        ),
        st.sampled_from(["http", "HTTP", "https", ""]),
        st.sampled_from(["://", ":///", ":", "//", ""]),
        st.sampled_from(["", "user:pw@", "a@b@", "evil.example\\@"]),
        st.text(_HOST_CHARS, min_size=1, max_size=20),
        st.sampled_from([f":{port}", ":0", ":", ":1", ":65536", ":x", ""]),
        st.text(_PATH_CHARS, max_size=30).map(lambda p: "/" + p),
    )


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(data=st.data())
@example(data=None)
def test_every_accepted_url_is_fetched_without_invalid_url(
    local: LocalServer, data: st.DataObject | None
) -> None:
    port = local.port
    urls = (
        [
            f"http://a.example:{port}/x\ny",
            f"http://a\u200b.example:{port}/",
            f"http://a%20b.example:{port}/",
            f"http://evil.example\\@good.example:{port}/",
            f"good.example:{port}/plain",
            f"http://a..b.example.:{port}/a b/\u200b?q=ä#frag",
        ]
        if data is None
        else [data.draw(_urls(port))]
    )
    for url in urls:
        _check(local, url)


def _check(local: LocalServer, url: str) -> None:
    try:
        accepted = accept_url(url)
    except InvalidURL:
        return  # refused at intake with a reason: nothing stored, nothing to fetch
    target = fetch_target(parse_fetch_url(accepted.fetch_url))
    # Only names: an IP literal would be connected to as written, and must stay on loopback.
    assume(not target.is_ip)
    fetcher = GuardedFetcher(
        _Everywhere(),
        allow_hosts=[target.host],
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=3.0,
        max_redirects=0,
    )
    try:
        result = fetcher.fetch(accepted.fetch_url)
    except FetchError:
        # Refused or failed as a fetch: capture records it and the case goes to analysts.
        assert target.port != local.port or target.url.scheme == "https", url
        return
    # The request reached the server: a 404 page or one of its images.
    assert result.status in (200, 404), url
    assert target.port == local.port


@pytest.mark.parametrize("location", ["http://a%20b.example/", "http://a.example:0/x"])
def test_a_redirect_to_an_unfetchable_location_is_a_fetch_error(
    local: LocalServer, location: str
) -> None:
    fetcher = GuardedFetcher(_Everywhere(), allow_hosts=["images.test"], total_timeout=3.0)
    with pytest.raises(BadResponse, match="cannot be fetched"):
        fetcher.fetch(local.url(f"/redirect?to={quote(location)}"))
