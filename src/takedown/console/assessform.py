"""What the assessment form shows, gathered for one viewer (``console/assess_form.html``).

The case page and the form's own routes (the form alone, the form sent back with its errors)
render the same template; each passes it an ``AssessForm`` built here, so the form never
reaches for template globals and the case page shows the whole form, bank list included, in
one load.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from takedown.assessment import service as assessment
from takedown.assessment.classification import SCHEMES, Decision, Scheme
from takedown.assessment.models import Approval
from takedown.auth.principal import Principal
from takedown.cases.models import Case, CaseItem
from takedown.matching.models import Bank


@dataclass(frozen=True)
class AssessForm:
    """The form of one case, as one viewer may fill it in."""

    case: Case
    items: Sequence[CaseItem]
    # One-time: the resulting timeline event keeps it, so a second POST of this same form
    # (double click, reload) is a no-op (``assessment.service.assess``).
    form_id: str
    # Banks the viewer may add hashes to: empty for those without banks:write.
    banks: Sequence[Bank]
    # A decision on the case waiting for a second person: then there is no form.
    pending: Approval | None
    schemes: Sequence[Scheme] = SCHEMES
    decisions: Sequence[Decision] = tuple(Decision)
    # A form sent back: what was typed, and the errors by field.
    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def new_form_id() -> str:
    return uuid.uuid4().hex


def assess_form(
    session: Session,
    viewer: Principal,
    case: Case,
    items: Sequence[CaseItem],
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    form_id: str = "",
) -> AssessForm:
    """The form for ``case``; ``form_id`` is kept when a refused form is shown again (nothing
    was recorded under it), else a new one is made."""
    offered = assessment.form_context(session, viewer, case)
    return AssessForm(
        case=case,
        items=items,
        form_id=form_id or new_form_id(),
        banks=offered.banks,
        pending=offered.pending,
        values=dict(values or {}),
        errors=dict(errors or {}),
    )
