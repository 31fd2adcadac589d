"""Checking and normalizing what describes an organization, one field at a time.

Every checker takes the raw value (from the API, the command line, a YAML or CSV file) and
returns the stored form, or raises ``ValidationFailed`` with a message that starts with the
field's name (``"networks: '192.0.2.1/24' has host bits set ..."``), so an import can put the
line in front and a user can tell which field to fix. Conflicts with other organizations are
not checked here but in the service, which sees the database.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import Enum
from itertools import pairwise
from typing import Any, Final
from urllib.parse import urlsplit

import idna
import pycountry

from takedown.countries import check_country
from takedown.errors import ValidationFailed
from takedown.orgs.models import OrgKind


class Unset(Enum):
    """Marks a field that is not being changed (distinct from ``None``, which clears it)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET

MAX_NAME: Final = 200
MAX_NOTES: Final = 10_000
MAX_URL: Final = 2_000
MIN_SECRET: Final = 16
MAX_SECRET: Final = 200  # the column's width
MAX_ASN: Final = 2**32 - 1
# One organization may hold many ranges (a large host announces thousands), but not unbounded.
MAX_IDENTIFIERS: Final = 100_000

_EMAIL: Final = re.compile(r"^[^@\s\"<>(),;:\\\[\]]{1,64}@[^@\s\"<>(),;:\\\[\]]+\.[^@\s.]+$")
_LANGUAGE: Final = re.compile(r"^([a-zA-Z]{2,3})(?:-([a-zA-Z]{2}|[0-9]{3}|[a-zA-Z]{4}))?$")
_ASN: Final = re.compile(r"^(?:as)?(\d{1,10})$", re.IGNORECASE)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _fail(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", field=field)


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(field, f"expected text, got {_shown(value)}")
    return value.strip()


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _optional(field: str, value: object) -> str | None:
    """Text where empty (or null) means none."""
    if value is None:
        return None
    return _text(field, value) or None


# -- single values ------------------------------------------------------------------------


def check_name(value: object) -> str:
    name = _text("name", value)
    if not name or len(name) > MAX_NAME or _CONTROL.search(name):
        raise _fail("name", f"an organization name has 1 to {MAX_NAME} printable characters")
    return name


def check_kind(value: object) -> OrgKind:
    if isinstance(value, OrgKind):
        return value
    text = _text("kind", value).lower().replace(" ", "_").replace("-", "_")
    try:
        return OrgKind(text)
    except ValueError:
        allowed = ", ".join(k.value for k in OrgKind)
        raise _fail("kind", f"unknown kind {_shown(value)}; one of: {allowed}") from None


def check_org_country(value: object) -> str:
    return _country("country", value)


def _country(field: str, value: object) -> str:
    try:
        return check_country(_text(field, value), field=field)
    except ValidationFailed as exc:
        if exc.message.startswith(f"{field}: "):
            raise
        raise _fail(field, exc.message) from None


def check_email(value: object) -> str | None:
    email = _optional("abuse_email", value)
    if email is None:
        return None
    local, _, domain = email.rpartition("@")
    if len(email) > 320 or not _EMAIL.match(email):
        raise _fail("abuse_email", f"{_shown(email)} is not an e-mail address")
    return f"{local}@{domain.lower()}"


def check_webhook_url(value: object) -> str | None:
    url = _optional("webhook_url", value)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        # Reading the port raises on one that is not a number in range.
        bad_port = parts.port == 0
    except ValueError as exc:
        raise _fail("webhook_url", f"{_shown(url)} is not a URL ({exc})") from None
    if len(url) > MAX_URL or _CONTROL.search(url) or " " in url:
        raise _fail("webhook_url", f"a URL has at most {MAX_URL} characters and no spaces")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or bad_port:
        raise _fail("webhook_url", f"{_shown(url)} is not an absolute http(s) URL")
    # Credentials in the URL would be shown wherever the URL is; the shared secret signs instead.
    if parts.username is not None or parts.password is not None:
        raise _fail("webhook_url", "a webhook URL must not carry a user name or password")
    if parts.fragment:
        raise _fail("webhook_url", "a webhook URL has no #fragment")
    return url


def check_webhook_secret(value: object) -> str | None:
    secret = _optional("webhook_secret", value)
    if secret is None:
        return None
    # HMAC keys shorter than this are guessable offline from one signed notice.
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or _CONTROL.search(secret):
        raise _fail(
            "webhook_secret",
            f"a webhook secret has {MIN_SECRET} to {MAX_SECRET} printable characters",
        )
    return secret


def check_language(value: object) -> str:
    text = _text("language", value)
    match = _LANGUAGE.match(text)
    primary = match.group(1).lower() if match else ""
    known = (
        pycountry.languages.get(alpha_2=primary)
        if len(primary) == 2
        else pycountry.languages.get(alpha_3=primary)
    )
    if match is None or known is None:
        raise _fail(
            "language", f"{_shown(text)} is not a language tag such as 'en', 'nl' or 'pt-BR'"
        )
    region = match.group(2)
    if region is None:
        return primary
    region = region.upper() if len(region) == 2 else region.title()
    return f"{primary}-{region}"


def check_notes(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail("notes", f"expected text, got {_shown(value)}")
    if len(value) > MAX_NOTES:
        raise _fail("notes", f"notes have at most {MAX_NOTES} characters")
    return value.strip()


def check_asn(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail("asns", f"expected an AS number, got {_shown(value)}")
    match = _ASN.match(value.strip()) if isinstance(value, str) else None
    number = value if isinstance(value, int) else int(match.group(1)) if match else -1
    if not 1 <= number <= MAX_ASN:
        raise _fail("asns", f"{_shown(value)} is not an AS number (1 to {MAX_ASN})")
    return number


def check_network(value: object) -> str:
    return str(_network(value))


def _network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = _text("networks", value)
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _fail("networks", f"{_shown(text)} is not an IP network in CIDR notation") from None
    raise _fail("networks", f"{text!r} has host bits set (the network is {loose})")


def _domain_name(field: str, value: object) -> str:
    text = _text(field, value).lower().rstrip(".")
    if text.startswith("*."):
        raise _fail(field, f"{text!r}: give the name without '*.'; subdomains match anyway")
    try:
        name = idna.encode(text.lstrip("."), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _fail(field, f"{_shown(text)} is not a valid domain name ({exc})") from None
    if name.rsplit(".", 1)[-1].isdigit():
        raise _fail(field, f"{text!r} is an IP address, not a domain name")
    return name


def check_domain(value: object) -> str:
    name = _domain_name("domains", value)
    if "." not in name:
        raise _fail("domains", f"{name!r} is a top-level domain: registries list it in tlds")
    return name


def check_tld(value: object) -> str:
    return _domain_name("tlds", value)


def check_served_country(value: object) -> str:
    return _country("countries", value)


# -- identifier sets ----------------------------------------------------------------------


def _items(field: str, value: object) -> list[object]:
    """A list of values; one value alone counts as a list of one, none as an empty list."""
    if value is None:
        return []
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise _fail(field, f"expected a list, got {_shown(value)}")
    items = list(value)
    if len(items) > MAX_IDENTIFIERS:
        raise _fail(field, f"at most {MAX_IDENTIFIERS} entries per organization")
    return items


def check_asns(value: object) -> tuple[int, ...]:
    return tuple(sorted({check_asn(item) for item in _items("asns", value)}))


def check_networks(value: object) -> tuple[str, ...]:
    """Normalized networks, sorted, refusing two in the list that overlap each other."""
    parsed = {_network(item) for item in _items("networks", value)}
    ordered = sorted(parsed, key=network_key)
    for before, after in pairwise(ordered):
        if before.version == after.version and before.overlaps(after):
            raise _fail("networks", f"{before} and {after} overlap; list the larger one only")
    return tuple(str(network) for network in ordered)


def check_domains(value: object) -> tuple[str, ...]:
    return tuple(sorted({check_domain(item) for item in _items("domains", value)}))


def check_tlds(value: object) -> tuple[str, ...]:
    return tuple(sorted({check_tld(item) for item in _items("tlds", value)}))


def check_countries(value: object) -> tuple[str, ...]:
    return tuple(sorted({check_served_country(item) for item in _items("countries", value)}))


def network_key(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    """Sort order of networks: IPv4 first, then by address, larger before smaller."""
    return (network.version, int(network.network_address), network.prefixlen)


def sort_networks(cidrs: Iterable[str]) -> list[str]:
    return sorted(cidrs, key=lambda cidr: network_key(ipaddress.ip_network(cidr)))


# -- all fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgFields:
    """Checked values for an organization; a field left ``UNSET`` is not being set or changed.

    The identifier sets, when given, replace the organization's whole set of that kind.
    """

    name: str | Unset = UNSET
    kind: OrgKind | Unset = UNSET
    country: str | Unset = UNSET
    abuse_email: str | Unset | None = UNSET
    webhook_url: str | Unset | None = UNSET
    webhook_secret: str | Unset | None = UNSET
    language: str | Unset = UNSET
    notes: str | Unset = UNSET
    asns: tuple[int, ...] | Unset = UNSET
    networks: tuple[str, ...] | Unset = UNSET
    domains: tuple[str, ...] | Unset = UNSET
    tlds: tuple[str, ...] | Unset = UNSET
    countries: tuple[str, ...] | Unset = UNSET

    def given(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not UNSET
        }


# The checker of every field, by the name used in the API, the CLI and the files.
CHECKERS: Final[dict[str, Callable[[object], Any]]] = {
    "name": check_name,
    "kind": check_kind,
    "country": check_org_country,
    "abuse_email": check_email,
    "webhook_url": check_webhook_url,
    "webhook_secret": check_webhook_secret,
    "language": check_language,
    "notes": check_notes,
    "asns": check_asns,
    "networks": check_networks,
    "domains": check_domains,
    "tlds": check_tlds,
    "countries": check_countries,
}
FIELD_NAMES: Final = tuple(CHECKERS)
IDENTIFIER_FIELDS: Final = ("asns", "networks", "domains", "tlds", "countries")


def check_fields(raw: dict[str, object]) -> OrgFields:
    """Check every given field (``UNSET`` values are skipped); raises on the first bad one."""
    unknown = sorted(set(raw) - set(CHECKERS))
    if unknown:
        raise ValidationFailed(f"unknown fields {unknown}")
    return OrgFields(
        **{name: CHECKERS[name](value) for name, value in raw.items() if value is not UNSET}
    )
