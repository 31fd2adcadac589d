"""Which organizations may download which list (and, for the hash list, which banks)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import NotFound, ValidationFailed
from takedown.lists.models import ListMember, ListName
from takedown.matching.models import Bank, BankRole
from takedown.orgs.models import Organization


def _check_banks(session: Session, name: ListName, banks: Sequence[str]) -> list[str]:
    if not banks:
        return []
    if name is not ListName.HASHES:
        raise ValidationFailed("banks apply to the hash list only", field="banks")
    known = set(session.scalars(select(Bank.name).where(Bank.role == BankRole.BLOCK_LIST)).all())
    unknown = sorted(set(banks) - known)
    if unknown:
        raise ValidationFailed(f"no block-list bank {', '.join(unknown)}", field="banks")
    return sorted(set(banks))


def grant(
    session: Session,
    org_id: uuid.UUID,
    name: ListName,
    banks: Sequence[str],
    *,
    actor: Principal,
    now: datetime,
) -> ListMember:
    """Make the organization a member of the list (or change its banks)."""
    if session.get(Organization, org_id) is None:
        raise NotFound(f"no organization {org_id}")
    checked = _check_banks(session, name, banks)
    member = session.scalars(
        select(ListMember).where(ListMember.org_id == org_id, ListMember.list_name == name.value)
    ).first()
    if member is None:
        member = ListMember(
            org_id=org_id,
            list_name=name.value,
            banks=checked,
            created_at=now,
            created_by=actor.label,
        )
        session.add(member)
    else:
        member.banks = checked
    session.flush()
    audit.record(
        session,
        actor,
        "lists.member",
        "organization",
        org_id,
        at=now,
        details={"list": name.value, "banks": checked},
    )
    return member


def revoke(
    session: Session, org_id: uuid.UUID, name: ListName, *, actor: Principal, now: datetime
) -> None:
    member = session.scalars(
        select(ListMember).where(ListMember.org_id == org_id, ListMember.list_name == name.value)
    ).first()
    if member is None:
        raise NotFound(f"organization {org_id} is not a member of the {name.value} list")
    session.delete(member)
    audit.record(
        session,
        actor,
        "lists.member_revoked",
        "organization",
        org_id,
        at=now,
        details={"list": name.value},
    )


def members(session: Session, name: ListName | None = None) -> Sequence[ListMember]:
    query = select(ListMember).order_by(ListMember.list_name, ListMember.created_at)
    if name is not None:
        query = query.where(ListMember.list_name == name.value)
    return session.scalars(query).all()
