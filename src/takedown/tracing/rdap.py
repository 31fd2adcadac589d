"""The RDAP client tracing asks for network names, abuse contacts and registrars (RFC 9082/9083).

By default queries go to rdap.org, which answers with a redirect to the registry that holds the
object (RIPE, ARIN, Verisign, ...). Three things keep the client a good citizen:

- answers are cached in the database (``rdap_cache``) for ``cache_ttl``, shared by every worker,
  in the caller's transaction; "nothing registered" (404) is cached too, failures are not;
- a token bucket per client bounds the request rate (registries block clients that ask fast);
- every answer is bounded: a total time limit, at most three redirects, at most 1 MiB of JSON.

RDAP JSON comes from the internet and is parsed as hostile (:mod:`takedown.tracing.rdap_parse`):
wrong types yield ``None``, never an exception. Neither the document nor its personal data
(registrant names, addresses, phones) is kept: the cache and :attr:`RdapResult.raw` hold only
the few facts tracing uses.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Self

import httpx
import idna
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from takedown.config import Settings
from takedown.errors import ConfigurationError, ValidationFailed
from takedown.fetch.errors import FetchError, FetchTimeout, ResponseTooLarge
from takedown.fetch.limits import Deadline, check_declared_length, read_body
from takedown.tracing.interfaces import RdapResult
from takedown.tracing.models import RdapCacheEntry
from takedown.tracing.rdap_parse import (
    MAX_ENTITIES,
    MAX_ENTITY_DEPTH,
    MAX_TEXT,
    RAW_FIELDS,
    Kind,
    as_dict,
    document_facts,
    result_from_facts,
)

__all__ = [
    "ACCEPT",
    "MAX_ASN",
    "MAX_BYTES",
    "MAX_ENTITIES",
    "MAX_ENTITY_DEPTH",
    "MAX_REDIRECTS",
    "MAX_TEXT",
    "RAW_FIELDS",
    "REDIRECT_STATUSES",
    "Kind",
    "RdapClient",
    "TokenBucket",
]

log = logging.getLogger(__name__)

MAX_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "application/rdap+json, application/json"
MAX_ASN = 2**32 - 1


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens a second, at most ``burst`` saved up.

    A caller that has to wait reserves its token before sleeping (the count goes negative), so
    waiting threads are served in turn and together never exceed the rate.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ConfigurationError(
                "a token bucket needs a positive rate and a burst of at least 1"
            )
        self._rate = rate
        self._burst = burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = burst
        self._updated = monotonic()

    def acquire(self, max_wait: float) -> bool:
        """Take a token, waiting for it up to ``max_wait`` seconds; False (and none taken) if
        it would take longer."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate
            if wait > max_wait:
                return False
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)
        return True


