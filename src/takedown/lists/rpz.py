"""DNS Response Policy Zones (RPZ) made from a version of the URL list.

An RPZ is an ordinary zone file (``$TTL``, SOA, NS) whose owner names are the names to block,
written relative to the policy zone's origin (``settings.rpz_zone``), and whose records say
what the resolver answers instead. The file sets ``$ORIGIN`` itself, so it must be loaded as
that zone: under another zone name its SOA falls outside the zone and the resolver refuses the
file instead of loading it silently empty. The SOA serial is the list's version number, so a
secondary that transfers the zone sees every new version as newer (versions only increase).

RPZ sees query names, never URLs, so only whole-host entries become triggers: an expression
that is exactly ``host/``. For each such host the zone holds ``host`` and ``*.host``, because
an RPZ wildcard does not cover the name it sits on. Everything else is skipped and counted in
the zone's header comment:

- path entries (``host/dir/``, ``host/page.html``): blocking the host would block every other
  page on it; they belong in the proxy list;
- IP-address hosts: the only RPZ trigger for an address is a response-IP trigger, which would
  rewrite every name that resolves to that address, i.e. every site sharing the server;
- hosts that are not a plain lower-case DNS name (labels of ``a-z 0-9 - _``, 1 to 63
  characters, at most 253 in all, and short enough to fit under the origin with ``*.``), whose
  last label is an RPZ trigger keyword (``rpz-ip``, ``rpz-nsdname``, ...) or which are
  themselves a public suffix (``com``, ``co.uk``, ``blogspot.com``: a wildcard under one would
  block a whole registry's or platform's namespace).

Why so strict: a zone file is parsed line by line, and one bad line makes BIND refuse the whole
zone, which switches every block off. Only names that match the strict pattern above are ever
written, so a hostile expression (a line break, ``$INCLUDE``, a space followed by a record, a
semicolon) can neither add records nor break the zone; it is dropped. The values taken from
settings (origin, splash host, addresses, hostmaster domain) are checked the same way and a
bad one raises :class:`~takedown.errors.ConfigurationError` instead of producing a zone.

Variants (policy actions of the RPZ format, draft-vixie-dnsop-dns-rpz-00):

- ``rpz``: ``CNAME`` to the splash host (a walled garden; BIND, Unbound, PowerDNS);
- ``rpz-a``: ``A``/``AAAA`` of the splash server (Knot Resolver ignores CNAME targets);
- ``rpz-nxdomain``: ``CNAME .``, i.e. the name does not exist.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from takedown.config import Settings
from takedown.errors import ConfigurationError
from takedown.urls.domains import registered_domain

logger = logging.getLogger(__name__)

VARIANTS = ("rpz", "rpz-a", "rpz-nxdomain")

# A DNS name in presentation form without its trailing dot: 253 characters is 255 octets on
# the wire (RFC 1035 section 2.3.4).
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
# fullmatch, never "$": "$" also matches before a trailing line break.
_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
# Owners of A/AAAA records must be host names (RFC 952/1123): BIND's check-names refuses a
# whole primary zone over one "_" or a label starting or ending with "-".
_HOSTNAME_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOSTNAME_LABEL}(?:\.{_HOSTNAME_LABEL})*")
# Labels under a policy zone's origin that make a name a different kind of trigger
# (response IP, name server name or address, client IP) or that mean an action.
_TRIGGER_LABEL_PREFIX = "rpz-"

# Answers are cached at most this long; BIND caps them further (max-policy-ttl).
TTL = 300
# Secondaries hear of a new version by NOTIFY; refresh is the fallback, one publication interval.
SOA_REFRESH = 900
SOA_RETRY = 300
# A secondary that cannot reach us for a week stops serving the zone: blocks are then lifted,
# but entries withdrawn after an appeal are not blocked forever by a stale copy either.
SOA_EXPIRE = 7 * 24 * 3600
SOA_NEGATIVE_TTL = 60
MAX_SERIAL = 2**32 - 1  # the SOA serial is an unsigned 32-bit number (RFC 1982)
# The CNAME target in development when neither TAKEDOWN_SPLASH_HOST nor the public base URL
# names a host (the default base URL is http://127.0.0.1:8000). ".invalid" never resolves
# (RFC 2606), so a resolver that loads such a zone answers blocked names with nothing rather
# than sending anyone somewhere unintended; the zone's header says the setting is missing.
DEVELOPMENT_SPLASH_HOST = "splash.takedown.invalid"


class ZoneError(ValueError):
    """A zone asked for with a variant or version that cannot be rendered."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The hosts a zone blocks, and how many entries of each kind were left out."""

    hosts: list[str]  # sorted, without duplicates
    paths: int = 0  # host/path entries: RPZ sees no paths
    addresses: int = 0  # IP-address hosts: a response-IP trigger would block neighbours
    refused: int = 0  # not a plain lower-case DNS name, a trigger keyword, or too long
    public_suffixes: int = 0  # com, co.uk, blogspot.com: never blocked whole


