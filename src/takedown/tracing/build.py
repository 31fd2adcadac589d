"""Wire a :class:`Tracer` from settings, once per process and configuration.

The RDAP client holds the process's rate limiter and connection pool, and the IP table takes
half a second to load, so every job must not build its own.
"""

from __future__ import annotations

import threading

from takedown.config import Settings
from takedown.tracing.addresses import AddressTracer
from takedown.tracing.cdn import CdnList
from takedown.tracing.dns import AsnOverDns, DnspythonLookup
from takedown.tracing.ipdata import shared_ip_data
from takedown.tracing.rdap import RdapClient
from takedown.tracing.service import Tracer

_lock = threading.Lock()
_tracers: dict[tuple[object, ...], Tracer] = {}


def _key(settings: Settings) -> tuple[object, ...]:
    return (
        tuple(settings.dns_nameservers),
        settings.dns_port,
        settings.dns_timeout,
        settings.asn_dns_zone,
        settings.asn6_dns_zone,
        settings.rdap_base_url,
        settings.rdap_timeout,
        settings.rdap_cache_ttl,
        settings.rdap_rate_per_second,
        settings.fetch_user_agent,
        settings.cdn_list_file,
    )


def build_tracer(settings: Settings) -> Tracer:
    """A new tracer for ``settings``."""
    dns = DnspythonLookup(
        settings.dns_nameservers, port=settings.dns_port, timeout=settings.dns_timeout
    )
    asn = (
        AsnOverDns(dns, zone4=settings.asn_dns_zone, zone6=settings.asn6_dns_zone)
        if settings.asn_dns_zone
        else None
    )
    return Tracer(
        dns=dns,
        addresses=AddressTracer(
            ip_data=shared_ip_data(),
            asn=asn,
            rdap=RdapClient.from_settings(settings),
            cdns=CdnList.load(settings.cdn_list_file),
        ),
    )


def tracer_for(settings: Settings) -> Tracer:
    """The process's tracer for this configuration."""
    key = _key(settings)
    with _lock:
        found = _tracers.get(key)
        if found is None:
            found = _tracers[key] = build_tracer(settings)
        return found
