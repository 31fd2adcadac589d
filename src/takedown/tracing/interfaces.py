"""The outside world tracing talks to, behind small interfaces (see docs/DESIGN.md).

Each has a real implementation (dnspython against a nameserver, the offline dataset shipped
in ``geoip2fast``, RDAP over HTTPS) and tests use the same implementations against local
servers on loopback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class DnsAnswer:
    """The addresses of a host name, with the CNAME chain that led to them.

    ``cname_chain`` lists every name after the queried one, in order (``www.example`` →
    ``example.cdn.net`` → ``edge.cdn.net`` gives the last two). ``rcode`` is the DNS response
    code name of the final answer ("NOERROR", "NXDOMAIN", ...). ``server`` says which
    nameserver answered ("127.0.0.1:5353").
    """

    host: str
    cname_chain: list[str] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    rcode: str = "NOERROR"
    server: str = ""

    @property
    def addresses(self) -> list[str]:
        return [*self.a, *self.aaaa]


class DnsLookupError(Exception):
    """DNS gave no usable answer in time (timeout, SERVFAIL, no server reachable)."""


class DnsLookup(Protocol):
    """Resolves names to every A and AAAA record, and reads TXT records."""

    def addresses(self, host: str) -> DnsAnswer:
        """All A and AAAA records of ``host`` and its CNAME chain.

        A name that does not exist or has no addresses is an answer (empty lists, rcode
        "NXDOMAIN" or "NOERROR"), not an error; :class:`DnsLookupError` means no answer.
        """
        ...

    def txt(self, name: str) -> list[str]:
        """The TXT strings of ``name`` (each record's strings joined), [] when there are none.

        Raises :class:`DnsLookupError` when DNS does not answer.
        """
        ...


@dataclass(frozen=True)
class AsnRecord:
    """The origin AS of an address, as the IP-to-ASN service answers (Team Cymru format)."""

    asn: int
    prefix: str | None
    country: str | None
    registry: str | None


@dataclass(frozen=True)
class IpData:
    """Offline facts about an address."""

    country: str | None
    as_name: str | None
    prefix: str | None


class IpDataSource(Protocol):
    """Country, AS name and prefix of an address from an offline dataset."""

    def lookup(self, ip: str) -> IpData: ...


@dataclass(frozen=True)
class RdapResult:
    """What RDAP said about an address, an ASN or a domain.

    ``ok`` is False when RDAP could not be asked or did not answer (timeout, rate limit,
    server error); the trace then goes on with what it knows and records the failure.
    """

    ok: bool
    kind: Literal["ip", "autnum", "domain"]
    query: str
    status: int | None = None
    name: str | None = None
    handle: str | None = None
    country: str | None = None
    abuse_email: str | None = None
    registrar_name: str | None = None
    registrar_iana_id: str | None = None
    registrar_abuse_email: str | None = None
    error: str | None = None
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


class AsnSource(Protocol):
    """The origin AS of an address (IP-to-ASN over DNS in production and tests)."""

    def origin(self, ip: str) -> AsnRecord | None:
        """The origin AS of ``ip``, None when unknown; raises DnsLookupError without answer."""
        ...


class RdapSource(Protocol):
    """RDAP lookups, cached in the caller's transaction."""

    def ip(self, session: Session, address: str, *, now: datetime) -> RdapResult: ...

    def autnum(self, session: Session, asn: int, *, now: datetime) -> RdapResult: ...

    def domain(self, session: Session, name: str, *, now: datetime) -> RdapResult: ...
