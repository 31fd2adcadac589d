"""Which hold is in force on a case. Kept apart from the police service, which starts notices,
so that the notices domain can ask without importing it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.police.models import Hold


def active_hold(session: Session, case_id: uuid.UUID, now: datetime) -> Hold | None:
    """The hold in force on the case at ``now`` that ends last, if any."""
    return session.scalars(
        select(Hold)
        .where(Hold.case_id == case_id, Hold.released_at.is_(None), Hold.until > now)
        .order_by(Hold.until.desc())
        .limit(1)
    ).first()


def preservation_asked(session: Session, case_id: uuid.UUID) -> bool:
    """Whether police asked, in any hold on the case (ended or not), to preserve evidence.

    A hold usually ends before the notice goes out; its request must still reach the host.
    """
    return (
        session.scalar(
            select(Hold.id)
            .where(Hold.case_id == case_id, Hold.preserve_evidence.is_(True))
            .limit(1)
        )
        is not None
    )