class RdapClient:
    """RDAP over HTTP(S), cached in the database and rate-limited; one per process and settings.

    Thread-safe: the HTTP client's connection pool and the token bucket are shared by threads.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        rate_per_second: float,
        cache_ttl: timedelta,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = httpx.URL(base_url.strip().rstrip("/"))
        if base.scheme not in ("http", "https") or not base.host:
            raise ConfigurationError("the RDAP base URL must be an http(s) URL")
        if timeout <= 0 or rate_per_second <= 0 or cache_ttl <= timedelta(0):
            raise ConfigurationError("RDAP timeout, rate and cache TTL must be positive")
        self.base_url = str(base).rstrip("/")
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self._bucket = TokenBucket(rate_per_second, min(2.0, max(1.0, rate_per_second)))
        # trust_env=False: no proxies or certificates from the environment (only Settings reads it).
        # Redirects are followed by hand, so a redirect's body is never read and the total
        # time limit covers every hop.
        self._client = httpx.Client(
            headers={
                "Accept": ACCEPT,
                "User-Agent": user_agent,
                # Decoded by read_body with a bounded output size, so a gzip bomb stays small.
                "Accept-Encoding": "gzip",
            },
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RdapClient | None:
        """The client the settings ask for, or None when RDAP is disabled (empty base URL)."""
        if not settings.rdap_base_url.strip():
            return None
        return cls(
            base_url=settings.rdap_base_url,
            timeout=settings.rdap_timeout,
            rate_per_second=settings.rdap_rate_per_second,
            cache_ttl=settings.rdap_cache_ttl,
            user_agent=settings.fetch_user_agent,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ip(self, session: Session, address: str, *, now: datetime) -> RdapResult:
        """The network ``address`` belongs to: name, handle, country, abuse contact."""
        return self._lookup(session, "ip", _ip_query(address), now=now)

    def autnum(self, session: Session, asn: int, *, now: datetime) -> RdapResult:
        """The autonomous system ``asn``: name, handle, abuse contact."""
        if isinstance(asn, bool) or not isinstance(asn, int) or not 0 < asn <= MAX_ASN:
            raise ValidationFailed(f"an AS number is an integer from 1 to {MAX_ASN}")
        return self._lookup(session, "autnum", str(asn), now=now)

    def domain(self, session: Session, name: str, *, now: datetime) -> RdapResult:
        """The registered domain ``name`` (Unicode or IDNA): registrar and abuse contacts."""
        return self._lookup(session, "domain", _domain_query(name), now=now)

    def _lookup(self, session: Session, kind: Kind, query: str, *, now: datetime) -> RdapResult:
        if now.tzinfo is None:
            raise ValidationFailed("now must be timezone-aware")
        key = f"{kind}/{query}"
        row = session.execute(
            select(RdapCacheEntry.status, RdapCacheEntry.body).where(
                RdapCacheEntry.key == key, RdapCacheEntry.expires_at > now
            )
        ).one_or_none()
        if row is not None:
            return result_from_facts(kind, query, row.status, as_dict(row.body), cached=True)
        try:
            status, document = self._fetch(key)
        except _Failed as failed:
            # The query is an address, ASN or domain from a report, never a person's data.
            log.info("RDAP %s failed: %s", key, failed.reason)
            return RdapResult(ok=False, kind=kind, query=query, error=failed.reason)
        body = document_facts(kind, document) if document is not None else {}
        self._store(session, key, status, body, now=now)
        return result_from_facts(kind, query, status, body, cached=False)

    def _store(
        self, session: Session, key: str, status: int, body: dict[str, Any], *, now: datetime
    ) -> None:
        """Insert or refresh the cache entry.

        An upsert rather than look-then-insert: two workers tracing the same network at once
        both get here, and the loser must not fail its whole transaction on the primary key.
        """
        values = {
            "key": key,
            "fetched_at": now,
            "expires_at": now + self.cache_ttl,
            "status": status,
            "body": body,
        }
        dialect_insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        statement = dialect_insert(RdapCacheEntry).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={name: statement.excluded[name] for name in values if name != "key"},
        )
        session.execute(statement)

    def _fetch(self, path: str) -> tuple[int, dict[str, Any] | None]:
        """GET ``{base}/{path}`` under every limit: (200, document) or (404, None), or _Failed."""
        if not self._bucket.acquire(self.timeout):
            raise _Failed("rate limited locally")
        deadline = Deadline(self.timeout)
        url = httpx.URL(f"{self.base_url}/{path}")
        try:
            for _ in range(MAX_REDIRECTS + 1):
                deadline.check(path)
                timeout = min(self.timeout, max(deadline.remaining(), 0.001))
                request = self._client.build_request("GET", url, timeout=timeout)
                response = self._client.send(request, stream=True)
                try:
                    if response.status_code not in REDIRECT_STATUSES:
                        return self._answer(response, path, deadline)
                    url = _redirect_target(response)
                finally:
                    response.close()
        except (httpx.TimeoutException, FetchTimeout):
            raise _Failed(f"timed out after {self.timeout:g} s") from None
        except ResponseTooLarge:
            raise _Failed("answer larger than 1 MiB") from None
        except FetchError:
            raise _Failed("broken answer") from None
        except httpx.ConnectError:
            raise _Failed("could not connect") from None
        except (httpx.TransportError, httpx.InvalidURL):
            raise _Failed("broken answer") from None
        raise _Failed(f"more than {MAX_REDIRECTS} redirects")

    def _answer(
        self, response: httpx.Response, path: str, deadline: Deadline
    ) -> tuple[int, dict[str, Any] | None]:
        status = response.status_code
        if status == 404:
            # Nothing registered; the error body says no more than the status.
            return 404, None
        if status == 429:
            raise _Failed("rate limited by the server (HTTP 429)")
        if status != 200:
            raise _Failed(f"HTTP {status}")
        check_declared_length(path, response.headers.get("Content-Length"), MAX_BYTES)
        body = read_body(
            response.iter_raw(),
            url=path,
            content_encoding=response.headers.get("Content-Encoding", ""),
            max_bytes=MAX_BYTES,
            deadline=deadline,
        )
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            # ValueError covers bad JSON, bad UTF-8 and over-long integers.
            raise _Failed("answer is not JSON") from None
        if not isinstance(document, dict):
            raise _Failed("answer is not an RDAP object")
        return 200, document


class _Failed(Exception):
    """RDAP gave no usable answer; ``reason`` is short and safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _redirect_target(response: httpx.Response) -> httpx.URL:
    location = response.headers.get("Location")
    if not location:
        raise _Failed(f"HTTP {response.status_code} without a Location")
    target = response.url.join(location)
    if target.scheme not in ("http", "https") or not target.host:
        raise _Failed("redirect to a URL that is not http(s)")
    return target


def _ip_query(address: str) -> str:
    if not isinstance(address, str):
        raise ValidationFailed("an IP address is a string")
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        raise ValidationFailed(f"{address[:60]!r} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise ValidationFailed("an IP address for RDAP has no zone index")
    return ip.compressed


def _domain_query(name: str) -> str:
    """The domain in lowercase IDNA (A-label) form, or ValidationFailed."""
    if not isinstance(name, str):
        raise ValidationFailed("a domain name is a string")
    shown = name[:80]
    text = name.strip()
    text = text.removesuffix(".")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (UnicodeError, ValueError):
        raise ValidationFailed(f"{shown!r} is not a valid domain name") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(labels) or len(ascii_name) > 253 or labels[-1].isdigit():
        raise ValidationFailed(f"{shown!r} is not a registrable domain name")
    return ascii_name
