"""Organizations, what identifies them in the directory, and their API keys.

Writes check everything first (``fields`` for each value, ``conflicts`` against the other
organizations) and only then write, so a refused change leaves nothing behind. Identifier
changes bump the directory revision before anything else (``networks.begin_change``): that
serializes directory writers and tells every process to rebuild its IP-range index.
The lookups tracing uses live in ``lookups`` and are re-exported here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import ValidationFailed
from takedown.orgs.conflicts import find_conflicts, raise_first
from takedown.orgs.fields import (
    IDENTIFIER_FIELDS,
    UNSET,
    OrgFields,
    Unset,
    check_fields,
)
from takedown.orgs.keys import authenticate_key, create_key, list_keys, revoke_key
from takedown.orgs.lookups import (
    IpMatch,
    OrgIdentifiers,
    chunks,
    find_org,
    get_org,
    get_org_by_name,
    identifiers,
    identifiers_of,
    list_orgs,
    lookup_ip,
    org_for_asn,
    org_for_domain,
    org_for_ip,
    registry_for_tld,
    search_orgs,
)
from takedown.orgs.models import (
    Organization,
    OrgAsn,
    OrgCountry,
    OrgDomain,
    OrgKind,
    OrgNetwork,
    OrgTld,
)
from takedown.orgs.networks import begin_change, network_index

__all__ = [
    "UNSET",
    "IpMatch",
    "OrgFields",
    "OrgIdentifiers",
    "add_org",
    "authenticate_key",
    "change_org",
    "create_key",
    "create_org",
    "delete_org",
    "find_org",
    "get_org",
    "get_org_by_name",
    "identifiers",
    "identifiers_of",
    "list_keys",
    "list_orgs",
    "lookup_ip",
    "org_for_asn",
    "org_for_domain",
    "org_for_ip",
    "registry_for_tld",
    "revoke_key",
    "search_orgs",
    "update_org",
]

# Identifier values listed in an audit record per kind; the count is always there.
_AUDITED: Final = 100
_SCALARS: Final = (
    "name",
    "kind",
    "country",
    "abuse_email",
    "webhook_url",
    "webhook_secret",
    "language",
    "notes",
)
_ROWS: Final[dict[str, tuple[type[Any], Any]]] = {
    "asns": (OrgAsn, OrgAsn.asn),
    "networks": (OrgNetwork, OrgNetwork.cidr),
    "domains": (OrgDomain, OrgDomain.domain),
    "tlds": (OrgTld, OrgTld.tld),
    "countries": (OrgCountry, OrgCountry.country),
}


# -- writing ------------------------------------------------------------------------------


def add_org(
    session: Session,
    actor: Principal,
    *,
    name: str,
    kind: OrgKind | str,
    country: str,
    now: datetime,
    abuse_email: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    language: str = "en",
    notes: str = "",
    asns: Iterable[int | str] = (),
    networks: Iterable[str] = (),
    domains: Iterable[str] = (),
    tlds: Iterable[str] = (),
    countries: Iterable[str] = (),
) -> Organization:
    """Create an organization with its contacts and identifiers, all checked first."""
    fields = check_fields(
        {
            "name": name,
            "kind": kind,
            "country": country,
            "abuse_email": abuse_email,
            "webhook_url": webhook_url,
            "webhook_secret": webhook_secret,
            "language": language,
            "notes": notes,
            "asns": list(asns),
            "networks": list(networks),
            "domains": list(domains),
            "tlds": list(tlds),
            "countries": list(countries),
        }
    )
    return create_org(session, actor, fields, now=now)


def update_org(
    session: Session,
    actor: Principal,
    org: Organization | uuid.UUID,
    *,
    now: datetime,
    name: str | Unset = UNSET,
    kind: OrgKind | str | Unset = UNSET,
    country: str | Unset = UNSET,
    abuse_email: str | Unset | None = UNSET,
    webhook_url: str | Unset | None = UNSET,
    webhook_secret: str | Unset | None = UNSET,
    language: str | Unset = UNSET,
    notes: str | Unset = UNSET,
    asns: Iterable[int | str] | Unset = UNSET,
    networks: Iterable[str] | Unset = UNSET,
    domains: Iterable[str] | Unset = UNSET,
    tlds: Iterable[str] | Unset = UNSET,
    countries: Iterable[str] | Unset = UNSET,
) -> Organization:
    """Change the fields given; an identifier set given replaces the whole set, None clears
    a contact."""
    target = org if isinstance(org, Organization) else get_org(session, org)
    raw: dict[str, object] = {
        "name": name,
        "kind": kind,
        "country": country,
        "abuse_email": abuse_email,
        "webhook_url": webhook_url,
        "webhook_secret": webhook_secret,
        "language": language,
        "notes": notes,
    }
    for field, values in (
        ("asns", asns),
        ("networks", networks),
        ("domains", domains),
        ("tlds", tlds),
        ("countries", countries),
    ):
        # None (JSON null) clears the set, like an empty list.
        raw[field] = values if isinstance(values, Unset) or values is None else list(values)
    return change_org(session, actor, target, check_fields(raw), now=now)


def create_org(
    session: Session,
    actor: Principal,
    fields: OrgFields,
    *,
    now: datetime,
) -> Organization:
    """Create an organization from checked fields (name, kind and country are needed)."""
    if fields.name is UNSET or fields.kind is UNSET or fields.country is UNSET:
        raise ValidationFailed("a new organization needs a name, a kind and a country")
    if _changes_identifiers(fields):
        begin_change(session)
    raise_first(find_conflicts(session, None, fields))
    org = Organization(name=fields.name, kind=fields.kind, country=fields.country)
    org.language = "en"
    org.notes = ""
    _set_scalars(org, fields)
    session.add(org)
    session.flush()
    written = _write_identifiers(session, org, fields, created=True)
    details: dict[str, Any] = {"name": org.name, "kind": org.kind.value, "country": org.country}
    details.update(_contacts(fields))
    details.update({kind: added for kind, (added, _) in written.items() if added})
    audit.record(session, actor, "org.create", "organization", org.id, at=now, details=details)
    return org


def change_org(
    session: Session,
    actor: Principal,
    org: Organization,
    fields: OrgFields,
    *,
    now: datetime,
) -> Organization:
    """Apply checked fields to ``org``; audited when anything changed."""
    if _changes_identifiers(fields):
        begin_change(session)
    raise_first(find_conflicts(session, org, fields))
    before = {name: getattr(org, name) for name in _SCALARS}
    _set_scalars(org, fields)
    changed = [name for name in _SCALARS if getattr(org, name) != before[name]]
    written = _write_identifiers(session, org, fields)
    if not changed and not written:
        return org
    details: dict[str, Any] = {"name": org.name, "changed": changed + sorted(written)}
    if "name" in changed:
        details["previous_name"] = before["name"]
    details.update(_contacts(fields, only=changed))
    for kind, (added, removed) in written.items():
        details[kind] = {"added": added, "removed": removed}
    audit.record(session, actor, "org.update", "organization", org.id, at=now, details=details)
    return org


def delete_org(session: Session, actor: Principal, org_id: uuid.UUID, *, now: datetime) -> None:
    """Delete an organization, its identifiers and its API keys.

    Reports and routes that named it keep their rows (their reference is set to null; routes
    keep the name beside it), and the audit record keeps what it was.
    """
    org = get_org(session, org_id)
    begin_change(session)
    held = identifiers(session, org)
    index = network_index(session)
    details: dict[str, Any] = {"name": org.name, "kind": org.kind.value, "country": org.country}
    for kind in IDENTIFIER_FIELDS:
        values = list(getattr(held, kind))
        if values:
            details[kind] = _listed(values)
    session.delete(org)
    session.flush()
    for cidr in held.networks:
        index.remove(cidr)
    audit.record(session, actor, "org.delete", "organization", org_id, at=now, details=details)


def _changes_identifiers(fields: OrgFields) -> bool:
    return any(getattr(fields, kind) is not UNSET for kind in IDENTIFIER_FIELDS)


def _set_scalars(org: Organization, fields: OrgFields) -> None:
    for name in _SCALARS:
        value = getattr(fields, name)
        if value is not UNSET:
            setattr(org, name, value)


def _contacts(fields: OrgFields, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Fields for the audit record; the webhook secret only as set or cleared, notes not at all."""
    shown: dict[str, Any] = {}
    for name in ("kind", "country", "abuse_email", "webhook_url", "language"):
        value = getattr(fields, name)
        if value is not UNSET and (only is None or name in only):
            shown[name] = value.value if isinstance(value, OrgKind) else value
    secret = fields.webhook_secret
    if secret is not UNSET and (only is None or "webhook_secret" in only):
        shown["webhook_secret"] = "set" if secret else "cleared"
    return shown


