"""Reading the directory: who holds an address, an AS, a domain, a TLD; finding and listing.

Tracing calls these for every address and name it meets, so each is one indexed query (or,
for addresses, one revision check and a binary search in ``networks.NetworkIndex``). They are
re-exported by ``orgs.service``, which callers import.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import idna
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from takedown.errors import NotFound
from takedown.orgs.fields import MAX_ASN, sort_networks
from takedown.orgs.models import (
    Organization,
    OrgAsn,
    OrgCountry,
    OrgDomain,
    OrgKind,
    OrgNetwork,
    OrgTld,
)
from takedown.orgs.networks import network_index

T = TypeVar("T")
# Enough to keep every IN list well under SQLite's and PostgreSQL's parameter limits.
CHUNK: Final = 1_000


@dataclass(frozen=True)
class OrgIdentifiers:
    """What identifies an organization in the directory, each kind sorted."""

    asns: tuple[int, ...] = ()
    networks: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    tlds: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()


@dataclass(frozen=True)
class IpMatch:
    """The directory's network holding an address, and its organization."""

    network: str
    org: Organization


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ascii_name(name: str) -> str:
    """A domain name lower-cased and in ASCII (IDNA) form; as given when IDNA refuses it."""
    text = name.strip().rstrip(".").lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return text


# -- by identifier ------------------------------------------------------------------------


def lookup_ip(session: Session, ip: str) -> IpMatch | None:
    """The network holding ``ip`` and its organization (``ValidationFailed`` for non-IPs)."""
    found = network_index(session).find(ip)
    if found is None:
        return None
    org = session.get(Organization, found[1])
    return None if org is None else IpMatch(found[0], org)


def org_for_ip(session: Session, ip: str) -> Organization | None:
    """The organization whose network holds ``ip`` (IPv4 or IPv6)."""
    found = lookup_ip(session, ip)
    return None if found is None else found.org


def org_for_asn(session: Session, asn: int) -> Organization | None:
    """The operator of autonomous system ``asn``."""
    if not 1 <= asn <= MAX_ASN:
        return None
    return session.scalar(
        select(Organization).join(OrgAsn, OrgAsn.org_id == Organization.id).where(OrgAsn.asn == asn)
    )


def org_for_domain(session: Session, name: str) -> Organization | None:
    """The organization with ``name`` or its closest parent among its domains.

    ``a.b.cdn.example`` is matched by ``b.cdn.example`` before ``cdn.example``.
    """
    labels = _ascii_name(name).split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if not candidates:
        return None
    rows = session.execute(
        select(OrgDomain.domain, OrgDomain.org_id).where(OrgDomain.domain.in_(candidates))
    ).all()
    if not rows:
        return None
    _, org_id = max(rows, key=lambda row: len(row[0]))
    return session.get(Organization, org_id)


def registry_for_tld(session: Session, tld: str) -> Organization | None:
    """The registry running top-level domain ``tld`` ("com", "co.uk"; any case, no dot)."""
    name = _ascii_name(tld.strip().lstrip("."))
    return session.scalar(
        select(Organization)
        .join(OrgTld, OrgTld.org_id == Organization.id)
        .where(OrgTld.tld == name)
    )


# -- by name and listing ------------------------------------------------------------------


def _same_name(name: str) -> Select[Organization]:
    # lower() on both sides, so the database folds both the same way: ASCII on SQLite,
    # all of Unicode on PostgreSQL.
    return select(Organization).where(func.lower(Organization.name) == func.lower(name.strip()))


def find_org(session: Session, name: str, *, kind: OrgKind | None = None) -> Organization | None:
    """The organization named ``name`` (case-insensitive), of ``kind`` when given."""
    query = _same_name(name)
    if kind is not None:
        query = query.where(Organization.kind == kind)
    return session.scalar(query.limit(1))


def get_org(session: Session, org_id: uuid.UUID) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound("no such organization")
    return org


def get_org_by_name(session: Session, name: str) -> Organization:
    org = find_org(session, name)
    if org is None:
        raise NotFound(f"no organization named {name!r}")
    return org


def _filtered(
    query: Select[Organization],
    *,
    kind: OrgKind | None,
    country: str | None,
    q: str | None,
) -> Select[Organization]:
    if kind is not None:
        query = query.where(Organization.kind == kind)
    if country:
        code = country.strip().upper()
        # Based in the country, or covering it (partner hotlines, police).
        serves = select(OrgCountry.org_id).where(OrgCountry.country == code)
        query = query.where(or_(Organization.country == code, Organization.id.in_(serves)))
    if q and q.strip():
        text = q.strip().lower()
        for special in ("\\", "%", "_"):
            text = text.replace(special, "\\" + special)
        query = query.where(func.lower(Organization.name).like(f"%{text}%", escape="\\"))
    return query


def search_orgs(
    session: Session,
    *,
    kind: OrgKind | None = None,
    country: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[Sequence[Organization], int]:
    """A page of organizations by name, and how many match in all.

    ``country`` matches organizations based in the country or serving it; ``q`` is a
    case-insensitive part of the name.
    """
    query = _filtered(select(Organization), kind=kind, country=country, q=q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Organization.name).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return session.scalars(page).all(), total


def list_orgs(
    session: Session, *, kind: OrgKind | None = None, country: str | None = None
) -> Sequence[Organization]:
    return search_orgs(session, kind=kind, country=country)[0]


# -- identifiers --------------------------------------------------------------------------


def identifiers(session: Session, org: Organization) -> OrgIdentifiers:
    """Everything that identifies ``org`` in the directory."""
    return identifiers_of(session, [org.id]).get(org.id, OrgIdentifiers())


def identifiers_of(
    session: Session, org_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OrgIdentifiers]:
    """The identifiers of many organizations in five queries per chunk (for exports)."""
    found: dict[str, defaultdict[uuid.UUID, list[Any]]] = {
        kind: defaultdict(list) for kind in ("asns", "networks", "domains", "tlds", "countries")
    }
    columns: dict[str, tuple[Any, Any]] = {
        "asns": (OrgAsn.org_id, OrgAsn.asn),
        "networks": (OrgNetwork.org_id, OrgNetwork.cidr),
        "domains": (OrgDomain.org_id, OrgDomain.domain),
        "tlds": (OrgTld.org_id, OrgTld.tld),
        "countries": (OrgCountry.org_id, OrgCountry.country),
    }
    for part in chunks(org_ids):
        for kind, (owner, value) in columns.items():
            for org_id, item in session.execute(select(owner, value).where(owner.in_(part))):
                found[kind][org_id].append(item)
    result: dict[uuid.UUID, OrgIdentifiers] = {}
    for org_id in org_ids:
        result[org_id] = OrgIdentifiers(
            asns=tuple(sorted(int(a) for a in found["asns"][org_id])),
            networks=tuple(sort_networks(str(n) for n in found["networks"][org_id])),
            domains=tuple(sorted(str(d) for d in found["domains"][org_id])),
            tlds=tuple(sorted(str(t) for t in found["tlds"][org_id])),
            countries=tuple(sorted(str(c) for c in found["countries"][org_id])),
        )
    return result
