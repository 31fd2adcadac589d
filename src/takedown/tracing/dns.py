"""DNS for tracing: every address of a host with its CNAME chain, TXT records, IP-to-ASN.

``DnspythonLookup`` is the real :class:`~takedown.tracing.interfaces.DnsLookup`: dnspython's
stub resolver against the given nameservers (or the system's), with no cache, so every
lookup is fresh evidence. Tests and the sandbox point it at the authoritative server in
:mod:`takedown.sandbox.dns` on loopback. ``AsnOverDns`` asks Team Cymru's IP-to-ASN service
(https://www.team-cymru.com/ip-asn-mapping) through any ``DnsLookup``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.resolver
import dns.rrset

from takedown.tracing.interfaces import AsnRecord, DnsAnswer, DnsLookup, DnsLookupError

logger = logging.getLogger(__name__)

# dnspython's own per-try default: a lost datagram is retried before the lifetime ends.
PER_TRY_TIMEOUT = 2.0
MAX_ASN = 2**32 - 1


def _endpoint(address: str, port: int) -> str:
    """``ip:port``, with an IPv6 address in brackets so the port stays readable."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class _Nameserver(dns.nameserver.Do53Nameserver):
    """A plain UDP/TCP nameserver that notes, for the calling thread, that it answered.

    dnspython names the answering server on an ``Answer`` but not on NXDOMAIN, which is an
    exception carrying only the responses; the note serves both cases. The resolver returns
    or raises right after the response that settles the query, so the last note is that
    response's server. A thread-local keeps concurrent lookups through one resolver apart.
    """

    def __init__(self, address: str, port: int, answered: threading.local) -> None:
        super().__init__(address, port)
        self._answered = answered

    def __str__(self) -> str:
        # dnspython's error messages name servers with this ("Do53:1.2.3.4@53" otherwise).
        return _endpoint(self.address, self.port)

    def query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        response = super().query(
            request, timeout, source, source_port, max_size, one_rr_per_rrset, ignore_trailing
        )
        self._answered.server = str(self)
        return response


@dataclass(frozen=True)
class _Reply:
    """What one query gave: its rcode, the CNAMEs followed, the final records, who said so."""

    rcode: str
    server: str
    chain: list[str] = field(default_factory=list)
    records: dns.rrset.RRset | None = None


def _chain(cnames: Sequence[dns.rrset.RRset]) -> list[str]:
    return [_text(cast(dns.rdtypes.ANY.CNAME.CNAME, rrset[0]).target) for rrset in cnames]


def _query_name(host: str) -> dns.name.Name:
    """The absolute name to ask for ``host``; Unicode becomes IDNA (2008, UTS 46 mapping)."""
    if not host.strip(". "):
        raise DnsLookupError("cannot look up an empty host name")
    try:
        return dns.name.from_text(host.strip())
    except dns.exception.DNSException as exc:
        raise DnsLookupError(f"{host!r} is not a valid DNS name: {exc}") from exc


