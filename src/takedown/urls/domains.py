"""Registered domains (eTLD+1) from the Public Suffix List shipped in ``publicsuffixlist``.

The list is the copy bundled with the package, so lookups never touch the network; updating it
means upgrading the pinned package. Both sections of the list count by default: a private
suffix such as ``github.io`` or ``blogspot.com`` is a public suffix for us, because the name
below it (``someone.github.io``) is controlled by a different person than its neighbour, which
is what grouping cases and domain alerts are about; browsers draw the same cookie boundary.
``icann_only=True`` gives the name a registrar holds instead (``github.io``), which is whom to
escalate to.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _suffix_list(icann_only: bool) -> PublicSuffixList:
    """Load the bundled list once per section choice, on first use (about 25 ms)."""
    # accept_unknown=True is the list's own "*" default rule: an unlisted TLD is a public suffix.
    return PublicSuffixList(accept_unknown=True, only_icann=icann_only)


def _domain_name(host: str) -> str | None:
    """Normalize a host for lookup, or None when it is empty or an IP address."""
    host = host.strip().rstrip(".").lower()
    if not host or host.startswith("[") or ":" in host:
        return None
    if host[-1].isdigit():
        # Canonical hosts that end in a digit are IPv4 addresses (hosts.py refuses the rest).
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return host
        return None
    return host


def registered_domain(host: str, *, icann_only: bool = False) -> str | None:
    """Return the registered domain (eTLD+1) of ``host``, or None.

    None for IP addresses, empty hosts and hosts that are themselves a public suffix
    (``co.uk``). Pass the canonical ASCII host; a Unicode host works too and the answer keeps
    its form.
    """
    name = _domain_name(host)
    if name is None:
        return None
    result: str | None = _suffix_list(icann_only).privatesuffix(name)
    return result


def public_suffix(host: str, *, icann_only: bool = False) -> str | None:
    """Return the public suffix (eTLD) of ``host``, or None for IP addresses and empty hosts."""
    name = _domain_name(host)
    if name is None:
        return None
    result: str | None = _suffix_list(icann_only).publicsuffix(name)
    return result
