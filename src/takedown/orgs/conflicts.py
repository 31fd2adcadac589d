"""What a change to an organization would collide with: names, and identifiers held by others.

The directory keeps every identifier with one organization, and IP ranges disjoint, so that
an address, an AS, a domain or a TLD leads to one organization. Everything here only reads;
the service calls it before it writes anything, so a refused change leaves no trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.errors import Conflict, TakedownError, ValidationFailed
from takedown.orgs.fields import UNSET, OrgFields
from takedown.orgs.lookups import chunks
from takedown.orgs.models import Organization, OrgAsn, OrgDomain, OrgKind, OrgTld
from takedown.orgs.networks import bounds, network_index

# Conflicting ranges named per network; a /8 over a whole table of /24s would list thousands.
_SHOWN: Final = 3
_HELD_BY: Final[dict[str, tuple[Any, Any]]] = {
    "asns": (OrgAsn, OrgAsn.asn),
    "domains": (OrgDomain, OrgDomain.domain),
    "tlds": (OrgTld, OrgTld.tld),
}
Released = Mapping[str, Collection[uuid.UUID]]


def find_conflicts(
    session: Session,
    org: Organization | None,
    fields: OrgFields,
    *,
    released: Released | None = None,
    moved: set[uuid.UUID] | None = None,
) -> list[TakedownError]:
    """Every reason ``fields`` cannot be saved for ``org`` (None: a new organization).

    ``released`` names, per identifier kind, organizations whose current set of that kind is
    about to be replaced (an import replacing several at once), so what they hold now does not
    count as taken; those that do hold something wanted here are added to ``moved``. Each
    conflict carries the ``field`` and the ``value`` it is about.
    """
    moved = set() if moved is None else moved
    released = released or {}
    own = org.id if org is not None else None
    problems: list[TakedownError] = []
    if fields.name is not UNSET and (org is None or fields.name != org.name):
        problems += _name_taken(session, fields.name, own)
    problems += _tlds_need_registry(session, org, fields)
    for kind in _HELD_BY:
        values = getattr(fields, kind)
        if values is not UNSET:
            problems += _held(session, kind, values, own, released.get(kind, ()), moved)
    if fields.networks is not UNSET:
        problems += _overlaps(session, fields.networks, own, released.get("networks", ()), moved)
    return problems


def raise_first(problems: list[TakedownError]) -> None:
    """Raise the first problem, saying how many more there are."""
    if not problems:
        return
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    error = type(first)(first.message + more, **first.extra)
    if len(problems) > 1:
        error.extra["problems"] = [p.message for p in problems[:100]]
    raise error


def _name_taken(session: Session, name: str, own: uuid.UUID | None) -> list[TakedownError]:
    query = select(Organization.id).where(func.lower(Organization.name) == func.lower(name))
    if own is not None:
        query = query.where(Organization.id != own)
    if session.scalar(query.limit(1)) is None:
        return []
    return [Conflict(f"an organization named {name!r} exists already", field="name")]


def _tlds_need_registry(
    session: Session, org: Organization | None, fields: OrgFields
) -> list[TakedownError]:
    kind = fields.kind if fields.kind is not UNSET else org.kind if org is not None else None
    if kind is None or kind is OrgKind.REGISTRY:
        return []
    if fields.tlds is not UNSET:
        holds = bool(fields.tlds)
    else:
        holds = org is not None and (
            session.scalar(select(OrgTld.tld).where(OrgTld.org_id == org.id).limit(1)) is not None
        )
    if not holds:
        return []
    return [
        ValidationFailed(
            f"tlds: only registries run top-level domains, not a {kind.label.lower()}",
            field="tlds",
        )
    ]


def _names(session: Session, org_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    found: dict[uuid.UUID, str] = {}
    for part in chunks(list(org_ids)):
        query = select(Organization.id, Organization.name).where(Organization.id.in_(part))
        found.update(dict(session.execute(query).all()))
    return found


def _held(
    session: Session,
    kind: str,
    values: tuple[str, ...] | tuple[int, ...],
    own: uuid.UUID | None,
    released: Collection[uuid.UUID],
    moved: set[uuid.UUID],
) -> list[TakedownError]:
    model, column = _HELD_BY[kind]
    holders: dict[object, uuid.UUID] = {}
    for part in chunks(list(values)):
        query = select(column, model.org_id).where(column.in_(part))
        holders.update(dict(session.execute(query).all()))
    taken = {v: o for v, o in holders.items() if o != own and o not in released}
    moved.update(o for o in holders.values() if o != own and o in released)
    names = _names(session, set(taken.values()))
    shown = (lambda v: f"AS{v}") if kind == "asns" else str
    return [
        Conflict(
            f"{kind}: {shown(value)} belongs to {names.get(holder, '?')!r} already",
            field=kind,
            value=value,
        )
        for value, holder in sorted(taken.items(), key=lambda item: str(item[0]))
    ]


def _overlaps(
    session: Session,
    networks: tuple[str, ...],
    own: uuid.UUID | None,
    released: Collection[uuid.UUID],
    moved: set[uuid.UUID],
) -> list[TakedownError]:
    index = network_index(session)
    found: list[tuple[str, list[tuple[str, uuid.UUID]]]] = []
    for cidr in networks:
        held = [(c, o) for c, o in index.conflicts(cidr) if o != own]
        moved.update(o for _, o in held if o in released)
        others = [(c, o) for c, o in held if o not in released]
        if others:
            found.append((cidr, others))
    names = _names(session, {o for _, others in found for _, o in others})
    problems: list[TakedownError] = []
    for cidr, others in found:
        described = [
            describe_overlap(cidr, other, names.get(holder, "?"))
            for other, holder in others[:_SHOWN]
        ]
        more = f" and {len(others) - _SHOWN} more" if len(others) > _SHOWN else ""
        problems.append(
            Conflict(f"networks: {', '.join(described)}{more}", field="networks", value=cidr)
        )
    return problems


def describe_overlap(cidr: str, other: str, holder: str) -> str:
    """How ``cidr`` meets ``other`` held by ``holder``, naming both networks."""
    if cidr == other:
        return f"{cidr} belongs to {holder!r} already"
    _, first, last = bounds(cidr)
    _, other_first, other_last = bounds(other)
    if other_first <= first and last <= other_last:
        return f"{cidr} is inside {other} of {holder!r}"
    return f"{cidr} contains {other} of {holder!r}"
