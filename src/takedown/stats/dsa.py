"""A hosting provider's removals on our notices as DSA statements of reasons.

Article 17 of the Digital Services Act asks a hosting provider for a statement of reasons
for each removal, and online platforms file them in the Commission's DSA Transparency
Database (``POST /api/v1/statement``, or 100 at a time under ``"statements"``). For each case
whose first-level notice went to the organization and that was seen removed in ``[start,
end)``, ``statements`` gives one statement in that API's submission format, ready to file.
docs/dsa-statements.md explains each field and where its value comes from.

No statement carries personal data or the URL (the database asks for none): the ``puid``
is the notice's reference, which the provider can match to the notice it got.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseItem
from takedown.intake.models import ContentKind, Report
from takedown.notices.models import Notice, NoticeKind
from takedown.stats.filters import first_decisions

# The allowed values, as the Transparency Database's API documentation lists them.
DECISION_VISIBILITIES: Final = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_GROUNDS: Final = frozenset(
    {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
)
CONTENT_TYPES: Final = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
SOURCE_TYPES: Final = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
AUTOMATED_DETECTIONS: Final = frozenset({"Yes", "No"})
AUTOMATED_DECISIONS: Final = frozenset(
    {"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"}
)
CATEGORY: Final = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
KEYWORD: Final = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"
# The European Economic Area: removal at source takes the content down everywhere.
EEA: Final = (
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
    *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    *("IS", "LI", "NO"),
)
# Fields the API requires of a removal on illegal-content grounds.
REQUIRED: Final = (
    "decision_visibility",
    "decision_ground",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "content_type",
    "category",
    "territorial_scope",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
)
LEGAL_GROUND: Final = (
    "Child sexual abuse material: Directive 2011/93/EU, Article 5, as transposed into national law"
)
_PUID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _content_types(mimes: list[str], kind: ContentKind | None) -> list[str]:
    found = set()
    for mime in mimes:
        major = mime.split("/", 1)[0].lower()
        found.add({"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO"}.get(major))
    found.discard(None)
    if not found and kind is not None:
        found.add(
            {
                ContentKind.IMAGE: "CONTENT_TYPE_IMAGE",
                ContentKind.VIDEO: "CONTENT_TYPE_VIDEO",
                ContentKind.TEXT: "CONTENT_TYPE_TEXT",
            }.get(kind)
        )
        found.discard(None)
    return sorted(str(t) for t in found) or ["CONTENT_TYPE_OTHER"]


def statements(
    session: Session, org_id: uuid.UUID, start: datetime, end: datetime, *, hotline: str
) -> list[dict[str, Any]]:
    """One statement of reasons per removal by ``org_id`` on our notice, seen in the period."""
    first_notice = (
        select(Notice.case_id, Notice.reference, Notice.sent_at)
        .where(Notice.kind == NoticeKind.NOTICE, Notice.org_id == org_id)
        .order_by(Notice.case_id, Notice.created_at)
    )
    decided = first_decisions()
    query = (
        select(Case, decided.c.actor, Report.content_kind)
        .outerjoin(decided, decided.c.case_id == Case.id)
        .outerjoin(
            Report,
            (Report.case_id == Case.id) & (Report.received_at == Case.first_reported_at),
        )
        .where(
            Case.removed_at >= start,
            Case.removed_at < end,
            Case.id.in_(select(Notice.case_id).where(Notice.org_id == org_id)),
        )
        .order_by(Case.removed_at, Case.id)
    )
    notices: dict[uuid.UUID, str] = {}
    for case_id, reference, _sent in session.execute(first_notice):
        notices.setdefault(case_id, reference)
    found: list[dict[str, Any]] = []
    seen: set[uuid.UUID] = set()
    for case, actor, kind in session.execute(query):
        if case.id in seen or case.id not in notices or case.removed_at is None:
            continue
        seen.add(case.id)
        mimes = list(
            session.scalars(select(CaseItem.content_type).where(CaseItem.case_id == case.id))
        )
        found.append(_statement(case, notices[case.id], actor, mimes, kind, hotline))
    return found


def _statement(
    case: Case,
    reference: str,
    actor: str | None,
    mimes: list[str],
    kind: ContentKind | None,
    hotline: str,
) -> dict[str, Any]:
    by_hashes = actor == SYSTEM.label
    assert case.removed_at is not None
    how = (
        "matched known child sexual abuse material in a hash bank"
        if by_hashes
        else "was assessed by a trained analyst as child sexual abuse material"
    )
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": LEGAL_GROUND,
        "illegal_content_explanation": (
            f"The content {how} by {hotline}, a hotline for reports of child sexual abuse "
            "material, which notified the provider."
        )[:2000],
        "content_type": _content_types(mimes, kind),
        "category": CATEGORY,
        "category_specification": [KEYWORD],
        "territorial_scope": list(EEA),
        # When the content was posted is not known; it was online when first reported.
        "content_date": case.first_reported_at.date().isoformat(),
        "application_date": case.removed_at.date().isoformat(),
        "end_date_visibility_restriction": None,
        "decision_facts": (
            f"Notice {reference} from {hotline} reported child sexual abuse material hosted by "
            "the provider; the provider removed it and a re-check confirmed the removal."
        )[:5000],
        "source_type": "SOURCE_TRUSTED_FLAGGER",
        "source_identity": hotline[:500],
        "automated_detection": "Yes" if by_hashes else "No",
        # The provider's own decision on our notice: we do not know that it was automated.
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": _PUID_UNSAFE.sub("-", f"takedown-{reference}")[:500],
    }
