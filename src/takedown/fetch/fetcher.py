"""The guarded fetcher: how Takedown downloads a reported URL without being turned against itself.

A reported URL is hostile input. Fetching it must never reach the hotline's own network (cloud
metadata at 169.254.169.254, an admin console on 10.x, a database on localhost), however the URL
is spelled, wherever it redirects, and whatever DNS answers between the check and the connection.
For every hop the fetcher:

1. accepts only http and https, and turns the host into canonical form (so ``0x7f000001`` and
   ``[::ffff:127.0.0.1]`` are seen as the IPv4 address they are);
2. resolves the host ONCE and refuses unless every address is public (or the host is in
   ``allow_hosts``, which is how the sandbox and tests reach loopback);
3. connects to that checked address, never to the name: the URL sent to httpx holds the IP, the
   ``Host`` header holds the name, and for https the TLS server name (SNI) and the certificate
   check use the name through httpx's ``sni_hostname`` extension. A second DNS answer (rebinding)
   is therefore never asked for, and the certificate still has to be valid for the name;
4. follows redirects itself, running each new URL through the same steps, up to a bound.

Each hop uses a fresh httpx transport with ``trust_env=False`` (no proxies or certificates from
the environment) and no client around it: no cookie jar, no credentials taken from the URL, and
no connection reused, so a pooled connection made for one name is never reused for another name
on the same IP with the wrong SNI.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import httpx

from takedown.errors import ConfigurationError
from takedown.fetch.errors import (
    BadResponse,
    ConnectionFailed,
    FetchError,
    FetchTimeout,
    TooManyRedirects,
)
from takedown.fetch.limits import (
    DEFAULT_CONTENT_TYPES,
    ContentTypes,
    Deadline,
    check_declared_length,
    media_type_of,
    read_body,
)
from takedown.fetch.resolver import Resolver
from takedown.fetch.targets import (
    Target,
    allow_entry,
    checked_addresses,
    parse_url_to_fetch,
    pinned_request,
    redirect_target,
    target_of,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Operators should set their own, naming the hotline and a contact URL.
DEFAULT_USER_AGENT = "Takedown/0.1 (notice-and-takedown fetcher)"
# Images and HTML first; anything else the server might prefer is still acceptable to ask for,
# the content-type allow-list decides what we keep.
ACCEPT = "image/*,video/*,text/html;q=0.9,*/*;q=0.1"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch brought back: the final response of a (possibly redirected) request.

    ``body`` is empty for responses that are not 2xx (their body is not read: a 404 page is not
    media, and its status is all a removal check needs). ``redirects`` lists each URL redirected
    to, in order, so ``final_url`` is its last entry when there were redirects. ``address`` is the
    IP address the final response came from.
    """

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    redirects: list[str] = field(default_factory=list)
    address: str = ""

    @property
    def media_type(self) -> str:
        """The lowercase ``type/subtype`` of ``content_type``, without parameters."""
        return media_type_of(self.content_type)

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of ``content_type``, if the server sent one."""
        for param in self.content_type.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"').lower()
        return None

    @property
    def ok(self) -> bool:
        """Was the final status 2xx?"""
        return 200 <= self.status < 300


class Fetcher(Protocol):
    """Something that downloads a URL under Takedown's safety limits."""

    def fetch(self, url: str) -> FetchResult:
        """Fetch ``url``, following redirects; raise a :class:`FetchError` on refusal or failure."""
        ...