def is_plain_name(name: str) -> bool:
    """Whether ``name`` is a lower-case DNS name that is safe to write into a zone file."""
    return len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None


def select_hosts(expressions: Iterable[str], origin: str) -> Selection:
    """The whole-host entries of ``expressions`` that may become triggers under ``origin``."""
    # "*." + host + "." + origin must still be a legal name.
    room = MAX_NAME_LENGTH - len(origin) - 3
    hosts: set[str] = set()
    paths = addresses = refused = suffixes = 0
    for expression in expressions:
        host, slash, rest = expression.partition("/")
        if slash and rest:
            paths += 1
        elif not slash:
            refused += 1  # not an expression at all
        elif _is_address(host):
            addresses += 1
        elif len(host) > room or not is_plain_name(host) or _is_trigger_keyword(host):
            refused += 1
        elif registered_domain(host) is None:
            suffixes += 1
        else:
            hosts.add(host)
    return Selection(sorted(hosts), paths, addresses, refused, suffixes)


def render_zone(
    variant: str,
    version: int,
    published_at: datetime,
    expressions: Iterable[str],
    settings: Settings,
) -> bytes:
    """The zone file of ``variant`` for a version of the URL list, as UTF-8 (in fact ASCII).

    Entries that cannot or must not become triggers are skipped (see the module docstring);
    their numbers are written in the header comment and logged.
    """
    if variant not in VARIANTS:
        raise ZoneError(f"unknown RPZ variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    if not 0 <= version <= MAX_SERIAL:
        raise ZoneError(f"version {version} does not fit a SOA serial (0 to {MAX_SERIAL})")
    if published_at.tzinfo is None:
        raise ZoneError("published_at must be timezone-aware (UTC)")
    origin = _setting_name(settings.rpz_zone, "TAKEDOWN_RPZ_ZONE")
    hostmaster = _setting_name(f"hostmaster.{settings.hotline_domain}", "TAKEDOWN_HOTLINE_DOMAIN")
    records = _records(variant, settings)
    warning = _splash(settings)[1] if variant == "rpz" else None
    selection = select_hosts(expressions, origin)
    if variant == "rpz-a":
        kept = [h for h in selection.hosts if _HOSTNAME.fullmatch(h)]
        skipped = len(selection.hosts) - len(kept)
        selection = replace(selection, hosts=kept, refused=selection.refused + skipped)
    _log_skipped(selection)
    parts = [_header(variant, version, published_at, selection, origin, hostmaster, warning)]
    parts.extend(
        f"{owner} {record}\n"
        for host in selection.hosts
        for owner in (host, "*." + host)
        for record in records
    )
    return "".join(parts).encode("ascii")


def splash_host(settings: Settings) -> str:
    """The splash host, absolute (with its trailing dot): ``splash_host``, else the host of
    ``public_base_url``, else (in development only) ``DEVELOPMENT_SPLASH_HOST``.

    :class:`ConfigurationError` when ``splash_host`` is an address or no name, and in
    production when neither setting names a host: a CNAME target must be a name, and an
    ISP's resolver needs one that leads to the hotline's splash page.
    """
    return _splash(settings)[0]


def _splash(settings: Settings) -> tuple[str, str | None]:
    """The splash host and, for the placeholder, the warning the zone's header carries."""
    if settings.splash_host:
        splash, source = settings.splash_host, "TAKEDOWN_SPLASH_HOST"
    else:
        splash = urlsplit(settings.public_base_url).hostname or ""
        source = "TAKEDOWN_PUBLIC_BASE_URL"
        if not splash or _is_address(splash) or ":" in splash:
            if settings.env == "production":
                raise ConfigurationError(
                    f"the host of TAKEDOWN_PUBLIC_BASE_URL ({splash or 'none'}) is no name;"
                    " set TAKEDOWN_SPLASH_HOST to the splash page's host name for the CNAME"
                    " variant of the RPZ"
                )
            warning = (
                f"warning: {DEVELOPMENT_SPLASH_HOST} is a development placeholder that does"
                " not resolve; set TAKEDOWN_SPLASH_HOST to the splash page's host name"
            )
            return DEVELOPMENT_SPLASH_HOST + ".", warning
    if _is_address(splash) or ":" in splash:
        # A CNAME names a host; an address there is a syntax error in the zone.
        raise ConfigurationError(
            f"the splash host from {source} is an IP address ({splash}); set"
            " TAKEDOWN_SPLASH_HOST to a host name for the CNAME variant of the RPZ"
        )
    return _setting_name(splash, source) + ".", None


def _is_address(host: str) -> bool:
    # Canonical expressions write IPv6 in brackets and IPv4 in dotted decimal; a host whose
    # last label is a number can only be an IPv4 address (WHATWG, and urls.hosts refuses
    # the rest).
    return host.startswith("[") or host.rpartition(".")[2].isdigit()


def _is_trigger_keyword(host: str) -> bool:
    # "32.7.100.51.198.rpz-ip" under the origin is a response-IP trigger, not a name.
    return host.rpartition(".")[2].startswith(_TRIGGER_LABEL_PREFIX)


def _records(variant: str, settings: Settings) -> list[str]:
    """The records (type and data) every blocked owner name gets."""
    if variant == "rpz":
        return [f"CNAME {splash_host(settings)}"]
    if variant == "rpz-nxdomain":
        return ["CNAME ."]
    records = [f"A {_address(settings.splash_ipv4, 4, 'TAKEDOWN_SPLASH_IPV4')}"]
    # Without an IPv6 splash address, AAAA questions for a blocked name get an empty answer.
    if settings.splash_ipv6:
        records.append(f"AAAA {_address(settings.splash_ipv6, 6, 'TAKEDOWN_SPLASH_IPV6')}")
    return records


def _header(
    variant: str,
    version: int,
    published_at: datetime,
    selection: Selection,
    origin: str,
    hostmaster: str,
    warning: str | None = None,
) -> str:
    # Only numbers and checked settings go into comments: nothing from the list itself.
    when = published_at.astimezone(UTC).isoformat(timespec="seconds")
    soa = f"{version} {SOA_REFRESH} {SOA_RETRY} {SOA_EXPIRE} {SOA_NEGATIVE_TTL}"
    title = f"; Takedown URL list, version {version}, published {when}, variant {variant}\n"
    if warning:
        title += f"; {warning}\n"
    return (
        title + f"; {len(selection.hosts)} hosts, each as name and *.name\n"
        f"; skipped: {selection.paths} path entries (RPZ sees no paths),"
        f" {selection.addresses} IP-address hosts, {selection.public_suffixes} public"
        f" suffixes, {selection.refused} invalid names\n"
        f"$ORIGIN {origin}.\n"
        f"$TTL {TTL}\n"
        f"@ SOA localhost. {hostmaster}. ( {soa} )\n"
        "@ NS localhost.\n"
    )


def _log_skipped(selection: Selection) -> None:
    if selection.refused or selection.public_suffixes:
        logger.warning(
            "RPZ: %d entries with an invalid host and %d public suffixes were left out",
            selection.refused,
            selection.public_suffixes,
        )


def _setting_name(value: str, variable: str) -> str:
    name = value.strip().rstrip(".").lower()
    if not is_plain_name(name):
        raise ConfigurationError(f"{variable} is not a valid DNS name: {value!r}")
    return name


def _address(value: str, version: int, variable: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise ConfigurationError(f"{variable} is not an IPv{version} address: {value!r}")
    return address.compressed