class DnspythonLookup:
    """Looks names up with dnspython's stub resolver: no cache, no search list.

    With no ``nameservers`` it uses those of ``resolv_conf``; a missing or empty file makes
    every lookup fail with :class:`DnsLookupError` rather than the constructor. ``timeout``
    bounds each query (``addresses`` makes two, A then AAAA). A server that answers REFUSED
    or SERVFAIL is no answer, like a timeout: :class:`DnsLookupError`.
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        port: int = 53,
        timeout: float = 3.0,
        resolv_conf: str = "/etc/resolv.conf",
    ) -> None:
        if timeout <= 0:
            raise ValueError("the DNS timeout must be positive")
        self._timeout = timeout
        self._answered = threading.local()
        self._problem: str | None = None
        addresses = list(nameservers)
        if not addresses:
            try:
                system = dns.resolver.Resolver(filename=resolv_conf)
            except dns.resolver.NoResolverConfiguration as exc:
                self._problem = f"no DNS server is configured ({resolv_conf}: {exc})"
            else:
                addresses = [ns for ns in system.nameservers if isinstance(ns, str)]
        for address in addresses:
            ipaddress.ip_address(address)  # a typo in settings fails here, not at first use
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [_Nameserver(a, port, self._answered) for a in addresses]
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, PER_TRY_TIMEOUT)
        self._resolver.cache = None

    @property
    def nameservers(self) -> list[str]:
        """The servers asked, as ``ip:port``."""
        return [str(ns) for ns in self._resolver.nameservers]

    def addresses(self, host: str) -> DnsAnswer:
        """All A and AAAA records of ``host`` with the CNAME chain (see ``DnsLookup``).

        An IP address given as the host is its own answer, without a query. ``host`` in the
        answer is the name queried: lower-case, IDNA, without the final dot.
        """
        literal = _ip_literal(host)
        if literal is not None:
            version4 = literal.version == 4
            return DnsAnswer(
                host=str(literal),
                a=[str(literal)] if version4 else [],
                aaaa=[] if version4 else [str(literal)],
            )
        name = _query_name(host)
        a = self._query(host, name, dns.rdatatype.A)
        if a.rcode == "NXDOMAIN":
            # The name does not exist for any type: asking for AAAA would only add a delay.
            return DnsAnswer(host=_text(name), cname_chain=a.chain, rcode=a.rcode, server=a.server)
        aaaa = self._query(host, name, dns.rdatatype.AAAA)
        return DnsAnswer(
            host=_text(name),
            cname_chain=a.chain or aaaa.chain,
            a=_values(a.records),
            aaaa=_values(aaaa.records),
            rcode=a.rcode,
            server=a.server,
        )

    def txt(self, name: str) -> list[str]:
        """Each TXT record of ``name`` as one string (its parts joined, UTF-8 decoded)."""
        reply = self._query(name, _query_name(name), dns.rdatatype.TXT)
        if reply.records is None:
            return []
        return [
            b"".join(cast(dns.rdtypes.ANY.TXT.TXT, rdata).strings).decode("utf-8", "replace")
            for rdata in reply.records
        ]

    def _query(self, host: str, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> _Reply:
        kind = dns.rdatatype.to_text(rdtype)
        if self._problem is not None:
            raise DnsLookupError(f"cannot look up {host!r}: {self._problem}")
        self._answered.server = ""
        try:
            answer = self._resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            response = cast(dict[dns.name.Name, dns.message.Message], exc.kwargs["responses"])
            chain = _nxdomain_chain(response.get(name))
            return _Reply("NXDOMAIN", self._answered.server, chain)
        except dns.exception.Timeout as exc:
            raise DnsLookupError(
                f"no DNS answer for {host!r} ({kind}) within {self._timeout:g} s"
                f" from {', '.join(self.nameservers)}"
            ) from exc
        except dns.resolver.NoNameservers as exc:
            # The message lists each server with what it said (SERVFAIL, REFUSED, an error).
            raise DnsLookupError(f"no usable DNS answer for {host!r} ({kind}): {exc}") from exc
        except dns.exception.DNSException as exc:
            raise DnsLookupError(f"DNS lookup of {host!r} ({kind}) failed: {exc}") from exc
        chain = _chain(answer.chaining_result.cnames)
        return _Reply("NOERROR", self._answered.server, chain, answer.rrset)


def _nxdomain_chain(response: dns.message.Message | None) -> list[str]:
    """The CNAMEs that led to a name that does not exist (the rcode is the last name's)."""
    if not isinstance(response, dns.message.QueryMessage):
        return []
    try:
        return _chain(response.resolve_chaining().cnames)
    except dns.exception.DNSException:
        return []


def _values(records: dns.rrset.RRset | None) -> list[str]:
    return [rdata.to_text() for rdata in records] if records is not None else []


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def asn_query_name(
    ip: str, zone4: str = "origin.asn.cymru.com", zone6: str = "origin6.asn.cymru.com"
) -> str:
    """The name whose TXT record gives the origin AS of ``ip`` (Team Cymru's layout).

    IPv4 reverses the octets (192.0.2.10 → ``10.2.0.192.<zone4>``); IPv6 reverses the 16
    nibbles of the first 64 bits, the longest prefix announced globally. An IPv4-mapped IPv6
    address is asked as the IPv4 address it carries. Raises ValueError for a non-address.
    """
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        labels, zone = str(address).split("."), zone4
    else:
        labels, zone = list(f"{int(address) >> 64:016x}"), zone6
    return ".".join([*reversed(labels), zone.strip(".")])


def _parse_origin(text: str) -> AsnRecord | None:
    """One origin TXT: ``"13335 | 1.1.1.0/24 | AU | apnic | 2011-08-11"``; None if malformed.

    The first field lists every origin AS of a multi-origin prefix, separated by spaces; the
    first is kept. Empty fields are None.
    """
    fields = [part.strip() for part in text.split("|")]
    asns = fields[0].split()
    # isascii: int() would accept other scripts' digits, which no registry publishes.
    if not asns or not (asns[0].isascii() and asns[0].isdigit()):
        return None
    asn = int(asns[0])
    if not 0 < asn <= MAX_ASN:
        return None
    fields += [""] * (4 - len(fields))
    prefix = None
    if fields[1]:
        try:
            prefix = str(ipaddress.ip_network(fields[1], strict=False))
        except ValueError:
            return None
    country = fields[2].upper() if len(fields[2]) == 2 and fields[2].isalpha() else None
    return AsnRecord(asn=asn, prefix=prefix, country=country, registry=fields[3].lower() or None)


class AsnOverDns:
    """The origin AS of an address from an IP-to-ASN zone in Team Cymru's format.

    :class:`DnsLookupError` propagates, so the caller can record that DNS failed; an address
    without a record, or with only malformed ones, is None.
    """

    def __init__(
        self,
        lookup: DnsLookup,
        *,
        zone4: str = "origin.asn.cymru.com",
        zone6: str = "origin6.asn.cymru.com",
    ) -> None:
        self._lookup = lookup
        self._zone4 = zone4
        self._zone6 = zone6

    def origin(self, ip: str) -> AsnRecord | None:
        """The AS announcing the most specific prefix that covers ``ip``, or None."""
        name = asn_query_name(ip, self._zone4, self._zone6)
        texts = self._lookup.txt(name)
        records = [record for text in texts if (record := _parse_origin(text)) is not None]
        if len(records) < len(texts):
            logger.debug("ignoring malformed IP-to-ASN answers for %s: %r", ip, texts)
        if not records:
            return None
        # Several records mean several announced prefixes cover the address; routing
        # follows the longest one, and so do we.
        return max(records, key=_prefix_length)


def _prefix_length(record: AsnRecord) -> int:
    return ipaddress.ip_network(record.prefix).prefixlen if record.prefix else -1
