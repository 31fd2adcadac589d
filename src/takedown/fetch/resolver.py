"""Host name to IP addresses, behind a small interface so tests and the sandbox need no DNS.

The fetcher resolves each host once and connects to the address it checked, so the resolver is
the only place where a name meets the network. ``SystemResolver`` asks the operating system
(``getaddrinfo``: /etc/hosts, then DNS); ``StaticResolver`` answers from a table.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from ipaddress import ip_address
from typing import Any, Protocol

from takedown.fetch.errors import DNSFailure


class Resolver(Protocol):
    """Something that turns a host name into the IP addresses it has right now."""

    def resolve(self, host: str, *, timeout: float) -> list[str]:
        """Return the IPv4/IPv6 addresses of ``host`` as strings, at least one.

        Raises :class:`DNSFailure` when the name does not resolve within ``timeout`` seconds.
        """
        ...


GetAddrInfo = Callable[..., Sequence[tuple[Any, ...]]]


class SystemResolver:
    """The operating system's resolver, with a time limit it does not have by itself.

    ``getaddrinfo`` cannot be cancelled and may block for the resolver's own retries (often
    5 s times several attempts), so it runs in a daemon thread that we stop waiting for at the
    deadline; a lookup that hangs finishes in the background and its answer is dropped.
    """

    def __init__(self, *, getaddrinfo: GetAddrInfo = socket.getaddrinfo) -> None:
        self._getaddrinfo = getaddrinfo

    def resolve(self, host: str, *, timeout: float) -> list[str]:
        """Resolve ``host`` to its TCP addresses, in the order the system prefers them."""
        answer: list[Sequence[tuple[Any, ...]]] = []
        failure: list[BaseException] = []

        def lookup() -> None:
            try:
                answer.append(
                    self._getaddrinfo(host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
                )
            except (OSError, UnicodeError) as exc:
                failure.append(exc)

        thread = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
        thread.start()
        thread.join(max(timeout, 0.0))
        if thread.is_alive():
            raise DNSFailure(f"looking up {host!r} took longer than {timeout:g} s", host=host)
        if failure:
            raise DNSFailure(f"could not resolve {host!r}: {failure[0]}", host=host)
        return _addresses(host, (str(info[4][0]) for info in answer[0]))


class StaticResolver:
    """Answers from a fixed table of names; for tests and the sandbox's simulated internet."""

    def __init__(self, table: Mapping[str, Sequence[str]] | None = None) -> None:
        self._table = {name.lower().rstrip("."): list(ips) for name, ips in (table or {}).items()}

    def add(self, host: str, *addresses: str) -> None:
        """Point ``host`` at ``addresses`` (replacing what it had); as a DNS change would."""
        self._table[host.lower().rstrip(".")] = list(addresses)

    def resolve(self, host: str, *, timeout: float) -> list[str]:
        """Return the table's addresses for ``host``; the timeout is never needed."""
        addresses = self._table.get(host.lower().rstrip("."))
        if not addresses:
            raise DNSFailure(f"could not resolve {host!r}: no such name", host=host)
        return _addresses(host, addresses)


def _addresses(host: str, raw: Iterable[str]) -> list[str]:
    """Validate and deduplicate resolver answers, keeping their order."""
    addresses: list[str] = []
    for value in raw:
        try:
            ip_address(value)
        except ValueError:
            raise DNSFailure(f"the resolver returned {value!r} for {host!r}", host=host) from None
        if value not in addresses:
            addresses.append(value)
    if not addresses:
        raise DNSFailure(f"could not resolve {host!r}: no addresses", host=host)
    return addresses