def _listed(values: Sequence[object]) -> list[object] | dict[str, object]:
    if len(values) <= _AUDITED:
        return list(values)
    return {"count": len(values), "first": list(values[:_AUDITED])}


def _write_identifiers(
    session: Session, org: Organization, fields: OrgFields, *, created: bool = False
) -> dict[str, tuple[Any, Any]]:
    """Replace the identifier sets given; returns (added, removed) per kind that changed."""
    given = [kind for kind in IDENTIFIER_FIELDS if getattr(fields, kind) is not UNSET]
    if not given:
        return {}
    current = OrgIdentifiers() if created else identifiers(session, org)
    # Taken before the first network row is written: the transaction's own copy of the
    # ranges starts from what is committed (see networks.network_index).
    index = network_index(session) if "networks" in given else None
    written: dict[str, tuple[Any, Any]] = {}
    for kind in given:
        old, new = set(getattr(current, kind)), set(getattr(fields, kind))
        added, removed = sorted(new - old), sorted(old - new)
        if not added and not removed:
            continue
        model, column = _ROWS[kind]
        for part in chunks(removed):
            session.execute(delete(model).where(model.org_id == org.id, column.in_(part)))
        if added:
            session.execute(insert(model), [{"org_id": org.id, column.key: v} for v in added])
        if index is not None and kind == "networks":
            for cidr in removed:
                index.remove(cidr)
            for cidr in added:
                index.add(cidr, org.id)
        written[kind] = (_listed(added), _listed(removed))
    return written
