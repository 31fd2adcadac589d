"""A small authoritative DNS server on loopback, for the sandbox and tests.

It speaks real DNS over UDP and TCP on one port, so the code under test goes through the same
dnspython resolver, truncation and TCP fallback as in production, only against names the test
controls. Records change while it runs (``set``, ``delete``): the sandbox "moves" a host that
way. It answers like an authoritative server (BIND is the reference): AA set, REFUSED outside
its zones, NXDOMAIN or NODATA with the zone's SOA, in-zone CNAME chains followed, UDP answers
truncated to the client's limit. It never recurses and keeps no cache.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import socket
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Self, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.rrset

from takedown.sandbox.serving import BackgroundServer, start_thread

logger = logging.getLogger(__name__)

Transport = Literal["udp", "tcp"]

SUPPORTED_TYPES = frozenset(
    {
        dns.rdatatype.A,
        dns.rdatatype.AAAA,
        dns.rdatatype.CNAME,
        dns.rdatatype.TXT,
        dns.rdatatype.NS,
    }
)
# BIND gives up after 16 CNAMEs too; it also stops a loop in the data.
MAX_CHAIN = 16
# A TCP client that sends nothing for this long is dropped, so no thread waits forever.
TCP_IDLE_TIMEOUT = 10.0
# A UDP answer never exceeds 512 bytes without EDNS (RFC 1035 section 4.2.1).
CLASSIC_UDP_LIMIT = 512
MAX_MESSAGE = 65535
SOA_TTL = 60
REMEMBERED_QUERIES = 10_000


@dataclass(frozen=True)
class ReceivedQuery:
    """One query the server read: the name and type asked, and the transport it came over."""

    name: str
    rdtype: str
    transport: Transport


@dataclass(frozen=True)
class _RecordSet:
    ttl: int
    rdatas: tuple[dns.rdata.Rdata, ...]


class _Malformed(Exception):
    """The bytes received are not a DNS query we can answer; drop them."""


def _name(text: str) -> dns.name.Name:
    """An absolute DNS name; Unicode is converted to IDNA, as the lookup side does."""
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise ValueError(f"{text!r} is not a valid DNS name: {exc}") from None


def _rdtype(text: str) -> dns.rdatatype.RdataType:
    try:
        rdtype = dns.rdatatype.from_text(text.upper())
    except dns.rdatatype.UnknownRdatatype:
        rdtype = None
    if rdtype not in SUPPORTED_TYPES:
        raise ValueError(f"record type {text!r} is not supported (A, AAAA, CNAME, TXT, NS)")
    return rdtype


def _rdata(rdtype: dns.rdatatype.RdataType, value: str) -> dns.rdata.Rdata:
    """Build one record from its plain value: an address, a target name or a TXT text."""
    if rdtype == dns.rdatatype.TXT:
        raw = value.encode()
        # One TXT character-string holds at most 255 bytes; longer texts become several
        # strings of one record, which clients join (RFC 7208 section 3.3 does the same).
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, rdtype, chunks)
    if rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS):
        value = _name(value).to_text()
    try:
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, relativize=False)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"{value!r} is not a valid {rdtype.name} value: {exc}") from None


class AuthoritativeDnsServer(BackgroundServer):
    """An authoritative nameserver for a few zones, on one loopback port over UDP and TCP.

    Every method may be called from any thread while it serves; a change applies to the next
    query. Names are case-insensitive and may be given in Unicode (stored in IDNA form).
    """

    def __init__(self, zones: Iterable[str], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._zones = sorted({_name(zone) for zone in zones}, key=len, reverse=True)
        if not self._zones:
            raise ValueError("an authoritative server needs at least one zone")
        self._family = (
            socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
        )
        self._host = host
        self._wanted_port = port
        self._records: dict[dns.name.Name, dict[dns.rdatatype.RdataType, _RecordSet]] = {}
        self._blackholed: set[dns.name.Name] = set()
        self._failing: dict[dns.name.Name, dns.rcode.Rcode] = {}
        # The sandbox may run for days: remember the latest queries, count them all.
        self._received: deque[ReceivedQuery] = deque(maxlen=REMEMBERED_QUERIES)
        self._query_count = 0
        self._serial = 1
        self._lock = threading.Lock()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        # stop() writes to the second socket to wake the serving thread out of select().
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind the UDP and TCP sockets and serve in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the DNS server is already started")
        self._udp, self._tcp = self._bind()
        self._wake = socket.socketpair()
        self._thread = start_thread(
            self._serve, self._udp, self._tcp, self._wake[0], name=f"dns server {self.address}"
        )
        return self

    def stop(self) -> None:
        """Stop serving, close every socket and wait for the threads; safe to call twice."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            connections = list(self._connections.items())
        for connection, _ in connections:
            # shutdown() wakes a thread blocked in recv() on the connection; close() does not.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(5)
        for sock in (self._udp, self._tcp, *(self._wake or ())):
            if sock is not None:
                sock.close()

    def _is_started(self) -> bool:
        return self._thread is not None

    @property
    def port(self) -> int:
        """The port it serves on (both UDP and TCP)."""
        if self._udp is None:
            raise RuntimeError("the DNS server is not started")
        return int(self._udp.getsockname()[1])

    @property
    def host(self) -> str:
        return self._host

    @property
    def address(self) -> str:
        """``host:port`` as a resolver reports the server it asked (IPv6 in brackets)."""
        host = f"[{self._host}]" if self._family == socket.AF_INET6 else self._host
        return f"{host}:{self.port}"

    # -- data ----------------------------------------------------------------------------------

    def set(self, name: str, rdtype: str, *values: str, ttl: int = 300) -> None:
        """Replace the ``rdtype`` records of ``name`` with ``values`` (plain strings).

        A CNAME takes exactly one target and cannot share its name with other records, as in
        a real zone; delete the others first.
        """
        owner, kind = self._owner(name), _rdtype(rdtype)
        if not values:
            raise ValueError("set() needs at least one value; use delete() to remove records")
        # An rdataset holds each value once; keep the caller's order for the rest.
        rdatas = tuple(dict.fromkeys(_rdata(kind, value) for value in values))
        if kind == dns.rdatatype.CNAME and len(rdatas) != 1:
            raise ValueError(f"a CNAME has exactly one target, not {len(rdatas)}")
        with self._lock:
            node = self._records.setdefault(owner, {})
            others = set(node) - {kind}
            if others and dns.rdatatype.CNAME in {kind, *others}:
                raise ValueError(
                    f"{owner} cannot have a CNAME and other records; delete the others first"
                )
            node[kind] = _RecordSet(ttl, rdatas)
            self._serial += 1

    def delete(self, name: str, rdtype: str | None = None) -> None:
        """Remove the ``rdtype`` records of ``name``, or all of its records; absent is fine."""
        owner = _name(name)
        kind = _rdtype(rdtype) if rdtype is not None else None
        with self._lock:
            node = self._records.get(owner, {})
            if kind is None:
                node.clear()
            else:
                node.pop(kind, None)
            if not node:
                self._records.pop(owner, None)
            self._serial += 1

    def blackhole(self, name: str) -> None:
        """Never answer queries for ``name`` (any type, any transport): clients time out."""
        with self._lock:
            self._blackholed.add(_name(name))

    def fail(self, name: str, rcode: str = "SERVFAIL") -> None:
        """Answer queries for ``name`` with an error code only, as a broken server would."""
        try:
            code = dns.rcode.from_text(rcode)
        except dns.rcode.UnknownRcode:
            raise ValueError(f"{rcode!r} is not a DNS response code") from None
        with self._lock:
            self._failing[_name(name)] = code

    def heal(self, name: str) -> None:
        """Undo ``blackhole`` and ``fail`` for ``name``."""
        owner = _name(name)
        with self._lock:
            self._blackholed.discard(owner)
            self._failing.pop(owner, None)

    @property
    def queries(self) -> int:
        """How many queries the server has read (answered or not)."""
        with self._lock:
            return self._query_count

    @property
    def received(self) -> list[ReceivedQuery]:
        """The queries read so far (the latest 10,000), oldest first; a copy."""
        with self._lock:
            return list(self._received)

    def _owner(self, name: str) -> dns.name.Name:
        owner = _name(name)
        if self._zone_of(owner) is None:
            zones = ", ".join(zone.to_text() for zone in self._zones)
            raise ValueError(f"{owner} is in none of this server's zones ({zones})")
        return owner

    def _zone_of(self, name: dns.name.Name) -> dns.name.Name | None:
        # Zones are sorted longest first, so a child zone wins over its parent.
        return next((zone for zone in self._zones if name.is_subdomain(zone)), None)

    # -- answering -------------------------------------------------------------------------------

    def _answer(self, wire: bytes, transport: Transport) -> bytes | None:
        """The wire response to one query, or None to stay silent; raises ``_Malformed``."""
        try:
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
        except (dns.exception.DNSException, ValueError) as exc:
            # make_response() refuses messages that are themselves responses: answering
            # those could start a loop between two servers.
            raise _Malformed(str(exc)) from exc
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        else:
            question = query.question[0]
            with self._lock:
                self._query_count += 1
                self._received.append(
                    ReceivedQuery(
                        question.name.to_text(omit_final_dot=True).lower(),
                        dns.rdatatype.to_text(question.rdtype),
                        transport,
                    )
                )
                if question.name in self._blackholed:
                    return None
                self._fill(response, question)
        if transport == "tcp":
            limit = MAX_MESSAGE
        elif query.edns < 0:
            limit = CLASSIC_UDP_LIMIT
        else:
            limit = max(CLASSIC_UDP_LIMIT, query.payload)
        # prefer_truncation drops whole RRsets that do not fit and sets TC, so the client
        # retries over TCP (RFC 2181 section 9). dnspython shuffles records by default, as
        # servers that rotate do; a fixed order keeps tests that list addresses repeatable.
        return response.to_wire(max_size=limit, prefer_truncation=True, want_shuffle=False)

    def _fill(self, response: dns.message.Message, question: dns.rrset.RRset) -> None:
        """Put the answer to ``question`` into ``response``; the caller holds the lock."""
        if question.rdclass != dns.rdataclass.IN or self._zone_of(question.name) is None:
            response.set_rcode(dns.rcode.REFUSED)
            return
        if question.name in self._failing:
            response.set_rcode(self._failing[question.name])
            return
        response.flags |= dns.flags.AA
        name, rdtype = question.name, question.rdtype
        seen: set[dns.name.Name] = set()
        for _ in range(MAX_CHAIN):
            zone = self._zone_of(name)
            if zone is None:
                return  # a CNAME out of our zones goes back alone, for the client to follow
            rrsets = self._rrsets(name, zone)
            if rdtype == dns.rdatatype.ANY and rrsets:
                response.answer.extend(rrsets.values())
                return
            if rdtype in rrsets:
                response.answer.append(rrsets[rdtype])
                return
            cname = rrsets.get(dns.rdatatype.CNAME)
            if cname is None or rdtype == dns.rdatatype.CNAME:
                if not rrsets and not self._has_children(name):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(self._soa(zone))
                return
            response.answer.append(cname)
            seen.add(name)
            name = cast(dns.rdtypes.ANY.CNAME.CNAME, cname[0]).target
            if name in seen:
                return  # a loop in the data: stop where BIND would, with what we have

    def _rrsets(
        self, name: dns.name.Name, zone: dns.name.Name
    ) -> dict[dns.rdatatype.RdataType, dns.rrset.RRset]:
        rrsets = {
            kind: dns.rrset.from_rdata_list(name, records.ttl, records.rdatas)
            for kind, records in self._records.get(name, {}).items()
        }
        if name == zone:
            rrsets[dns.rdatatype.SOA] = self._soa(zone)
        return rrsets

    def _has_children(self, name: dns.name.Name) -> bool:
        """Whether ``name`` is an empty non-terminal: it exists (NODATA, not NXDOMAIN)."""
        return any(owner != name and owner.is_subdomain(name) for owner in self._records)

    def _soa(self, zone: dns.name.Name) -> dns.rrset.RRset:
        # ns.<zone> hostmaster.<zone> serial refresh retry expire minimum; the minimum is the
        # negative-caching TTL (RFC 2308), kept short since the sandbox changes names often.
        text = f"ns.{zone} hostmaster.{zone} {self._serial} 3600 600 86400 {SOA_TTL}"
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, text)
        return dns.rrset.from_rdata_list(zone, SOA_TTL, [rdata])

    # -- sockets ---------------------------------------------------------------------------------

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """A UDP and a TCP socket on one port; with port 0, retry until one is free for both."""
        attempts = 1 if self._wanted_port else 20
        for attempt in range(attempts):
            udp = socket.socket(self._family, socket.SOCK_DGRAM)
            tcp = socket.socket(self._family, socket.SOCK_STREAM)
            try:
                udp.bind((self._host, self._wanted_port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self._host, udp.getsockname()[1]))
                tcp.listen(16)
            except OSError:
                udp.close()
                tcp.close()
                # The free UDP port may be taken for TCP by another process: try another.
                if attempt == attempts - 1:
                    raise
                continue
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        raise AssertionError("unreachable")  # pragma: no cover

    def _serve(self, udp: socket.socket, tcp: socket.socket, wake: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in (udp, tcp, wake):
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is udp:
                        self._serve_datagram(udp)
                    elif key.fileobj is tcp:
                        self._accept(tcp)

    def _serve_datagram(self, udp: socket.socket) -> None:
        try:
            wire, peer = udp.recvfrom(MAX_MESSAGE)
        except OSError:
            return  # nothing to read after all, or an ICMP error from an earlier reply
        reply = self._reply(wire, "udp")
        if reply:
            with contextlib.suppress(OSError):
                udp.sendto(reply, peer)

    def _accept(self, tcp: socket.socket) -> None:
        try:
            connection, _ = tcp.accept()
        except OSError:
            return
        connection.setblocking(True)
        connection.settimeout(TCP_IDLE_TIMEOUT)
        thread = threading.Thread(
            target=self._serve_connection, args=(connection,), name="dns tcp", daemon=True
        )
        with self._lock:
            self._connections[connection] = thread
        thread.start()

    def _serve_connection(self, connection: socket.socket) -> None:
        """Answer length-prefixed queries on one connection until the client or we hang up."""
        try:
            while not self._stopping.is_set():
                header = _recv_exactly(connection, 2)
                wire = _recv_exactly(connection, int.from_bytes(header, "big")) if header else None
                if not wire:
                    return
                reply = self._reply(wire, "tcp")
                if reply is False:
                    return  # malformed: close the connection, as BIND does
                if reply:
                    connection.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.pop(connection, None)
            connection.close()

    def _reply(self, wire: bytes, transport: Transport) -> bytes | Literal[False] | None:
        """The reply to send, None for silence, False for a malformed query."""
        try:
            return self._answer(wire, transport)
        except _Malformed as exc:
            logger.debug("ignoring a malformed DNS message over %s: %s", transport, exc)
            return False
        except Exception:
            # A bug answering one query must not take the server down for the whole test
            # run; the traceback goes to the log, and the client sees a timeout.
            logger.exception("the sandbox DNS server failed to answer a query")
            return False


def _recv_exactly(connection: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from the connection, or None if it closes first."""
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