class GuardedFetcher:
    """The real fetcher: DNS pinned per hop, public addresses only, bounded in every way."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_hosts: Collection[str] = frozenset(),
        max_bytes: int = 50 * 1024 * 1024,
        max_redirects: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        total_timeout: float = 60.0,
        user_agent: str = DEFAULT_USER_AGENT,
        allowed_content_types: Collection[str] = DEFAULT_CONTENT_TYPES,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        if max_bytes < 1 or max_redirects < 0:
            raise ConfigurationError("max_bytes must be positive and max_redirects not negative")
        if min(connect_timeout, read_timeout, total_timeout) <= 0:
            raise ConfigurationError("fetch timeouts must be positive")
        self._resolver = resolver
        self._allow = frozenset(allow_entry(entry) for entry in allow_hosts)
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._user_agent = user_agent
        self._content_types = ContentTypes(allowed_content_types)
        self._ssl = verify if verify is not None else default_ssl_context()

    def fetch(self, url: str) -> FetchResult:
        """Fetch ``url`` under every limit; see the module docstring for the steps of a hop."""
        deadline = Deadline(self._total_timeout)
        target = target_of(parse_url_to_fetch(url))
        redirects: list[str] = []
        while True:
            hop = self._hop(target, deadline)
            if hop.location is None:
                return FetchResult(
                    url=url,
                    final_url=str(target.url),
                    status=hop.status,
                    content_type=hop.content_type,
                    body=hop.body,
                    redirects=redirects,
                    address=hop.address,
                )
            if len(redirects) >= self._max_redirects:
                raise TooManyRedirects(
                    f"{url} redirected more than {self._max_redirects} times "
                    f"(the next hop would be {hop.location[:200]})",
                    url=url,
                    redirects=redirects,
                )
            target = target_of(redirect_target(target.url, hop.location))
            redirects.append(str(target.url))

    def _hop(self, target: Target, deadline: Deadline) -> _Hop:
        """Resolve and check the host once, then try its checked addresses in order."""
        addresses = self._addresses(target, deadline)
        failures: list[str] = []
        for address in addresses:
            deadline.check(str(target.url))
            try:
                return self._request(target, address, deadline)
            except _Unreachable as exc:
                # Every address was checked, so trying the next one is still pinned: no new
                # lookup happens, as a browser falls back between the addresses of one answer.
                failures.append(f"{address}: {exc}")
        raise ConnectionFailed(
            f"could not connect to {target.host} for {target.url} ({'; '.join(failures)})",
            url=str(target.url),
            host=target.host,
        )

    def _addresses(self, target: Target, deadline: Deadline) -> list[str]:
        """The checked addresses to connect to: all public, or the host is allow-listed."""
        if not target.is_ip:
            deadline.check(str(target.url))
        timeout = min(self._connect_timeout, deadline.remaining())
        return checked_addresses(target, self._resolver, self._allow, timeout)

    def _request(self, target: Target, address: str, deadline: Deadline) -> _Hop:
        """Send the GET to the pinned ``address`` and read the response under the limits."""
        shown = str(target.url)
        remaining = deadline.remaining()
        connect = min(self._connect_timeout, remaining)
        read = min(self._read_timeout, remaining)
        timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
        headers = {
            "Host": target.host_header,
            "User-Agent": self._user_agent,
            "Accept": ACCEPT,
            # We inflate gzip ourselves, under the byte limit, if a server ignores this.
            "Accept-Encoding": "identity",
        }
        request = pinned_request("GET", target, address, headers=headers, timeout=timeout)
        # A bare transport, not a Client: no cookie jar, no auth from the URL, no redirect
        # handling of its own (a Client even parses Location when not following it).
        with httpx.HTTPTransport(verify=self._ssl, trust_env=False) as transport:
            try:
                response = transport.handle_request(request)
                try:
                    return self._read(target, address, response, deadline)
                finally:
                    response.close()
            except httpx.TimeoutException as exc:
                # A limit cut short by the total deadline is reported as the total one.
                deadline.check(shown)
                phase = _phase(exc)
                seconds = self._connect_timeout if phase == "connect" else self._read_timeout
                raise FetchTimeout(
                    f"fetching {shown} from {address} took longer than the {phase} limit "
                    f"of {seconds:g} s",
                    url=shown,
                    phase=phase,
                ) from None
            except httpx.ConnectError as exc:
                raise _Unreachable(str(exc) or type(exc).__name__) from None
            except httpx.TransportError as exc:
                raise BadResponse(f"{shown} sent a broken response: {exc}", url=shown) from None

    def _read(
        self, target: Target, address: str, response: httpx.Response, deadline: Deadline
    ) -> _Hop:
        """Turn a response into a hop: a redirect to follow, or a final status and body."""
        shown = str(target.url)
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        location = response.headers.get("Location")
        if status in REDIRECT_STATUSES and location is not None:
            return _Hop(status, content_type, b"", address, location)
        if not 200 <= status < 300:
            return _Hop(status, content_type, b"", address, None)
        self._content_types.check(shown, content_type)
        check_declared_length(shown, response.headers.get("Content-Length"), self._max_bytes)
        body = read_body(
            response.iter_raw(),
            url=shown,
            content_encoding=response.headers.get("Content-Encoding", ""),
            max_bytes=self._max_bytes,
            deadline=deadline,
        )
        return _Hop(status, content_type, body, address, None)


class StaticFetcher:
    """The local fetcher: canned results or errors by URL, for tests of what uses a fetcher."""

    def __init__(self, responses: Mapping[str, FetchResult | FetchError] | None = None) -> None:
        self.responses: dict[str, FetchResult | FetchError] = dict(responses or {})
        self.requested: list[str] = []

    def fetch(self, url: str) -> FetchResult:
        """Return (or raise) what was set up for ``url``; an unknown URL fails to connect."""
        self.requested.append(url)
        answer = self.responses.get(url)
        if answer is None:
            raise ConnectionFailed(f"no response is set up for {url}", url=url)
        if isinstance(answer, FetchError):
            raise answer
        return answer


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's CA bundle (certifi), ignoring SSL_CERT_FILE/DIR; loaded once per process.

    Loading it costs ~20 ms, which every capture and re-check (each builds a fetcher) would
    otherwise pay; a context is safe to share between threads once configured.
    """
    return httpx.create_ssl_context(trust_env=False)


class _Hop(NamedTuple):
    """One response of a redirect chain: a ``location`` to follow, or the final answer."""

    status: int
    content_type: str
    body: bytes
    address: str
    location: str | None


class _Unreachable(Exception):
    """This address did not take the connection (refused, unreachable, TLS failed)."""


def _phase(exc: httpx.TimeoutException) -> str:
    """Which of our limits an httpx timeout corresponds to."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "connect"
    return "read" if isinstance(exc, httpx.ReadTimeout) else "write"
